from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.detect_request import DetectRequest
from ...models.detect_response import DetectResponse
from ...models.error_response import ErrorResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: DetectRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/detect",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DetectResponse | ErrorResponse | None:
    if response.status_code == 200:
        response_200 = DetectResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 409:
        response_409 = ErrorResponse.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorResponse.from_dict(response.json())

        return response_413

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorResponse.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DetectResponse | ErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: DetectRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[DetectResponse | ErrorResponse]:
    """Detect anomalies in a batch of events

     Appends the events to the stream, in order, and returns the anomalies found among them. At most 1000
    events and 10 MB per request. A retry that carries the same `Idempotency-Key` returns the first
    answer and ingests nothing twice.

    Args:
        idempotency_key (str | Unset):
        body (DetectRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetectResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: DetectRequest,
    idempotency_key: str | Unset = UNSET,
) -> DetectResponse | ErrorResponse | None:
    """Detect anomalies in a batch of events

     Appends the events to the stream, in order, and returns the anomalies found among them. At most 1000
    events and 10 MB per request. A retry that carries the same `Idempotency-Key` returns the first
    answer and ingests nothing twice.

    Args:
        idempotency_key (str | Unset):
        body (DetectRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetectResponse | ErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: DetectRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[DetectResponse | ErrorResponse]:
    """Detect anomalies in a batch of events

     Appends the events to the stream, in order, and returns the anomalies found among them. At most 1000
    events and 10 MB per request. A retry that carries the same `Idempotency-Key` returns the first
    answer and ingests nothing twice.

    Args:
        idempotency_key (str | Unset):
        body (DetectRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetectResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: DetectRequest,
    idempotency_key: str | Unset = UNSET,
) -> DetectResponse | ErrorResponse | None:
    """Detect anomalies in a batch of events

     Appends the events to the stream, in order, and returns the anomalies found among them. At most 1000
    events and 10 MB per request. A retry that carries the same `Idempotency-Key` returns the first
    answer and ingests nothing twice.

    Args:
        idempotency_key (str | Unset):
        body (DetectRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetectResponse | ErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
