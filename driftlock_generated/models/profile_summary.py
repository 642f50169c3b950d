from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ProfileSummary")


@_attrs_define
class ProfileSummary:
    """
    Attributes:
        name (str | Unset):
        description (str | Unset):
        ncd_threshold (float | Unset):
        pvalue_threshold (float | Unset):
        baseline_size (int | Unset):
        window_size (int | Unset):
    """

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    ncd_threshold: float | Unset = UNSET
    pvalue_threshold: float | Unset = UNSET
    baseline_size: int | Unset = UNSET
    window_size: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description = self.description

        ncd_threshold = self.ncd_threshold

        pvalue_threshold = self.pvalue_threshold

        baseline_size = self.baseline_size

        window_size = self.window_size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if ncd_threshold is not UNSET:
            field_dict["ncd_threshold"] = ncd_threshold
        if pvalue_threshold is not UNSET:
            field_dict["pvalue_threshold"] = pvalue_threshold
        if baseline_size is not UNSET:
            field_dict["baseline_size"] = baseline_size
        if window_size is not UNSET:
            field_dict["window_size"] = window_size

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        description = d.pop("description", UNSET)

        ncd_threshold = d.pop("ncd_threshold", UNSET)

        pvalue_threshold = d.pop("pvalue_threshold", UNSET)

        baseline_size = d.pop("baseline_size", UNSET)

        window_size = d.pop("window_size", UNSET)

        profile_summary = cls(
            name=name,
            description=description,
            ncd_threshold=ncd_threshold,
            pvalue_threshold=pvalue_threshold,
            baseline_size=baseline_size,
            window_size=window_size,
        )

        profile_summary.additional_properties = d
        return profile_summary

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
