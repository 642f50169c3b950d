from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.compressor import Compressor
from ..types import UNSET, Unset

T = TypeVar("T", bound="ConfigOverride")


@_attrs_define
class ConfigOverride:
    """Detection settings for this request only.

    Attributes:
        baseline_size (int | Unset):
        window_size (int | Unset):
        hop_size (int | Unset):
        ncd_threshold (float | Unset):
        p_value_threshold (float | Unset):
        permutation_count (int | Unset):
        compressor (Compressor | Unset):
    """

    baseline_size: int | Unset = UNSET
    window_size: int | Unset = UNSET
    hop_size: int | Unset = UNSET
    ncd_threshold: float | Unset = UNSET
    p_value_threshold: float | Unset = UNSET
    permutation_count: int | Unset = UNSET
    compressor: Compressor | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        baseline_size = self.baseline_size

        window_size = self.window_size

        hop_size = self.hop_size

        ncd_threshold = self.ncd_threshold

        p_value_threshold = self.p_value_threshold

        permutation_count = self.permutation_count

        compressor: str | Unset = UNSET
        if not isinstance(self.compressor, Unset):
            compressor = self.compressor.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if baseline_size is not UNSET:
            field_dict["baseline_size"] = baseline_size
        if window_size is not UNSET:
            field_dict["window_size"] = window_size
        if hop_size is not UNSET:
            field_dict["hop_size"] = hop_size
        if ncd_threshold is not UNSET:
            field_dict["ncd_threshold"] = ncd_threshold
        if p_value_threshold is not UNSET:
            field_dict["p_value_threshold"] = p_value_threshold
        if permutation_count is not UNSET:
            field_dict["permutation_count"] = permutation_count
        if compressor is not UNSET:
            field_dict["compressor"] = compressor

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        baseline_size = d.pop("baseline_size", UNSET)

        window_size = d.pop("window_size", UNSET)

        hop_size = d.pop("hop_size", UNSET)

        ncd_threshold = d.pop("ncd_threshold", UNSET)

        p_value_threshold = d.pop("p_value_threshold", UNSET)

        permutation_count = d.pop("permutation_count", UNSET)

        _compressor = d.pop("compressor", UNSET)
        compressor: Compressor | Unset
        if isinstance(_compressor, Unset):
            compressor = UNSET
        else:
            compressor = Compressor(_compressor)

        config_override = cls(
            baseline_size=baseline_size,
            window_size=window_size,
            hop_size=hop_size,
            ncd_threshold=ncd_threshold,
            p_value_threshold=p_value_threshold,
            permutation_count=permutation_count,
            compressor=compressor,
        )

        config_override.additional_properties = d
        return config_override

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
