from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.anomaly_metrics import AnomalyMetrics


T = TypeVar("T", bound="AnomalyOutput")


@_attrs_define
class AnomalyOutput:
    """
    Attributes:
        id (str):
        index (int): Position of the event in the request's events.
        detected (bool):
        why (str):
        event (Any): One event: a JSON object. Plain text goes in as {"text": "..."}.
        metrics (AnomalyMetrics): No key is required: some servers spell them differently (NCD, PValue), and those land
            in additional properties for the SDK to read.
    """

    id: str
    index: int
    detected: bool
    why: str
    event: Any
    metrics: AnomalyMetrics
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        index = self.index

        detected = self.detected

        why = self.why

        event = self.event

        metrics = self.metrics.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "index": index,
                "detected": detected,
                "why": why,
                "event": event,
                "metrics": metrics,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.anomaly_metrics import AnomalyMetrics  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        index = d.pop("index")

        detected = d.pop("detected")

        why = d.pop("why")

        event = d.pop("event")

        metrics = AnomalyMetrics.from_dict(d.pop("metrics"))

        anomaly_output = cls(
            id=id,
            index=index,
            detected=detected,
            why=why,
            event=event,
            metrics=metrics,
        )

        anomaly_output.additional_properties = d
        return anomaly_output

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
