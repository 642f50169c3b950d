from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AnchorSettings")


@_attrs_define
class AnchorSettings:
    """
    Attributes:
        anchor_enabled (bool):
        drift_ncd_threshold (float):
        anchor_reset_on_drift (bool):
        has_active_anchor (bool):
        anchor_id (None | str | Unset):
    """

    anchor_enabled: bool
    drift_ncd_threshold: float
    anchor_reset_on_drift: bool
    has_active_anchor: bool
    anchor_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        anchor_enabled = self.anchor_enabled

        drift_ncd_threshold = self.drift_ncd_threshold

        anchor_reset_on_drift = self.anchor_reset_on_drift

        has_active_anchor = self.has_active_anchor

        anchor_id: None | str | Unset
        if isinstance(self.anchor_id, Unset):
            anchor_id = UNSET
        else:
            anchor_id = self.anchor_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anchor_enabled": anchor_enabled,
                "drift_ncd_threshold": drift_ncd_threshold,
                "anchor_reset_on_drift": anchor_reset_on_drift,
                "has_active_anchor": has_active_anchor,
            }
        )
        if anchor_id is not UNSET:
            field_dict["anchor_id"] = anchor_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        anchor_enabled = d.pop("anchor_enabled")

        drift_ncd_threshold = d.pop("drift_ncd_threshold")

        anchor_reset_on_drift = d.pop("anchor_reset_on_drift")

        has_active_anchor = d.pop("has_active_anchor")

        def _parse_anchor_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        anchor_id = _parse_anchor_id(d.pop("anchor_id", UNSET))

        anchor_settings = cls(
            anchor_enabled=anchor_enabled,
            drift_ncd_threshold=drift_ncd_threshold,
            anchor_reset_on_drift=anchor_reset_on_drift,
            has_active_anchor=has_active_anchor,
            anchor_id=anchor_id,
        )

        anchor_settings.additional_properties = d
        return anchor_settings

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
