from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DemoInfo")


@_attrs_define
class DemoInfo:
    """
    Attributes:
        message (str | Unset):
        remaining_calls (int | Unset):
        limit_per_minute (int | Unset):
        max_events_per_request (int | Unset):
        signup_url (str | Unset):
    """

    message: str | Unset = UNSET
    remaining_calls: int | Unset = UNSET
    limit_per_minute: int | Unset = UNSET
    max_events_per_request: int | Unset = UNSET
    signup_url: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        message = self.message

        remaining_calls = self.remaining_calls

        limit_per_minute = self.limit_per_minute

        max_events_per_request = self.max_events_per_request

        signup_url = self.signup_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if message is not UNSET:
            field_dict["message"] = message
        if remaining_calls is not UNSET:
            field_dict["remaining_calls"] = remaining_calls
        if limit_per_minute is not UNSET:
            field_dict["limit_per_minute"] = limit_per_minute
        if max_events_per_request is not UNSET:
            field_dict["max_events_per_request"] = max_events_per_request
        if signup_url is not UNSET:
            field_dict["signup_url"] = signup_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        message = d.pop("message", UNSET)

        remaining_calls = d.pop("remaining_calls", UNSET)

        limit_per_minute = d.pop("limit_per_minute", UNSET)

        max_events_per_request = d.pop("max_events_per_request", UNSET)

        signup_url = d.pop("signup_url", UNSET)

        demo_info = cls(
            message=message,
            remaining_calls=remaining_calls,
            limit_per_minute=limit_per_minute,
            max_events_per_request=max_events_per_request,
            signup_url=signup_url,
        )

        demo_info.additional_properties = d
        return demo_info

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
