"""Tests of the web-framework integrations and their shared capture and delivery core."""
