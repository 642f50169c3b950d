from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Anomaly")


@_attrs_define
class Anomaly:
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
    """

    id: str
    stream_id: str
    detected_at: datetime.datetime
    status: str
    ncd: float
    p_value: float
    confidence: float
    explanation: str
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

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        stream_id = d.pop("stream_id")

        detected_at = datetime.datetime.fromisoformat(d.pop("detected_at"))

        status = d.pop("status")

        ncd = d.pop("ncd")

        p_value = d.pop("p_value")

        confidence = d.pop("confidence")

        explanation = d.pop("explanation")

        anomaly = cls(
            id=id,
            stream_id=stream_id,
            detected_at=detected_at,
            status=status,
            ncd=ncd,
            p_value=p_value,
            confidence=confidence,
            explanation=explanation,
        )

        anomaly.additional_properties = d
        return anomaly

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
