"""`openapi.yaml` is a valid OpenAPI 3.0 document written for clean generated code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")


def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in _spec()["paths"].items()
        for method in METHODS
        if method in item
    ]


def _is_named(schema: dict[str, Any]) -> bool:
    return set(schema) == {"$ref"} and schema["$ref"].startswith("#/components/schemas/")


def test_spec_is_valid_openapi() -> None:
    validate(_spec())


def test_every_operation_has_a_unique_operation_id() -> None:
    ids = [operation.get("operationId") for _, _, operation in _operations()]
    assert None not in ids
    assert len(ids) == len(set(ids))


def test_every_body_is_a_named_component() -> None:
    spec = _spec()
    inline = []
    for method, path, operation in _operations():
        bodies = [("request", operation.get("requestBody"))]
        bodies += [(status, response) for status, response in operation["responses"].items()]
        for where, holder in bodies:
            if holder is None:
                continue
            if "$ref" in holder:  # a shared response component
                holder = spec["components"]["responses"][holder["$ref"].rsplit("/", 1)[1]]
            for media in holder.get("content", {}).values():
                if not _is_named(media["schema"]):
                    inline.append(f"{method} {path} {where}")
    assert inline == []


def test_the_surface_is_the_one_the_sdk_covers() -> None:
    covered = {f"{method} {path}" for method, path, _ in _operations()}
    assert covered == {
        "GET /healthz",
        "GET /readyz",
        "POST /v1/demo/detect",
        "POST /v1/detect",
        "GET /v1/anomalies",
        "GET /v1/anomalies/{id}",
        "POST /v1/anomalies/export",
        "POST /v1/anomalies/{id}/export",
        "POST /v1/anomalies/{id}/feedback",
        "GET /v1/streams/{id}/profile",
        "PATCH /v1/streams/{id}/profile",
        "GET /v1/streams/{id}/tuning",
        "GET /v1/streams/{id}/anchor",
        "DELETE /v1/streams/{id}/anchor",
        "GET /v1/streams/{id}/anchor/details",
        "POST /v1/streams/{id}/reset-anchor",
        "GET /v1/profiles",
    }


def test_rate_limited_answers_document_retry_after_and_the_error_envelope() -> None:
    responses = _spec()["components"]["responses"]
    assert "Retry-After" in responses["RateLimited"]["headers"]
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, name


def test_detect_takes_an_optional_idempotency_key_and_needs_the_api_key() -> None:
    spec = _spec()
    detect = spec["paths"]["/v1/detect"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in detect["parameters"]
    header = spec["components"]["parameters"]["IdempotencyKey"]
    assert (header["in"], header["required"]) == ("header", False)
    assert spec["security"] == [{"ApiKeyAuth": []}]
    assert "security" not in detect
    scheme = spec["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["in"], scheme["name"]) == ("header", "X-Api-Key")
