"""The vendor's Celery ``views.py``, as written (only the elided logic filled in)."""

import time
from datetime import datetime

from django.http import JsonResponse

from tests.integrations.django_site.vendor_tasks import detect_anomaly_task


def my_view(request):
    # ... logic ...
    started = time.perf_counter()
    duration = time.perf_counter() - started
    detect_anomaly_task.delay(
        {
            "timestamp": datetime.now().isoformat(),
            "type": "job_metric",
            "body": {"duration": duration},
        }
    )
    return JsonResponse({"status": "queued"})
