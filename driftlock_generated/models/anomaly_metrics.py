from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AnomalyMetrics")


@_attrs_define
class AnomalyMetrics:
    """No key is required: some servers spell them differently (NCD, PValue), and those land in additional properties for
    the SDK to read.

        Attributes:
            ncd (float | Unset):
            p_value (float | Unset):
            confidence_level (float | Unset):
            baseline_compression_ratio (float | Unset):
            window_compression_ratio (float | Unset):
            baseline_entropy (float | Unset):
            window_entropy (float | Unset):
            entropy_change (float | Unset):
            compression_ratio_change (float | Unset):
            is_statistically_significant (bool | Unset):
    """

    ncd: float | Unset = UNSET
    p_value: float | Unset = UNSET
    confidence_level: float | Unset = UNSET
    baseline_compression_ratio: float | Unset = UNSET
    window_compression_ratio: float | Unset = UNSET
    baseline_entropy: float | Unset = UNSET
    window_entropy: float | Unset = UNSET
    entropy_change: float | Unset = UNSET
    compression_ratio_change: float | Unset = UNSET
    is_statistically_significant: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ncd = self.ncd

        p_value = self.p_value

        confidence_level = self.confidence_level

        baseline_compression_ratio = self.baseline_compression_ratio

        window_compression_ratio = self.window_compression_ratio

        baseline_entropy = self.baseline_entropy

        window_entropy = self.window_entropy

        entropy_change = self.entropy_change

        compression_ratio_change = self.compression_ratio_change

        is_statistically_significant = self.is_statistically_significant

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if ncd is not UNSET:
            field_dict["ncd"] = ncd
        if p_value is not UNSET:
            field_dict["p_value"] = p_value
        if confidence_level is not UNSET:
            field_dict["confidence_level"] = confidence_level
        if baseline_compression_ratio is not UNSET:
            field_dict["baseline_compression_ratio"] = baseline_compression_ratio
        if window_compression_ratio is not UNSET:
            field_dict["window_compression_ratio"] = window_compression_ratio
        if baseline_entropy is not UNSET:
            field_dict["baseline_entropy"] = baseline_entropy
        if window_entropy is not UNSET:
            field_dict["window_entropy"] = window_entropy
        if entropy_change is not UNSET:
            field_dict["entropy_change"] = entropy_change
        if compression_ratio_change is not UNSET:
            field_dict["compression_ratio_change"] = compression_ratio_change
        if is_statistically_significant is not UNSET:
            field_dict["is_statistically_significant"] = is_statistically_significant

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ncd = d.pop("ncd", UNSET)

        p_value = d.pop("p_value", UNSET)

        confidence_level = d.pop("confidence_level", UNSET)

        baseline_compression_ratio = d.pop("baseline_compression_ratio", UNSET)

        window_compression_ratio = d.pop("window_compression_ratio", UNSET)

        baseline_entropy = d.pop("baseline_entropy", UNSET)

        window_entropy = d.pop("window_entropy", UNSET)

        entropy_change = d.pop("entropy_change", UNSET)

        compression_ratio_change = d.pop("compression_ratio_change", UNSET)

        is_statistically_significant = d.pop("is_statistically_significant", UNSET)

        anomaly_metrics = cls(
            ncd=ncd,
            p_value=p_value,
            confidence_level=confidence_level,
            baseline_compression_ratio=baseline_compression_ratio,
            window_compression_ratio=window_compression_ratio,
            baseline_entropy=baseline_entropy,
            window_entropy=window_entropy,
            entropy_change=entropy_change,
            compression_ratio_change=compression_ratio_change,
            is_statistically_significant=is_statistically_significant,
        )

        anomaly_metrics.additional_properties = d
        return anomaly_metrics

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
