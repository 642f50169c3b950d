from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.anomaly import Anomaly


T = TypeVar("T", bound="AnomalyList")


@_attrs_define
class AnomalyList:
    """
    Attributes:
        anomalies (list[Anomaly]):
        total (int):
        limit (int):
        offset (int):
    """

    anomalies: list[Anomaly]
    total: int
    limit: int
    offset: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        anomalies = []
        for anomalies_item_data in self.anomalies:
            anomalies_item = anomalies_item_data.to_dict()
            anomalies.append(anomalies_item)

        total = self.total

        limit = self.limit

        offset = self.offset

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anomalies": anomalies,
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.anomaly import Anomaly  # noqa: PLC0415

        d = dict(src_dict)
        anomalies = []
        _anomalies = d.pop("anomalies")
        for anomalies_item_data in _anomalies:
            anomalies_item = Anomaly.from_dict(anomalies_item_data)

            anomalies.append(anomalies_item)

        total = d.pop("total")

        limit = d.pop("limit")

        offset = d.pop("offset")

        anomaly_list = cls(
            anomalies=anomalies,
            total=total,
            limit=limit,
            offset=offset,
        )

        anomaly_list.additional_properties = d
        return anomaly_list

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
