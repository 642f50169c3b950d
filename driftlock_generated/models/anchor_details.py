from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.anchor import Anchor


T = TypeVar("T", bound="AnchorDetails")


@_attrs_define
class AnchorDetails:
    """
    Attributes:
        anchor (Anchor | None):
        message (str | Unset):
    """

    anchor: Anchor | None
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.anchor import Anchor  # noqa: PLC0415

        anchor: dict[str, Any] | None
        if isinstance(self.anchor, Anchor):
            anchor = self.anchor.to_dict()
        else:
            anchor = self.anchor

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anchor": anchor,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.anchor import Anchor  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_anchor(data: object) -> Anchor | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                anchor_type_1 = Anchor.from_dict(data)

                return anchor_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Anchor | None, data)

        anchor = _parse_anchor(d.pop("anchor"))

        message = d.pop("message", UNSET)

        anchor_details = cls(
            anchor=anchor,
            message=message,
        )

        anchor_details.additional_properties = d
        return anchor_details

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
