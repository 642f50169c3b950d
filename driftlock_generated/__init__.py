"""A client library for accessing Driftlock API (SDK surface)"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
