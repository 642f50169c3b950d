from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="FeedbackStats")


@_attrs_define
class FeedbackStats:
    """
    Attributes:
        total_feedback (int | Unset):
        false_positives (int | Unset):
        confirmed (int | Unset):
        dismissed (int | Unset):
        false_positive_rate (float | Unset):
    """

    total_feedback: int | Unset = UNSET
    false_positives: int | Unset = UNSET
    confirmed: int | Unset = UNSET
    dismissed: int | Unset = UNSET
    false_positive_rate: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total_feedback = self.total_feedback

        false_positives = self.false_positives

        confirmed = self.confirmed

        dismissed = self.dismissed

        false_positive_rate = self.false_positive_rate

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if total_feedback is not UNSET:
            field_dict["total_feedback"] = total_feedback
        if false_positives is not UNSET:
            field_dict["false_positives"] = false_positives
        if confirmed is not UNSET:
            field_dict["confirmed"] = confirmed
        if dismissed is not UNSET:
            field_dict["dismissed"] = dismissed
        if false_positive_rate is not UNSET:
            field_dict["false_positive_rate"] = false_positive_rate

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        total_feedback = d.pop("total_feedback", UNSET)

        false_positives = d.pop("false_positives", UNSET)

        confirmed = d.pop("confirmed", UNSET)

        dismissed = d.pop("dismissed", UNSET)

        false_positive_rate = d.pop("false_positive_rate", UNSET)

        feedback_stats = cls(
            total_feedback=total_feedback,
            false_positives=false_positives,
            confirmed=confirmed,
            dismissed=dismissed,
            false_positive_rate=false_positive_rate,
        )

        feedback_stats.additional_properties = d
        return feedback_stats

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
