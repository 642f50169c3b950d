from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ProfileThresholds")


@_attrs_define
class ProfileThresholds:
    """
    Attributes:
        ncd_threshold (float):
        pvalue_threshold (float):
        baseline_size (int):
        window_size (int):
    """

    ncd_threshold: float
    pvalue_threshold: float
    baseline_size: int
    window_size: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ncd_threshold = self.ncd_threshold

        pvalue_threshold = self.pvalue_threshold

        baseline_size = self.baseline_size

        window_size = self.window_size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ncd_threshold": ncd_threshold,
                "pvalue_threshold": pvalue_threshold,
                "baseline_size": baseline_size,
                "window_size": window_size,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ncd_threshold = d.pop("ncd_threshold")

        pvalue_threshold = d.pop("pvalue_threshold")

        baseline_size = d.pop("baseline_size")

        window_size = d.pop("window_size")

        profile_thresholds = cls(
            ncd_threshold=ncd_threshold,
            pvalue_threshold=pvalue_threshold,
            baseline_size=baseline_size,
            window_size=window_size,
        )

        profile_thresholds.additional_properties = d
        return profile_thresholds

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
