from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.config_override import ConfigOverride


T = TypeVar("T", bound="DetectRequest")


@_attrs_define
class DetectRequest:
    """
    Attributes:
        events (list[Any]):
        stream_id (str | Unset): The stream's name; created on first use. The default stream when omitted.
        config_override (ConfigOverride | Unset): Detection settings for this request only.
    """

    events: list[Any]
    stream_id: str | Unset = UNSET
    config_override: ConfigOverride | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        stream_id = self.stream_id

        config_override: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config_override, Unset):
            config_override = self.config_override.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "events": events,
            }
        )
        if stream_id is not UNSET:
            field_dict["stream_id"] = stream_id
        if config_override is not UNSET:
            field_dict["config_override"] = config_override

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.config_override import ConfigOverride  # noqa: PLC0415

        d = dict(src_dict)
        events = cast(list[Any], d.pop("events"))

        stream_id = d.pop("stream_id", UNSET)

        _config_override = d.pop("config_override", UNSET)
        config_override: ConfigOverride | Unset
        if isinstance(_config_override, Unset):
            config_override = UNSET
        else:
            config_override = ConfigOverride.from_dict(_config_override)

        detect_request = cls(
            events=events,
            stream_id=stream_id,
            config_override=config_override,
        )

        detect_request.additional_properties = d
        return detect_request

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
