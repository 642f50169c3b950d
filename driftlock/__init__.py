"""Python SDK for the Driftlock anomaly-detection API."""

from driftlock._version import __version__

__all__ = ["__version__"]
