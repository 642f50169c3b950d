from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ValueOutlier")


@_attrs_define
class ValueOutlier:
    """
    Attributes:
        field_path (str):
        value (float):
        expected_mean (float):
        std_dev (float):
        z_score (float):
        sample_count (int):
        index (int | Unset): Position of the event in the request's events.
    """

    field_path: str
    value: float
    expected_mean: float
    std_dev: float
    z_score: float
    sample_count: int
    index: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_path = self.field_path

        value = self.value

        expected_mean = self.expected_mean

        std_dev = self.std_dev

        z_score = self.z_score

        sample_count = self.sample_count

        index = self.index

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "field_path": field_path,
                "value": value,
                "expected_mean": expected_mean,
                "std_dev": std_dev,
                "z_score": z_score,
                "sample_count": sample_count,
            }
        )
        if index is not UNSET:
            field_dict["index"] = index

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        field_path = d.pop("field_path")

        value = d.pop("value")

        expected_mean = d.pop("expected_mean")

        std_dev = d.pop("std_dev")

        z_score = d.pop("z_score")

        sample_count = d.pop("sample_count")

        index = d.pop("index", UNSET)

        value_outlier = cls(
            field_path=field_path,
            value=value,
            expected_mean=expected_mean,
            std_dev=std_dev,
            z_score=z_score,
            sample_count=sample_count,
            index=index,
        )

        value_outlier.additional_properties = d
        return value_outlier

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
