"""Serve an ASGI app on 127.0.0.1 in a background thread: the package's own helper."""

from driftlock._serving import serve_asgi

__all__ = ["serve_asgi"]
