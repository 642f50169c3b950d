"""Detection offloaded to a Celery task, when Celery is installed.

Without Celery, ``shared_task`` is a stand-in whose ``.delay()`` runs the task in a thread, so
the example runs as it is; with Celery, the same code runs in a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from driftlock import DriftlockSyncClient

try:
    from celery import shared_task
except ImportError:

    def shared_task(func: Callable[..., Any]) -> Any:
        """Give ``func`` a ``delay()`` that runs it in a thread of its own."""

        def delay(*args: Any, **kwargs: Any) -> None:
            threading.Thread(target=func, args=args, kwargs=kwargs, daemon=True).start()

        func.delay = delay  # type: ignore[attr-defined]
        return func


@shared_task
def detect_anomaly_task(event_data: dict[str, Any]) -> None:
    """Send one job's event to the ``background-jobs`` stream."""
    with DriftlockSyncClient(
        api_key=settings.DRIFTLOCK["API_KEY"], base_url=settings.DRIFTLOCK["BASE_URL"]
    ) as client:
        client.detect(stream_id="background-jobs", events=[event_data])
