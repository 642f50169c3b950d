from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Anchor")


@_attrs_define
class Anchor:
    """
    Attributes:
        id (str):
        stream_id (str):
        compressor (str):
        event_count (int):
        is_active (bool):
        drift_ncd_threshold (float):
        created_at (datetime.datetime):
        calibration_completed_at (datetime.datetime | Unset):
        baseline_entropy (float | None | Unset):
        baseline_compression_ratio (float | None | Unset):
    """

    id: str
    stream_id: str
    compressor: str
    event_count: int
    is_active: bool
    drift_ncd_threshold: float
    created_at: datetime.datetime
    calibration_completed_at: datetime.datetime | Unset = UNSET
    baseline_entropy: float | None | Unset = UNSET
    baseline_compression_ratio: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        stream_id = self.stream_id

        compressor = self.compressor

        event_count = self.event_count

        is_active = self.is_active

        drift_ncd_threshold = self.drift_ncd_threshold

        created_at = self.created_at.isoformat()

        calibration_completed_at: str | Unset = UNSET
        if not isinstance(self.calibration_completed_at, Unset):
            calibration_completed_at = self.calibration_completed_at.isoformat()

        baseline_entropy: float | None | Unset
        if isinstance(self.baseline_entropy, Unset):
            baseline_entropy = UNSET
        else:
            baseline_entropy = self.baseline_entropy

        baseline_compression_ratio: float | None | Unset
        if isinstance(self.baseline_compression_ratio, Unset):
            baseline_compression_ratio = UNSET
        else:
            baseline_compression_ratio = self.baseline_compression_ratio

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "stream_id": stream_id,
                "compressor": compressor,
                "event_count": event_count,
                "is_active": is_active,
                "drift_ncd_threshold": drift_ncd_threshold,
                "created_at": created_at,
            }
        )
        if calibration_completed_at is not UNSET:
            field_dict["calibration_completed_at"] = calibration_completed_at
        if baseline_entropy is not UNSET:
            field_dict["baseline_entropy"] = baseline_entropy
        if baseline_compression_ratio is not UNSET:
            field_dict["baseline_compression_ratio"] = baseline_compression_ratio

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        stream_id = d.pop("stream_id")

        compressor = d.pop("compressor")

        event_count = d.pop("event_count")

        is_active = d.pop("is_active")

        drift_ncd_threshold = d.pop("drift_ncd_threshold")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        _calibration_completed_at = d.pop("calibration_completed_at", UNSET)
        calibration_completed_at: datetime.datetime | Unset
        if isinstance(_calibration_completed_at, Unset):
            calibration_completed_at = UNSET
        else:
            calibration_completed_at = datetime.datetime.fromisoformat(
                _calibration_completed_at
            )

        def _parse_baseline_entropy(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        baseline_entropy = _parse_baseline_entropy(d.pop("baseline_entropy", UNSET))

        def _parse_baseline_compression_ratio(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        baseline_compression_ratio = _parse_baseline_compression_ratio(
            d.pop("baseline_compression_ratio", UNSET)
        )

        anchor = cls(
            id=id,
            stream_id=stream_id,
            compressor=compressor,
            event_count=event_count,
            is_active=is_active,
            drift_ncd_threshold=drift_ncd_threshold,
            created_at=created_at,
            calibration_completed_at=calibration_completed_at,
            baseline_entropy=baseline_entropy,
            baseline_compression_ratio=baseline_compression_ratio,
        )

        anchor.additional_properties = d
        return anchor

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
