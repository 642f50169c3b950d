"""Tests of the embedded engine: its service layer, HTTP app, transports and `driftlock serve`."""
