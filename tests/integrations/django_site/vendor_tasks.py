"""The vendor's Celery ``tasks.py``, as written."""

from celery import shared_task

from driftlock import DriftlockSyncClient


@shared_task
def detect_anomaly_task(event_data):
    client = DriftlockSyncClient(api_key="...")
    client.detect(stream_id="background-jobs", events=[event_data])
