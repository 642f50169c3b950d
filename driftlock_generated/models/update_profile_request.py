from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.profile_name import ProfileName
from ..types import UNSET, Unset

T = TypeVar("T", bound="UpdateProfileRequest")


@_attrs_define
class UpdateProfileRequest:
    """
    Attributes:
        profile (ProfileName | Unset):
        auto_tune_enabled (bool | Unset):
        adaptive_window_enabled (bool | Unset):
    """

    profile: ProfileName | Unset = UNSET
    auto_tune_enabled: bool | Unset = UNSET
    adaptive_window_enabled: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        profile: str | Unset = UNSET
        if not isinstance(self.profile, Unset):
            profile = self.profile.value

        auto_tune_enabled = self.auto_tune_enabled

        adaptive_window_enabled = self.adaptive_window_enabled

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if profile is not UNSET:
            field_dict["profile"] = profile
        if auto_tune_enabled is not UNSET:
            field_dict["auto_tune_enabled"] = auto_tune_enabled
        if adaptive_window_enabled is not UNSET:
            field_dict["adaptive_window_enabled"] = adaptive_window_enabled

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _profile = d.pop("profile", UNSET)
        profile: ProfileName | Unset
        if isinstance(_profile, Unset):
            profile = UNSET
        else:
            profile = ProfileName(_profile)

        auto_tune_enabled = d.pop("auto_tune_enabled", UNSET)

        adaptive_window_enabled = d.pop("adaptive_window_enabled", UNSET)

        update_profile_request = cls(
            profile=profile,
            auto_tune_enabled=auto_tune_enabled,
            adaptive_window_enabled=adaptive_window_enabled,
        )

        update_profile_request.additional_properties = d
        return update_profile_request

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
