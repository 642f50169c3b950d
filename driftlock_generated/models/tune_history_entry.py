from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="TuneHistoryEntry")


@_attrs_define
class TuneHistoryEntry:
    """
    Attributes:
        tune_type (str | Unset):
        old_value (float | Unset):
        new_value (float | Unset):
        reason (str | Unset):
        confidence (float | Unset):
        created_at (datetime.datetime | Unset):
    """

    tune_type: str | Unset = UNSET
    old_value: float | Unset = UNSET
    new_value: float | Unset = UNSET
    reason: str | Unset = UNSET
    confidence: float | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tune_type = self.tune_type

        old_value = self.old_value

        new_value = self.new_value

        reason = self.reason

        confidence = self.confidence

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if tune_type is not UNSET:
            field_dict["tune_type"] = tune_type
        if old_value is not UNSET:
            field_dict["old_value"] = old_value
        if new_value is not UNSET:
            field_dict["new_value"] = new_value
        if reason is not UNSET:
            field_dict["reason"] = reason
        if confidence is not UNSET:
            field_dict["confidence"] = confidence
        if created_at is not UNSET:
            field_dict["created_at"] = created_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        tune_type = d.pop("tune_type", UNSET)

        old_value = d.pop("old_value", UNSET)

        new_value = d.pop("new_value", UNSET)

        reason = d.pop("reason", UNSET)

        confidence = d.pop("confidence", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        tune_history_entry = cls(
            tune_type=tune_type,
            old_value=old_value,
            new_value=new_value,
            reason=reason,
            confidence=confidence,
            created_at=created_at,
        )

        tune_history_entry.additional_properties = d
        return tune_history_entry

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
