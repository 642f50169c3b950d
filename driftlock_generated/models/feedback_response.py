from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="FeedbackResponse")


@_attrs_define
class FeedbackResponse:
    """
    Attributes:
        success (bool | Unset):
        anomaly_id (str | Unset):
        feedback_type (str | Unset):
        anomaly_status (str | Unset):
        message (str | Unset):
    """

    success: bool | Unset = UNSET
    anomaly_id: str | Unset = UNSET
    feedback_type: str | Unset = UNSET
    anomaly_status: str | Unset = UNSET
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        success = self.success

        anomaly_id = self.anomaly_id

        feedback_type = self.feedback_type

        anomaly_status = self.anomaly_status

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if success is not UNSET:
            field_dict["success"] = success
        if anomaly_id is not UNSET:
            field_dict["anomaly_id"] = anomaly_id
        if feedback_type is not UNSET:
            field_dict["feedback_type"] = feedback_type
        if anomaly_status is not UNSET:
            field_dict["anomaly_status"] = anomaly_status
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        success = d.pop("success", UNSET)

        anomaly_id = d.pop("anomaly_id", UNSET)

        feedback_type = d.pop("feedback_type", UNSET)

        anomaly_status = d.pop("anomaly_status", UNSET)

        message = d.pop("message", UNSET)

        feedback_response = cls(
            success=success,
            anomaly_id=anomaly_id,
            feedback_type=feedback_type,
            anomaly_status=anomaly_status,
            message=message,
        )

        feedback_response.additional_properties = d
        return feedback_response

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
