"""Our `openapi.yaml` stays wire-compatible with the vendor's published spec.

Every operation we cover must exist there with the same method, path, parameters and
request-body fields, and every response field we declare must exist there with a compatible
type. Compatible means what the vendor's server sends parses with our schema (responses), and
what the SDK sends is accepted by theirs (requests). Anything else must be listed, with its
reason, in `openapi-differences.yaml`; a listed difference that no longer exists fails too, so
the list stays true.

Error statuses we document beyond the vendor's are not differences when their body is the
error envelope, which the vendor's API uses for every error. The vendor's spec marks almost
nothing `required`; ours marks what servers always send, so the generated models are not a sea
of `Unset`. `required` is therefore not compared here: the facade turns a missing field into a
typed error instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
OURS_PATH = ROOT / "openapi.yaml"
REFERENCE_PATH = ROOT.parent / "shared" / "reference" / "driftlock-openapi.yaml"
DIFFERENCES_PATH = ROOT / "openapi-differences.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

Schema = dict[str, Any]


def _load(path: Path) -> dict[str, Any]:
    with path.open() as stream:
        loaded: dict[str, Any] = yaml.safe_load(stream)
    return loaded


@dataclass(frozen=True)
class Spec:
    """A loaded spec with `$ref` resolution and `allOf` flattening."""

    document: dict[str, Any]

    def deref(self, node: Schema) -> Schema:
        seen = 0
        while "$ref" in node:
            seen += 1
            assert seen < 50, f"$ref cycle at {node['$ref']}"
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            # Keywords beside a $ref (nullable, description) stay with the resolved node.
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def schema(self, node: Schema | None) -> Schema:
        """The effective schema: refs resolved, `allOf` parts merged into one object."""
        if node is None:
            return {}
        node = self.deref(node)
        if "allOf" not in node:
            return node
        merged: Schema = {k: v for k, v in node.items() if k != "allOf"}
        properties: dict[str, Schema] = {}
        for part in node["allOf"]:
            resolved = self.schema(part)
            properties.update(resolved.get("properties", {}))
            for key, value in resolved.items():
                if key not in ("properties", "required", "description"):
                    merged.setdefault(key, value)
        if properties:
            merged["properties"] = properties
        return merged

    def operations(self) -> Iterator[tuple[str, str, Schema]]:
        for path, item in self.document["paths"].items():
            for method in METHODS:
                if method in item:
                    yield method.upper(), path, item[method]

    def operation(self, method: str, path: str) -> Schema | None:
        found: Schema | None = self.document["paths"].get(path, {}).get(method.lower())
        return found

    def parameters(self, operation: Schema) -> dict[tuple[str, str], Schema]:
        return {
            (p["in"], p["name"]): p
            for p in (self.deref(raw) for raw in operation.get("parameters", []))
        }

    def body_schema(self, holder: Schema | None) -> Schema | None:
        """The JSON schema of a request body or response, or None when it has no JSON body."""
        if holder is None:
            return None
        holder = self.deref(holder)
        media = holder.get("content", {}).get("application/json")
        if media is None or "schema" not in media:
            return None
        return self.schema(media["schema"])


def _compare(
    ours: Spec, theirs: Spec, mine: Schema, reference: Schema, where: str, direction: str
) -> Iterator[str]:
    """Yield one difference string per incompatibility below `where`.

    direction is "response" (ours must accept all the reference produces) or "request"
    (the reference must accept all ours produces).
    """
    mine, reference = ours.schema(mine), theirs.schema(reference)
    ref_type, my_type = reference.get("type"), mine.get("type")
    if ref_type is None:
        return  # free-form on their side: anything is compatible
    if my_type is None:
        if direction == "request" or mine.get("properties"):
            yield f"{where}: untyped here, {ref_type} there"
        return
    # Wider on the receiving side is compatible: number accepts integer, not the reverse.
    widening = (direction, my_type, ref_type) in {
        ("response", "number", "integer"),
        ("request", "integer", "number"),
    }
    if my_type != ref_type and not widening:
        yield f"{where}: type {my_type} here, {ref_type} there"
        return
    if reference.get("nullable") and not mine.get("nullable") and direction == "response":
        yield f"{where}: not nullable here, nullable there"
    ref_format, my_format = reference.get("format"), mine.get("format")
    if my_format != ref_format and (direction == "request" or my_format is not None):
        yield f"{where}: format {my_format} here, {ref_format} there"
    ref_enum, my_enum = reference.get("enum"), mine.get("enum")
    if (
        direction == "response"
        and my_enum is not None
        and (ref_enum is None or not set(ref_enum) <= set(my_enum))
    ):
        yield f"{where}: enum {my_enum} here does not accept all of {ref_enum}"
    if (
        direction == "request"
        and (my_enum is not None or ref_enum is not None)
        and (my_enum is None or not set(my_enum) <= set(ref_enum or []))
    ):
        yield f"{where}: enum {my_enum} here, {ref_enum} there"
    if my_type == "array":
        yield from _compare(
            ours, theirs, mine.get("items", {}), reference.get("items", {}), f"{where}[]", direction
        )
    if my_type == "object":
        ref_props: dict[str, Schema] = reference.get("properties", {})
        for name, sub in mine.get("properties", {}).items():
            if name not in ref_props:
                yield f"{where}.{name}: not there"
            else:
                yield from _compare(
                    ours, theirs, sub, ref_props[name], f"{where}.{name}", direction
                )
        if direction == "request":
            for name in ref_props.keys() - mine.get("properties", {}).keys():
                yield f"{where}.{name}: missing here"
        my_extra, ref_extra = (
            mine.get("additionalProperties"),
            reference.get("additionalProperties"),
        )
        if isinstance(my_extra, dict) and isinstance(ref_extra, dict):
            yield from _compare(ours, theirs, my_extra, ref_extra, f"{where}.*", direction)


def _differences(ours: Spec, theirs: Spec) -> Iterator[str]:
    error_envelope = ours.schema({"$ref": "#/components/schemas/ErrorResponse"})
    for method, path, operation in ours.operations():
        label = f"{method} {path}"
        reference = theirs.operation(method, path)
        if reference is None:
            yield f"{label}: operation not there"
            continue
        my_params, ref_params = ours.parameters(operation), theirs.parameters(reference)
        for key in my_params.keys() | ref_params.keys():
            where = f"{label} {key[0]} parameter {key[1]}"
            if key not in ref_params:
                yield f"{where}: not there"
            elif key not in my_params:
                yield f"{where}: missing here"
            else:
                mine, ref = my_params[key], ref_params[key]
                if bool(mine.get("required")) != bool(ref.get("required")):
                    yield f"{where}: required differs"
                yield from _compare(
                    ours, theirs, mine.get("schema", {}), ref.get("schema", {}), where, "request"
                )
        my_body = ours.body_schema(operation.get("requestBody"))
        ref_body = theirs.body_schema(reference.get("requestBody"))
        if (my_body is None) != (ref_body is None):
            yield f"{label} request body: present on one side only"
        elif my_body is not None and ref_body is not None:
            yield from _compare(ours, theirs, my_body, ref_body, f"{label} request", "request")
        for status, response in operation.get("responses", {}).items():
            mine_schema = ours.body_schema(response)
            if mine_schema is None or (status >= "400" and mine_schema == error_envelope):
                # api.md: every error of the API carries the envelope, documented or not.
                continue
            ref_response = reference.get("responses", {}).get(status)
            if ref_response is None:
                yield f"{label} {status}: status not there"
                continue
            ref_schema = theirs.body_schema(ref_response)
            where = f"{label} {status}"
            if ref_schema is None:
                yield f"{where}: no body there"
            else:
                yield from _compare(ours, theirs, mine_schema, ref_schema, where, "response")


@pytest.fixture(scope="module")
def specs() -> tuple[Spec, Spec]:
    assert REFERENCE_PATH.exists(), f"the vendor's spec is expected at {REFERENCE_PATH}"
    return Spec(_load(OURS_PATH)), Spec(_load(REFERENCE_PATH))


def test_every_difference_from_the_vendor_spec_is_listed_with_a_reason(
    specs: tuple[Spec, Spec],
) -> None:
    found = set(_differences(*specs))
    listed: dict[str, str] = _load(DIFFERENCES_PATH)["differences"]
    assert all(isinstance(reason, str) and reason.strip() for reason in listed.values())
    unlisted = sorted(found - listed.keys())
    stale = sorted(listed.keys() - found)
    assert not unlisted, (
        "differences from the vendor's spec not listed in openapi-differences.yaml:\n"
        + "\n".join(unlisted)
    )
    assert not stale, "listed differences that no longer exist:\n" + "\n".join(stale)


def test_every_operation_we_cover_is_in_the_vendor_spec(specs: tuple[Spec, Spec]) -> None:
    ours, theirs = specs
    missing = [f"{m} {p}" for m, p, _ in ours.operations() if theirs.operation(m, p) is None]
    assert missing == []


def test_the_checker_catches_a_changed_field_type(specs: tuple[Spec, Spec]) -> None:
    ours, theirs = specs
    changed = yaml.safe_load(OURS_PATH.read_text())
    changed["components"]["schemas"]["DetectResponse"]["properties"]["total_events"] = {
        "type": "string"
    }
    changed["components"]["schemas"]["DetectRequest"]["properties"]["priority"] = {
        "type": "integer"
    }
    found = set(_differences(Spec(changed), theirs)) - set(_differences(ours, theirs))
    assert found == {
        "POST /v1/detect 200.total_events: type string here, integer there",
        "POST /v1/demo/detect 200.total_events: type string here, integer there",
        "POST /v1/detect request.priority: not there",
        "POST /v1/demo/detect request.priority: not there",
    }
