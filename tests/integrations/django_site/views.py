"""Views with the kinds of routes and responses the middleware must handle."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator, Iterator

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)

from tests.integrations.support import BOOM

# Set by over-HTTP tests: the async streamed view waits for it after its first chunk.
stream_gate = threading.Event()


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "hello"})


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    request.driftlock_context = {"tenant": "acme", "status_code": -1}  # type: ignore[attr-defined]
    return JsonResponse({"item_id": item_id})


async def async_item(request: HttpRequest, item_id: int) -> JsonResponse:
    await asyncio.sleep(0)
    request.driftlock_context = {"stack": "async"}  # type: ignore[attr-defined]
    return JsonResponse({"item_id": item_id})


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username() or None})


def order(request: HttpRequest, user_id: str, order_id: int) -> JsonResponse:
    return JsonResponse({"user": user_id, "order": order_id})


def boom(request: HttpRequest) -> HttpResponse:
    raise BOOM


def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(json.loads(request.body))


def unread(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"read": "nothing"})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        yield b"second\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()
            if i == 0 and request.GET.get("wait"):
                await asyncio.to_thread(stream_gate.wait, 60)

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def download(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"x" * 1000), filename="x.bin")


def legacy(request: HttpRequest, year: str) -> JsonResponse:
    return JsonResponse({"year": year})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
