"""Flask: the ``Driftlock`` extension, and ``get_client()`` for views.

``Driftlock(app)`` (or ``driftlock.init_app(app)`` in an app factory) wraps ``app.wsgi_app`` in
:class:`~driftlock.wsgi.DriftlockWSGIMiddleware`: every request becomes an event, delivered by a
background thread. The route is the URL rule (``/items/<int:item_id>``), and a view adds fields
to its request's event with ``g.driftlock_context = {...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

try:
    from flask import Flask, current_app, g, got_request_exception, request
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without flask
    raise ImportError(
        "driftlock.flask needs Flask; install it with: pip install 'driftlock[flask]'"
    ) from exc

from driftlock._client import DriftlockSyncClient
from driftlock.wsgi import (
    EXCEPTION_KEY,
    OPTION_NAMES,
    ROUTE_KEY,
    DriftlockWSGIMiddleware,
    ExcInfo,
    _Exchange,
    check_option_names,
)

__all__ = ["CONFIG_PREFIX", "EXTENSION_KEY", "Driftlock", "get_client"]

EXTENSION_KEY = "driftlock"
"""Where an app keeps its :class:`~driftlock.wsgi.DriftlockWSGIMiddleware`: ``app.extensions``."""

CONFIG_PREFIX = "DRIFTLOCK_"

# Where the request's ``g`` waits for the end of the request, once its context is gone.
_G_KEY = "driftlock.flask.g"
# Where werkzeug's request object puts itself, until Flask pops the request's context.
_REQUEST_KEY = "werkzeug.request"


class Driftlock:
    """The Flask extension: ``Driftlock(app, **options)``, or ``Driftlock(**options)`` then
    ``init_app(app)`` for each app an app factory makes.

    Options are those of :class:`~driftlock.wsgi.DriftlockWSGIMiddleware` (``api_key``,
    ``stream_id``, ``exclude_paths``, ``base_url``, ``sample_rate``, ``batch_size``,
    ``flush_interval``, ``max_queue_size``, ``flush_timeout``, ...). Each app's config may set
    any of them in upper case with the ``DRIFTLOCK_`` prefix (``DRIFTLOCK_API_KEY``,
    ``DRIFTLOCK_STREAM_ID``, ``DRIFTLOCK_EXCLUDE_PATHS``, ...); the app's config wins over the
    arguments given here, which are the defaults for every app. Unset, the client's settings
    come from the environment (``DRIFTLOCK_API_KEY``, ``DRIFTLOCK_BASE_URL``, ...).

    ``init_app`` is idempotent. The app's middleware is ``app.extensions["driftlock"]``
    (``stats()``, ``flush()``, ``close()``); :func:`get_client` gives views its client. The
    event's route is the URL rule Flask matched (``/items/<int:item_id>``), and a view adds
    fields with ``g.driftlock_context = {...}``. An unknown
    ``DRIFTLOCK_`` key or an invalid value raises
    :class:`~driftlock._capture.InvalidOptionError` naming it.

    As under any WSGI server, a request's event is recorded when its response is closed: with
    Flask's test client, ``with client.get(...) as response:`` (or ``response.close()``).
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        check_option_names(options, lambda name: f"{name}=", OPTION_NAMES)
        self.options = options
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"Driftlock(options={sorted(self.options)})"

    def init_app(self, app: Flask) -> None:
        """Capture ``app``'s requests (once: a second call for the same app changes nothing)."""
        if EXTENSION_KEY in app.extensions:
            return
        from_config = {
            key[len(CONFIG_PREFIX) :].lower(): value
            for key, value in app.config.items()
            if key.startswith(CONFIG_PREFIX)
        }
        check_option_names(
            from_config, lambda name: f"app.config[{CONFIG_PREFIX + name.upper()!r}]", OPTION_NAMES
        )
        middleware = _FlaskMiddleware(app.wsgi_app, **{**self.options, **from_config})
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = middleware
        got_request_exception.connect(_note_exception, app, weak=False)


class _FlaskExchange(_Exchange):
    """A request in flight in a Flask app."""

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        """Flask starts the response in the request's context: note what the event needs
        from it now, it is gone by the time the server closes the response."""
        _note_request(self.environ)
        return _Exchange.start_response(self, status, headers, exc_info)


class _FlaskMiddleware(DriftlockWSGIMiddleware):
    """The WSGI middleware, reading the URL rule and ``g.driftlock_context`` from what the
    request left in the environ. Flask's request hooks (``teardown_request``) or a property
    on the request class (Flask reads ``url_rule`` several times per request) would cost
    every request more than noting them when the response starts."""

    _exchange_class = _FlaskExchange

    @staticmethod
    def describe(environ: Mapping[str, Any]) -> tuple[str | None, Any, str | None]:
        """The URL rule, ``g.driftlock_context``, and the exception Flask turned into a 500."""
        request_g = environ.get(_G_KEY)
        return (
            environ.get(ROUTE_KEY),
            # Not getattr(g, ...): an unset attribute of g raises twice inside Flask, at a cost.
            None if request_g is None else request_g.__dict__.get("driftlock_context"),
            environ.get(EXCEPTION_KEY),
        )


def _note_request(environ: dict[str, Any]) -> None:
    """Note, while the request's context is there, its URL rule and its ``g``."""
    # Flask's request, or none; or werkzeug's plain one, made by a middleware inside ours.
    rule = getattr(environ.get(_REQUEST_KEY), "url_rule", None)
    if rule is not None:
        environ[ROUTE_KEY] = rule.rule
    try:  # noqa: SIM105 - contextlib.suppress costs every request two more calls
        environ[_G_KEY] = g._get_current_object()
    except RuntimeError:  # no app context: the response comes from a middleware inside ours
        pass


def _note_exception(sender: Flask, exception: Exception, **extra: Any) -> None:
    """``got_request_exception`` receiver: the name of an exception Flask answers with a 500
    (or lets through, never starting a response: so the rule and ``g`` are noted here too)."""
    environ = request.environ
    environ[EXCEPTION_KEY] = type(exception).__name__
    _note_request(environ)


def get_client(app: Flask | None = None) -> DriftlockSyncClient:
    """The :class:`~driftlock.DriftlockSyncClient` of ``app`` (default: the current app),
    configured like its middleware: ``get_client().detect(stream_id=..., events=[...])``.

    Raises ``RuntimeError`` when :class:`Driftlock` was not set up for the app.
    """
    target: Any = current_app if app is None else app
    middleware = target.extensions.get(EXTENSION_KEY)
    if not isinstance(middleware, DriftlockWSGIMiddleware):
        raise RuntimeError(
            "Driftlock is not set up for this Flask app: call Driftlock(app) or "
            "driftlock.init_app(app) first"
        )
    return middleware.client
