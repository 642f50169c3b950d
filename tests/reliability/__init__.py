"""Reliability and security: faults, hostile input, secrets, shutdown (issue 9)."""
