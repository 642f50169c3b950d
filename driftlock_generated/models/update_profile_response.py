from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UpdateProfileResponse")


@_attrs_define
class UpdateProfileResponse:
    """
    Attributes:
        success (bool | Unset):
        profile (str | Unset):
        auto_tune_enabled (bool | Unset):
        adaptive_window_enabled (bool | Unset):
        message (str | Unset):
    """

    success: bool | Unset = UNSET
    profile: str | Unset = UNSET
    auto_tune_enabled: bool | Unset = UNSET
    adaptive_window_enabled: bool | Unset = UNSET
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        success = self.success

        profile = self.profile

        auto_tune_enabled = self.auto_tune_enabled

        adaptive_window_enabled = self.adaptive_window_enabled

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if success is not UNSET:
            field_dict["success"] = success
        if profile is not UNSET:
            field_dict["profile"] = profile
        if auto_tune_enabled is not UNSET:
            field_dict["auto_tune_enabled"] = auto_tune_enabled
        if adaptive_window_enabled is not UNSET:
            field_dict["adaptive_window_enabled"] = adaptive_window_enabled
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        success = d.pop("success", UNSET)

        profile = d.pop("profile", UNSET)

        auto_tune_enabled = d.pop("auto_tune_enabled", UNSET)

        adaptive_window_enabled = d.pop("adaptive_window_enabled", UNSET)

        message = d.pop("message", UNSET)

        update_profile_response = cls(
            success=success,
            profile=profile,
            auto_tune_enabled=auto_tune_enabled,
            adaptive_window_enabled=adaptive_window_enabled,
            message=message,
        )

        update_profile_response.additional_properties = d
        return update_profile_response

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
