"""Python SDK for the Driftlock anomaly-detection API.

``DriftlockClient`` (asyncio, with ``detect_sync`` for synchronous callers) and
``DriftlockSyncClient`` talk to the API, or to the embedded engine with ``base_url="local://"``.
Errors are in :mod:`driftlock.exceptions`, result types in :mod:`driftlock.models`.
"""

from driftlock._client import DriftlockClient, DriftlockSyncClient
from driftlock._version import __version__
from driftlock.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DriftlockAPIError,
    DriftlockConfigError,
    DriftlockConnectionError,
    DriftlockError,
    DriftlockResponseError,
    DriftlockTimeoutError,
    DriftlockValidationError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from driftlock.models import Anomaly, AnomalyMetrics, DetectResult

__all__ = [
    "Anomaly",
    "AnomalyMetrics",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DetectResult",
    "DriftlockAPIError",
    "DriftlockClient",
    "DriftlockConfigError",
    "DriftlockConnectionError",
    "DriftlockError",
    "DriftlockResponseError",
    "DriftlockSyncClient",
    "DriftlockTimeoutError",
    "DriftlockValidationError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "__version__",
]
