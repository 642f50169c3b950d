"""A Flask shop API monitored by Driftlock: every request becomes an event.

Run it on the embedded engine (no key, no network)::

    flask --app examples.flask_app run --port 5000      # or: python examples/flask_app.py

under a production WSGI server::

    gunicorn --workers 2 examples.flask_app:app

or against any Driftlock server::

    DRIFTLOCK_BASE_URL=http://127.0.0.1:8080 DRIFTLOCK_API_KEY=dlk_... \\
        gunicorn examples.flask_app:app

Settings (environment): ``DRIFTLOCK_BASE_URL`` (default ``local://``), ``DRIFTLOCK_API_KEY``,
``DRIFTLOCK_STREAM_ID`` (default ``flask-example``), ``DRIFTLOCK_BATCH_SIZE`` and
``DRIFTLOCK_FLUSH_INTERVAL``, copied into the app's config, where the extension reads them.
``GET /driftlock/stats`` shows the delivery counters and ``GET /driftlock/anomalies`` what
Driftlock reported so far.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, current_app, g, request

from driftlock.exceptions import DriftlockError, RateLimitError
from driftlock.flask import Driftlock, get_client

logger = logging.getLogger("driftlock.example")

# What on_anomaly saw, newest last: a real app would page someone instead.
recent_anomalies: deque[dict[str, Any]] = deque(maxlen=200)


def remember_anomalies(result: Any) -> None:
    """on_anomaly callback: runs on the delivery thread after a batch showed anomalies."""
    for anomaly in result.anomalies:
        event = anomaly.event if isinstance(anomaly.event, dict) else {}
        body = event.get("body") or {}
        recent_anomalies.append(
            {
                "timestamp": event.get("timestamp"),
                "route": body.get("route"),
                "status_code": body.get("status_code"),
                "why": anomaly.why,
            }
        )
        logger.warning("Driftlock anomaly on %s: %s", body.get("route"), anomaly.why)


# One extension object for every app the factory makes (tests make their own apps).
driftlock = Driftlock(exclude_paths=["/driftlock"], on_anomaly=remember_anomalies)

CATALOGUE = {i: {"name": f"item-{i}", "price": round(5 + i * 1.5, 2)} for i in range(1, 51)}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory: settings from the environment, then ``config``."""
    app = Flask(__name__)
    app.config.update(
        DRIFTLOCK_BASE_URL=os.environ.get("DRIFTLOCK_BASE_URL", "local://"),
        DRIFTLOCK_STREAM_ID=os.environ.get("DRIFTLOCK_STREAM_ID", "flask-example"),
        DRIFTLOCK_BATCH_SIZE=int(os.environ.get("DRIFTLOCK_BATCH_SIZE", "100")),
        DRIFTLOCK_FLUSH_INTERVAL=float(os.environ.get("DRIFTLOCK_FLUSH_INTERVAL", "1.0")),
    )
    app.config.update(config or {})
    driftlock.init_app(app)

    @app.get("/")
    def index() -> dict[str, str]:
        """Health of the shop itself."""
        return {"message": "Hello from the Driftlock example shop"}

    @app.get("/items/<int:item_id>")
    def read_item(item_id: int) -> dict[str, Any]:
        """One catalogue item; unknown ids are 404s (a burst of them is worth an alert)."""
        item = CATALOGUE.get(item_id)
        g.driftlock_context = {"item_found": item is not None}
        if item is None:
            abort(404)
        return item

    @app.post("/items")
    def create_item() -> tuple[dict[str, Any], int]:
        """Create an item, checking its payload against the stream of past creations first."""
        item = request.get_json(force=True)
        result = get_client().detect(
            stream_id="flask-example-items", events=[{"type": "create_item", "body": item}]
        )
        if result.anomalies:
            return {"error": "this item looks unlike any other"}, 422
        return {"item": item, "status": "created"}, 201

    @app.get("/checkout")
    def checkout() -> dict[str, Any]:
        """A slower route whose event carries business context."""
        time.sleep(random.uniform(0.005, 0.02))
        cart_size = request.args.get("cart_size", 1, type=int)
        g.driftlock_context = {"cart_size": cart_size}
        return {"status": "paid", "cart_size": cart_size}

    @app.get("/report")
    def report() -> dict[str, Any]:
        """Ask Driftlock directly; a rate limit or an outage must not break the page."""
        try:
            result = get_client().detect(
                stream_id="flask-example-reports", events=[{"type": "report", "body": {"n": 1}}]
            )
        except RateLimitError as exc:
            return {"status": "skipped", "retry_after": exc.retry_after}
        except DriftlockError:
            return {"status": "skipped"}
        return {"status": "checked", "anomalies": result.anomaly_count}

    @app.get("/export")
    def export() -> Response:
        """A streamed CSV: its event is timed until the last row was sent."""
        rows = request.args.get("rows", 5, type=int)

        def lines() -> Iterator[str]:
            yield "id,name,price\n"
            for i in range(1, rows + 1):
                item = CATALOGUE.get(i)
                if item is not None:
                    yield f"{i},{item['name']},{item['price']}\n"

        return Response(lines(), mimetype="text/csv")

    @app.get("/driftlock/stats")
    def driftlock_stats() -> dict[str, int]:
        """The middleware's delivery counters (this path is excluded from capture)."""
        return dict(current_app.extensions["driftlock"].stats().as_dict())

    @app.get("/driftlock/anomalies")
    def driftlock_anomalies() -> list[dict[str, Any]]:
        """What Driftlock reported for this app's traffic so far."""
        return list(recent_anomalies)

    return app


app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
