"""Views of the example shop."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

import driftlock.django
from driftlock import DriftlockClient
from shop.tasks import detect_anomaly_task

# One client for the views that ask Driftlock directly (``detect_sync`` from sync views).
client = DriftlockClient(
    api_key=settings.DRIFTLOCK["API_KEY"], base_url=settings.DRIFTLOCK["BASE_URL"]
)

CATALOGUE = {i: {"name": f"item-{i}", "price": round(5 + i * 1.5, 2)} for i in range(1, 51)}


def index(request: HttpRequest) -> JsonResponse:
    """The shop's front page."""
    return JsonResponse({"message": "Hello from the Driftlock example shop"})


def health(request: HttpRequest) -> HttpResponse:
    """For load balancers (excluded from capture)."""
    return HttpResponse("ok")


def read_item(request: HttpRequest, item_id: int) -> JsonResponse:
    """One catalogue item; its event says whether it existed."""
    item = CATALOGUE.get(item_id)
    request.driftlock_context = {"item_found": item is not None}  # type: ignore[attr-defined]
    if item is None:
        return JsonResponse({"error": "no such item"}, status=404)
    return JsonResponse(item)


async def my_async_view(request: HttpRequest) -> JsonResponse:
    """An async view: the middleware captures it on the ASGI stack without a thread hop."""
    await asyncio.sleep(0.01)
    return JsonResponse({"status": "ok"})


def process_payment(request: HttpRequest) -> JsonResponse:
    """Check a payment against the stream of past payments before processing it."""
    amount = request.POST.get("amount")
    result = client.detect_sync(
        stream_id="payments", events=[{"type": "payment", "body": {"amount": amount}}]
    )
    if result.anomalies:
        return JsonResponse({"error": "Suspicious activity detected"}, status=403)
    return JsonResponse({"status": "processed"})


def my_view(request: HttpRequest) -> JsonResponse:
    """A job whose metric is checked in the background; its request event carries context."""
    started = time.perf_counter()
    request.driftlock_context = {  # type: ignore[attr-defined]
        "user_tier": "member" if request.user.is_authenticated else "anonymous",
        "ip_address": request.META.get("REMOTE_ADDR"),
    }
    duration = time.perf_counter() - started
    detect_anomaly_task.delay(
        {
            "timestamp": datetime.now().isoformat(),
            "type": "job_metric",
            "body": {"duration": duration},
        }
    )
    return JsonResponse({"status": "queued"})


def driftlock_stats(request: HttpRequest) -> JsonResponse:
    """The middleware's delivery counters (this path is excluded from capture)."""
    return JsonResponse(driftlock.django.stats().as_dict())
