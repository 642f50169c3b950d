"""Shared test helpers: real servers and synthetic event streams."""
