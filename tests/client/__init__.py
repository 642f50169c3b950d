"""Tests of the client facade: DriftlockClient and DriftlockSyncClient."""
