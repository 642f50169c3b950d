"""The result types: immutable, plain, and convertible back to the API's shape."""

from __future__ import annotations

import dataclasses
import json

import pytest

from driftlock import DriftlockSyncClient
from driftlock.models import DetectResult
from tests.client.conftest import Script, json_response, ok_detect_body

ANOMALY = {
    "id": "a1",
    "index": 0,
    "detected": True,
    "why": "odd",
    "event": {"type": "t"},
    "metrics": {"ncd": 0.5, "p_value": 0.01, "confidence_level": 0.99, "Novel": 1},
}


def result_from(body: dict[str, object]) -> DetectResult:
    script = Script(json_response(200, body))
    with DriftlockSyncClient(api_key="k", transport=script.transport) as client:
        return client.detect(events=[{"type": "t"}])


def test_results_are_immutable() -> None:
    result = result_from(ok_detect_body(anomalies=[ANOMALY], later="x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.anomalies[0].metrics.ncd = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.extra["later"] = "y"  # type: ignore[index]
    assert isinstance(result.anomalies, list)


def test_to_dict_gives_back_the_api_shape_with_extras() -> None:
    body = ok_detect_body(anomalies=[ANOMALY], later="x")
    result = result_from(body)
    plain = result.to_dict()
    json.dumps(plain)  # plain values only
    assert plain["later"] == "x"
    assert plain["anomalies"][0]["metrics"]["Novel"] == 1
    assert plain["anomalies"][0]["metrics"]["ncd"] == 0.5
    assert plain["calibration"] == {**body["calibration"], "message": None}  # type: ignore[dict-item]


def test_results_compare_by_value() -> None:
    body = ok_detect_body(anomalies=[ANOMALY])
    assert result_from(body) == result_from(body)
