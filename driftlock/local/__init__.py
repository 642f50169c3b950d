"""The embedded Driftlock engine: compression-based anomaly detection that runs in-process."""

from driftlock.local.app import DriftlockApp, create_app
from driftlock.local.engine import Engine, EngineError
from driftlock.local.transport import AsyncLocalTransport, LocalTransport, get_engine

__all__ = [
    "AsyncLocalTransport",
    "DriftlockApp",
    "Engine",
    "EngineError",
    "LocalTransport",
    "create_app",
    "get_engine",
]
