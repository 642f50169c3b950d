from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportJob")


@_attrs_define
class ExportJob:
    """
    Attributes:
        job_id (str):
        status (str): queued, running, completed or failed.
        format_ (str | Unset):
        anomaly_count (int | Unset):
        content (str | Unset): The bundle itself (JSON or Markdown text) once the job has completed.
    """

    job_id: str
    status: str
    format_: str | Unset = UNSET
    anomaly_count: int | Unset = UNSET
    content: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job_id = self.job_id

        status = self.status

        format_ = self.format_

        anomaly_count = self.anomaly_count

        content = self.content

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "job_id": job_id,
                "status": status,
            }
        )
        if format_ is not UNSET:
            field_dict["format"] = format_
        if anomaly_count is not UNSET:
            field_dict["anomaly_count"] = anomaly_count
        if content is not UNSET:
            field_dict["content"] = content

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        job_id = d.pop("job_id")

        status = d.pop("status")

        format_ = d.pop("format", UNSET)

        anomaly_count = d.pop("anomaly_count", UNSET)

        content = d.pop("content", UNSET)

        export_job = cls(
            job_id=job_id,
            status=status,
            format_=format_,
            anomaly_count=anomaly_count,
            content=content,
        )

        export_job.additional_properties = d
        return export_job

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
