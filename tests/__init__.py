"""Test suite for driftlock-python."""
