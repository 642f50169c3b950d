"""The Flask extension with Flask's test client, delivering to a served engine."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from flask import Blueprint, Flask, abort, g, stream_with_context
from flask.testing import FlaskClient

from driftlock import DriftlockSyncClient
from driftlock._capture import InvalidOptionError
from driftlock.flask import Driftlock, get_client
from driftlock.wsgi import DriftlockWSGIMiddleware
from tests.conftest import ServedEngine
from tests.integrations.support import BOOM, Boom, ingested, recorder
from tests.integrations.wsgi_support import ROOT


def shop(**config: Any) -> Flask:
    """A small Flask app; ``config`` goes to ``app.config`` before the extension reads it."""
    app = Flask(__name__)
    app.config.update(config)

    @app.get("/")
    def index() -> dict[str, str]:
        return {"message": "hello"}

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        g.driftlock_context = {"tenant": "acme", "status_code": -1}
        return {"item_id": item_id}

    @app.get("/missing")
    def missing() -> None:
        abort(404)

    @app.get("/boom")
    def boom() -> None:
        g.driftlock_context = {"tenant": "acme"}
        raise BOOM

    @app.get("/stream")
    def stream() -> Any:
        def lines() -> Any:
            g.driftlock_context = {"streamed": True}
            yield "a\n"
            yield "b\n"

        return stream_with_context(lines())

    @app.post("/detect")
    def detect() -> dict[str, int]:
        result = get_client().detect(stream_id="flask-views", events=[{"type": "view"}])
        return {"total": result.total_events}

    users = Blueprint("users", __name__, url_prefix="/api/users")

    @users.get("/<user_id>/orders/<int:order_id>")
    def order(user_id: str, order_id: int) -> dict[str, str]:
        return {"user": user_id}

    app.register_blueprint(users)
    return app


def engine_config(served: ServedEngine, **extra: Any) -> dict[str, Any]:
    return {"DRIFTLOCK_API_KEY": served.api_key, "DRIFTLOCK_BASE_URL": served.url, **extra}


def middleware_of(app: Flask) -> DriftlockWSGIMiddleware:
    middleware = app.extensions["driftlock"]
    assert isinstance(middleware, DriftlockWSGIMiddleware)
    return middleware


def get(client: FlaskClient, path: str, **kwargs: Any) -> Any:
    """A request whose response is closed, as a server closes it (the event is then queued)."""
    with client.get(path, **kwargs) as response:
        response.get_data()
        return response


def test_events_carry_the_url_rule_and_g_context(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop(**engine_config(served_engine, DRIFTLOCK_STREAM_ID="flask-shape"))
    Driftlock(app, event_hook=recorder(events))
    client = app.test_client()
    response = get(client, "/items/42?color=red", headers={"User-Agent": "flask-test"})
    assert response.json == {"item_id": 42}
    get(client, "/api/users/ann/orders/7")
    get(client, "/missing")
    get(client, "/nowhere")
    assert get(client, "/stream").data == b"a\nb\n"
    with app.app_context():  # a context around the request (tests do this): its g serves
        get(client, "/items/7")
    assert middleware_of(app).flush()
    body = events[0]["body"]
    assert body["route"] == "/items/<int:item_id>"
    assert body["path"] == "/items/42"
    assert body["status_code"] == 200
    assert body["tenant"] == "acme"
    assert body["user_agent"] == "flask-test"
    assert body["query_keys"] == ["color"]
    assert body["response_bytes"] == len(response.data)
    routes = [(e["body"]["route"], e["body"]["status_code"]) for e in events[1:]]
    assert routes == [
        ("/api/users/<user_id>/orders/<int:order_id>", 200),
        ("/missing", 404),
        (None, 404),
        ("/stream", 200),
        ("/items/<int:item_id>", 200),
    ]
    assert events[-2]["body"]["streamed"] is True
    assert events[-1]["body"]["tenant"] == "acme"
    assert ingested(served_engine.url, served_engine.api_key, "flask-shape") == 6
    middleware_of(app).close()


def test_view_exceptions_are_recorded_handled_or_propagated(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop(**engine_config(served_engine))
    Driftlock(app, event_hook=recorder(events))
    assert get(app.test_client(), "/boom").status_code == 500  # Flask's own 500 page
    app.testing = True  # exceptions now propagate through the middleware, unchanged
    with pytest.raises(Boom) as raised:
        app.test_client().get("/boom")
    assert raised.value is BOOM
    middleware_of(app).close()
    # A propagated exception never starts a response: the rule and g are noted all the same.
    assert [
        (e["body"]["status_code"], e["body"]["exception"], e["body"]["route"], e["body"]["tenant"])
        for e in events
    ] == [(500, "Boom", "/boom", "acme"), (500, "Boom", "/boom", "acme")]


def test_a_middleware_inside_the_extension_may_answer_without_flask(
    served_engine: ServedEngine,
) -> None:
    events: list[dict[str, Any]] = []
    app = shop(**engine_config(served_engine))
    flask_wsgi_app = app.wsgi_app

    def health_checks(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/healthz":  # answered before Flask has any context
            start_response("204 No Content", [])
            return []
        return flask_wsgi_app(environ, start_response)

    app.wsgi_app = health_checks  # type: ignore[method-assign]
    Driftlock(app, event_hook=recorder(events))
    client = app.test_client()
    get(client, "/healthz")
    get(client, "/items/3")
    assert middleware_of(app).close()
    assert [(e["body"]["path"], e["body"]["status_code"], e["body"]["route"]) for e in events] == [
        ("/healthz", 204, None),
        ("/items/3", 200, "/items/<int:item_id>"),
    ]
    assert events[1]["body"]["tenant"] == "acme"


def test_config_keys_set_every_option_and_win_over_arguments(served_engine: ServedEngine) -> None:
    events: list[dict[str, Any]] = []
    app = shop(
        **engine_config(
            served_engine,
            DRIFTLOCK_STREAM_ID="flask-config",
            DRIFTLOCK_EXCLUDE_PATHS=["/api"],
            DRIFTLOCK_CAPTURE_CLIENT=True,
            DRIFTLOCK_EVENT_HOOK=recorder(events),
        )
    )
    Driftlock(app, stream_id="overridden", sample_rate=1.0)
    client = app.test_client()
    for path in ("/", "/api/users/ann/orders/1", "/items/1"):
        get(client, path)
    assert middleware_of(app).close()
    assert [e["body"]["path"] for e in events] == ["/", "/items/1"]
    assert events[0]["body"]["client"] == "127.0.0.1"
    assert ingested(served_engine.url, served_engine.api_key, "flask-config") == 2


def test_unknown_or_invalid_settings_are_named(served_engine: ServedEngine) -> None:
    app = shop(**engine_config(served_engine, DRIFTLOCK_EXCLUDE_PATH=["/docs"]))
    with pytest.raises(InvalidOptionError, match=r"DRIFTLOCK_EXCLUDE_PATHS") as raised:
        Driftlock(app)
    assert "app.config['DRIFTLOCK_EXCLUDE_PATH'] is not a Driftlock option" in str(raised.value)
    app = shop(**engine_config(served_engine, DRIFTLOCK_SAMPLE_RATE=5))
    with pytest.raises(InvalidOptionError, match="sample_rate") as raised:
        Driftlock(app)
    assert raised.value.option == "sample_rate"
    with pytest.raises(InvalidOptionError, match="stream_ids="):
        Driftlock(stream_ids="x")


def test_app_factory_one_extension_many_apps_idempotent(served_engine: ServedEngine) -> None:
    driftlock = Driftlock(flush_interval=3600)
    first = shop(**engine_config(served_engine, DRIFTLOCK_STREAM_ID="flask-first"))
    second = shop(**engine_config(served_engine, DRIFTLOCK_STREAM_ID="flask-second"))
    for app in (first, second):
        driftlock.init_app(app)
    wrapped = first.wsgi_app
    driftlock.init_app(first)  # again: nothing changes
    assert first.wsgi_app is wrapped
    assert middleware_of(first) is wrapped
    assert not isinstance(middleware_of(first).app, DriftlockWSGIMiddleware)  # wrapped once
    assert middleware_of(first) is not middleware_of(second)
    get(first.test_client(), "/")
    for _ in range(2):
        get(second.test_client(), "/")
    assert middleware_of(first).close()
    assert middleware_of(second).close()
    assert ingested(served_engine.url, served_engine.api_key, "flask-first") == 1
    assert ingested(served_engine.url, served_engine.api_key, "flask-second") == 2


def test_get_client_is_the_apps_sync_client(served_engine: ServedEngine) -> None:
    app = shop(**engine_config(served_engine))
    Driftlock(app)
    with app.app_context():
        assert isinstance(get_client(), DriftlockSyncClient)
        assert get_client() is middleware_of(app).client
    assert get_client(app) is middleware_of(app).client
    with app.test_client().post("/detect") as response:
        assert response.json == {"total": 1}
    assert ingested(served_engine.url, served_engine.api_key, "flask-views") == 1
    bare = Flask(__name__)
    with bare.app_context(), pytest.raises(RuntimeError, match="init_app"):
        get_client()
    middleware_of(app).close()


def test_a_clear_install_hint_without_flask() -> None:
    code = (
        "import sys\n"
        "sys.modules['flask'] = None\n"  # as if the extra were not installed
        "try:\n"
        "    import driftlock.flask\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "import driftlock.wsgi\n"  # the WSGI middleware needs no framework
        "print(driftlock.wsgi.DriftlockWSGIMiddleware.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'driftlock[flask]'" in out
    assert out.strip().endswith("DriftlockWSGIMiddleware")
