from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DriftResult")


@_attrs_define
class DriftResult:
    """
    Attributes:
        anchor_id (str | Unset):
        drift_score (float | Unset):
        drift_threshold (float | Unset):
        drift_detected (bool | Unset):
        baseline_events (int | Unset):
        window_events (int | Unset):
        anchor_created_at (datetime.datetime | Unset):
        diagnostic_reason (str | Unset): Why drift could not be computed: no_active_anchor, anchor_decode_failed,
            window_snapshot_failed or drift_compute_failed.
    """

    anchor_id: str | Unset = UNSET
    drift_score: float | Unset = UNSET
    drift_threshold: float | Unset = UNSET
    drift_detected: bool | Unset = UNSET
    baseline_events: int | Unset = UNSET
    window_events: int | Unset = UNSET
    anchor_created_at: datetime.datetime | Unset = UNSET
    diagnostic_reason: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        anchor_id = self.anchor_id

        drift_score = self.drift_score

        drift_threshold = self.drift_threshold

        drift_detected = self.drift_detected

        baseline_events = self.baseline_events

        window_events = self.window_events

        anchor_created_at: str | Unset = UNSET
        if not isinstance(self.anchor_created_at, Unset):
            anchor_created_at = self.anchor_created_at.isoformat()

        diagnostic_reason = self.diagnostic_reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if anchor_id is not UNSET:
            field_dict["anchor_id"] = anchor_id
        if drift_score is not UNSET:
            field_dict["drift_score"] = drift_score
        if drift_threshold is not UNSET:
            field_dict["drift_threshold"] = drift_threshold
        if drift_detected is not UNSET:
            field_dict["drift_detected"] = drift_detected
        if baseline_events is not UNSET:
            field_dict["baseline_events"] = baseline_events
        if window_events is not UNSET:
            field_dict["window_events"] = window_events
        if anchor_created_at is not UNSET:
            field_dict["anchor_created_at"] = anchor_created_at
        if diagnostic_reason is not UNSET:
            field_dict["diagnostic_reason"] = diagnostic_reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        anchor_id = d.pop("anchor_id", UNSET)

        drift_score = d.pop("drift_score", UNSET)

        drift_threshold = d.pop("drift_threshold", UNSET)

        drift_detected = d.pop("drift_detected", UNSET)

        baseline_events = d.pop("baseline_events", UNSET)

        window_events = d.pop("window_events", UNSET)

        _anchor_created_at = d.pop("anchor_created_at", UNSET)
        anchor_created_at: datetime.datetime | Unset
        if isinstance(_anchor_created_at, Unset):
            anchor_created_at = UNSET
        else:
            anchor_created_at = datetime.datetime.fromisoformat(_anchor_created_at)

        diagnostic_reason = d.pop("diagnostic_reason", UNSET)

        drift_result = cls(
            anchor_id=anchor_id,
            drift_score=drift_score,
            drift_threshold=drift_threshold,
            drift_detected=drift_detected,
            baseline_events=baseline_events,
            window_events=window_events,
            anchor_created_at=anchor_created_at,
            diagnostic_reason=diagnostic_reason,
        )

        drift_result.additional_properties = d
        return drift_result

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
