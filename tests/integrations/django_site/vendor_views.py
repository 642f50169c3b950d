"""The views of the vendor's Django page, as written (only the elided parts filled in)."""

import asyncio

from django.conf import settings
from django.http import JsonResponse

from driftlock import DriftlockClient


# Async Support
async def my_async_view(request):
    # Driftlock middleware automatically captures this request
    await asyncio.sleep(0.1)
    return JsonResponse({"status": "ok"})


# Manual Detection in Views
client = DriftlockClient(api_key=settings.DRIFTLOCK["API_KEY"])


def process_payment(request):
    amount = request.POST.get("amount")

    # Check for anomalies before processing
    result = client.detect_sync(
        stream_id="payments", events=[{"type": "payment", "body": {"amount": amount}}]
    )

    if result.anomalies:
        return JsonResponse({"error": "Suspicious activity detected"}, status=403)

    # Process payment...
    return JsonResponse({"status": "processed"})


# Customizing Events
def my_view(request):
    request.driftlock_context = {
        "user_tier": request.user.profile.tier,
        "ip_address": request.META.get("REMOTE_ADDR"),
    }
    # ...
    return JsonResponse({"status": "ok"})
