from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.profile_thresholds import ProfileThresholds
    from ..models.stream_profile_profile_descriptions import (
        StreamProfileProfileDescriptions,
    )


T = TypeVar("T", bound="StreamProfile")


@_attrs_define
class StreamProfile:
    """
    Attributes:
        profile (str): sensitive, balanced, strict or custom.
        auto_tune_enabled (bool):
        adaptive_window_enabled (bool):
        current_thresholds (ProfileThresholds):
        profile_descriptions (StreamProfileProfileDescriptions | Unset):
    """

    profile: str
    auto_tune_enabled: bool
    adaptive_window_enabled: bool
    current_thresholds: ProfileThresholds
    profile_descriptions: StreamProfileProfileDescriptions | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        profile = self.profile

        auto_tune_enabled = self.auto_tune_enabled

        adaptive_window_enabled = self.adaptive_window_enabled

        current_thresholds = self.current_thresholds.to_dict()

        profile_descriptions: dict[str, Any] | Unset = UNSET
        if not isinstance(self.profile_descriptions, Unset):
            profile_descriptions = self.profile_descriptions.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "profile": profile,
                "auto_tune_enabled": auto_tune_enabled,
                "adaptive_window_enabled": adaptive_window_enabled,
                "current_thresholds": current_thresholds,
            }
        )
        if profile_descriptions is not UNSET:
            field_dict["profile_descriptions"] = profile_descriptions

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.profile_thresholds import ProfileThresholds  # noqa: PLC0415
        from ..models.stream_profile_profile_descriptions import (
            StreamProfileProfileDescriptions,  # noqa: PLC0415
        )

        d = dict(src_dict)
        profile = d.pop("profile")

        auto_tune_enabled = d.pop("auto_tune_enabled")

        adaptive_window_enabled = d.pop("adaptive_window_enabled")

        current_thresholds = ProfileThresholds.from_dict(d.pop("current_thresholds"))

        _profile_descriptions = d.pop("profile_descriptions", UNSET)
        profile_descriptions: StreamProfileProfileDescriptions | Unset
        if isinstance(_profile_descriptions, Unset):
            profile_descriptions = UNSET
        else:
            profile_descriptions = StreamProfileProfileDescriptions.from_dict(
                _profile_descriptions
            )

        stream_profile = cls(
            profile=profile,
            auto_tune_enabled=auto_tune_enabled,
            adaptive_window_enabled=adaptive_window_enabled,
            current_thresholds=current_thresholds,
            profile_descriptions=profile_descriptions,
        )

        stream_profile.additional_properties = d
        return stream_profile

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
