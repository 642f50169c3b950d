from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="HealthResponse")


@_attrs_define
class HealthResponse:
    """
    Attributes:
        ok (bool):
        version (str | Unset):
        library_status (str | Unset): healthy or unhealthy.
        openzl_available (bool | Unset):
    """

    ok: bool
    version: str | Unset = UNSET
    library_status: str | Unset = UNSET
    openzl_available: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ok = self.ok

        version = self.version

        library_status = self.library_status

        openzl_available = self.openzl_available

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ok": ok,
            }
        )
        if version is not UNSET:
            field_dict["version"] = version
        if library_status is not UNSET:
            field_dict["library_status"] = library_status
        if openzl_available is not UNSET:
            field_dict["openzl_available"] = openzl_available

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ok = d.pop("ok")

        version = d.pop("version", UNSET)

        library_status = d.pop("library_status", UNSET)

        openzl_available = d.pop("openzl_available", UNSET)

        health_response = cls(
            ok=ok,
            version=version,
            library_status=library_status,
            openzl_available=openzl_available,
        )

        health_response.additional_properties = d
        return health_response

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
