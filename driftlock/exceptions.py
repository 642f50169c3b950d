"""Exceptions raised by the Driftlock clients.

Every error the SDK raises is a :class:`DriftlockError`. The tree mirrors what went wrong::

    DriftlockError
    ├── DriftlockConfigError          bad settings, found at construction
    ├── DriftlockValidationError      bad input, found before any request (also a ValueError)
    ├── DriftlockConnectionError      the request never got an answer
    │   └── DriftlockTimeoutError
    └── DriftlockAPIError             the server answered with an error (or an unreadable body)
        ├── BadRequestError           400
        ├── AuthenticationError       401
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── UnprocessableEntityError  422
        ├── RateLimitError            429
        ├── InternalServerError       >= 500
        └── DriftlockResponseError    a success status whose body could not be read

Messages name the operation and the status, never the API key. All exceptions pickle, so they
cross process boundaries (Celery results, multiprocessing) intact.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DriftlockAPIError",
    "DriftlockConfigError",
    "DriftlockConnectionError",
    "DriftlockError",
    "DriftlockResponseError",
    "DriftlockTimeoutError",
    "DriftlockValidationError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
]


class DriftlockError(Exception):
    """Base class of every exception the Driftlock SDK raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the attributes, not by calling __init__ again with the message.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(kind: type[DriftlockError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class DriftlockConfigError(DriftlockError):
    """The client's settings are missing or invalid (raised when the client is built)."""


class DriftlockValidationError(DriftlockError, ValueError):
    """Input the API would reject, caught before any request was sent.

    ``event_index`` is the position of the offending event in the list the caller passed (None
    when the problem is not about one event) and ``field_path`` the dotted path inside it, with
    list positions in brackets (``body.items[2].price``; None for the event itself).
    """

    def __init__(
        self, message: str, *, event_index: int | None = None, field_path: str | None = None
    ) -> None:
        self.event_index = event_index
        self.field_path = field_path
        self.reason = message
        super().__init__(_locate(message, event_index, field_path))


def _locate(message: str, event_index: int | None, field_path: str | None) -> str:
    if event_index is None:
        return f"{field_path}: {message}" if field_path else message
    where = f"event {event_index}"
    if field_path:
        where += f", field {field_path}"
    return f"{where}: {message}"


class DriftlockConnectionError(DriftlockError):
    """No answer from the server: connection refused or reset, DNS failure, TLS failure.

    ``operation`` names the API operation (``detect``, ``anomalies.get``, ...).
    """

    def __init__(self, message: str, *, operation: str = "") -> None:
        self.operation = operation
        super().__init__(message)


class DriftlockTimeoutError(DriftlockConnectionError):
    """The server did not answer within the configured timeout."""


class DriftlockAPIError(DriftlockError):
    """The server answered with an error status (or a body the SDK could not read).

    Attributes: ``status_code``; ``code`` (the API's error code such as ``invalid_argument``,
    or None when the body was not the API's error envelope); ``message`` (the server's
    explanation); ``request_id`` (quote it to support); ``body`` (the decoded JSON body, or the
    text of a non-JSON body, possibly truncated); ``operation``; ``retry_after`` (seconds the
    server asked to wait before trying again, or None).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        operation: str = "",
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.operation = operation
        self.code = code
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"{self.operation} failed" if self.operation else "request failed"
        text = f"{head}: HTTP {self.status_code}"
        if self.code:
            text += f" {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequestError(DriftlockAPIError):
    """HTTP 400: the server rejected the request; ``message`` says which field and why."""


class AuthenticationError(DriftlockAPIError):
    """HTTP 401: the API key is missing or not valid."""


class PermissionDeniedError(DriftlockAPIError):
    """HTTP 403: the API key may not do this."""


class NotFoundError(DriftlockAPIError):
    """HTTP 404: no such anomaly, stream or route."""


class ConflictError(DriftlockAPIError):
    """HTTP 409: for detect, the Idempotency-Key was already used with another body."""


class UnprocessableEntityError(DriftlockAPIError):
    """HTTP 422: the request was well formed but could not be processed."""


class RateLimitError(DriftlockAPIError):
    """HTTP 429: too many requests. ``retry_after`` is the wait the server asked for, in
    seconds (from ``Retry-After`` or the body's ``retry_after_seconds``), or None."""


class InternalServerError(DriftlockAPIError):
    """HTTP 500 or above: the server (or a proxy in front of it) failed."""


class DriftlockResponseError(DriftlockAPIError):
    """The server answered with a success status but a body the SDK could not read (not JSON,
    a required field missing, a value of the wrong type)."""


_BY_STATUS: dict[int, type[DriftlockAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[DriftlockAPIError]:
    """The exception class for an error status: a subclass where one exists, else the base."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, DriftlockAPIError)
