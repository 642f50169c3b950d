from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CalibrationInfo")


@_attrs_define
class CalibrationInfo:
    """
    Attributes:
        events_ingested (int): Every event the stream has received, this request's included.
        events_needed (int):
        min_baseline_size (int):
        progress_percent (int):
        detection_ready (bool):
        detection_events_needed (int):
        detection_min_events (int):
        message (str | Unset):
    """

    events_ingested: int
    events_needed: int
    min_baseline_size: int
    progress_percent: int
    detection_ready: bool
    detection_events_needed: int
    detection_min_events: int
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        events_ingested = self.events_ingested

        events_needed = self.events_needed

        min_baseline_size = self.min_baseline_size

        progress_percent = self.progress_percent

        detection_ready = self.detection_ready

        detection_events_needed = self.detection_events_needed

        detection_min_events = self.detection_min_events

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "events_ingested": events_ingested,
                "events_needed": events_needed,
                "min_baseline_size": min_baseline_size,
                "progress_percent": progress_percent,
                "detection_ready": detection_ready,
                "detection_events_needed": detection_events_needed,
                "detection_min_events": detection_min_events,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events_ingested = d.pop("events_ingested")

        events_needed = d.pop("events_needed")

        min_baseline_size = d.pop("min_baseline_size")

        progress_percent = d.pop("progress_percent")

        detection_ready = d.pop("detection_ready")

        detection_events_needed = d.pop("detection_events_needed")

        detection_min_events = d.pop("detection_min_events")

        message = d.pop("message", UNSET)

        calibration_info = cls(
            events_ingested=events_ingested,
            events_needed=events_needed,
            min_baseline_size=min_baseline_size,
            progress_percent=progress_percent,
            detection_ready=detection_ready,
            detection_events_needed=detection_events_needed,
            detection_min_events=detection_min_events,
            message=message,
        )

        calibration_info.additional_properties = d
        return calibration_info

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
