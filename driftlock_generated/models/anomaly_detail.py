from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.anomaly_metrics import AnomalyMetrics
    from ..models.evidence import Evidence


T = TypeVar("T", bound="AnomalyDetail")


@_attrs_define
class AnomalyDetail:
    """
    Attributes:
        id (str):
        stream_id (str):
        detected_at (datetime.datetime):
        status (str): open, acknowledged or resolved.
        ncd (float):
        p_value (float):
        confidence (float):
        explanation (str):
        event (Any | Unset): One event: a JSON object. Plain text goes in as {"text": "..."}.
        metrics (AnomalyMetrics | Unset): No key is required: some servers spell them differently (NCD, PValue), and
            those land in additional properties for the SDK to read.
        evidence (list[Evidence] | Unset):
    """

    id: str
    stream_id: str
    detected_at: datetime.datetime
    status: str
    ncd: float
    p_value: float
    confidence: float
    explanation: str
    event: Any | Unset = UNSET
    metrics: AnomalyMetrics | Unset = UNSET
    evidence: list[Evidence] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        stream_id = self.stream_id

        detected_at = self.detected_at.isoformat()

        status = self.status

        ncd = self.ncd

        p_value = self.p_value

        confidence = self.confidence

        explanation = self.explanation

        event = self.event

        metrics: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metrics, Unset):
            metrics = self.metrics.to_dict()

        evidence: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.evidence, Unset):
            evidence = []
            for evidence_item_data in self.evidence:
                evidence_item = evidence_item_data.to_dict()
                evidence.append(evidence_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "stream_id": stream_id,
                "detected_at": detected_at,
                "status": status,
                "ncd": ncd,
                "p_value": p_value,
                "confidence": confidence,
                "explanation": explanation,
            }
        )
        if event is not UNSET:
            field_dict["event"] = event
        if metrics is not UNSET:
            field_dict["metrics"] = metrics
        if evidence is not UNSET:
            field_dict["evidence"] = evidence

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.anomaly_metrics import AnomalyMetrics  # noqa: PLC0415
        from ..models.evidence import Evidence  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        stream_id = d.pop("stream_id")

        detected_at = datetime.datetime.fromisoformat(d.pop("detected_at"))

        status = d.pop("status")

        ncd = d.pop("ncd")

        p_value = d.pop("p_value")

        confidence = d.pop("confidence")

        explanation = d.pop("explanation")

        event = d.pop("event", UNSET)

        _metrics = d.pop("metrics", UNSET)
        metrics: AnomalyMetrics | Unset
        if isinstance(_metrics, Unset):
            metrics = UNSET
        else:
            metrics = AnomalyMetrics.from_dict(_metrics)

        _evidence = d.pop("evidence", UNSET)
        evidence: list[Evidence] | Unset = UNSET
        if _evidence is not UNSET:
            evidence = []
            for evidence_item_data in _evidence:
                evidence_item = Evidence.from_dict(evidence_item_data)

                evidence.append(evidence_item)

        anomaly_detail = cls(
            id=id,
            stream_id=stream_id,
            detected_at=detected_at,
            status=status,
            ncd=ncd,
            p_value=p_value,
            confidence=confidence,
            explanation=explanation,
            event=event,
            metrics=metrics,
            evidence=evidence,
        )

        anomaly_detail.additional_properties = d
        return anomaly_detail

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
