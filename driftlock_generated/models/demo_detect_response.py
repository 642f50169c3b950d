from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.anomaly_output import AnomalyOutput
    from ..models.calibration_info import CalibrationInfo
    from ..models.demo_info import DemoInfo
    from ..models.drift_result import DriftResult
    from ..models.value_outlier import ValueOutlier


T = TypeVar("T", bound="DemoDetectResponse")


@_attrs_define
class DemoDetectResponse:
    """
    Attributes:
        success (bool):
        batch_id (str):
        stream_id (str): The stream's name.
        total_events (int):
        anomaly_count (int):
        processing_time (str): Server-side time, e.g. "245ms".
        compression_algo (str):
        status (str): calibrating (fewer than min_baseline_size events seen) or ready.
        detection_ready (bool):
        detection_events_needed (int):
        calibration (CalibrationInfo):
        anomalies (list[AnomalyOutput]):
        fallback_from_algo (str | Unset): The compressor asked for, when another one was used instead.
        request_id (str | Unset):
        drift (DriftResult | None | Unset): Drift against the stream's anchor; null when the stream has none.
        value_outliers (list[ValueOutlier] | Unset):
        demo (DemoInfo | Unset):
    """

    success: bool
    batch_id: str
    stream_id: str
    total_events: int
    anomaly_count: int
    processing_time: str
    compression_algo: str
    status: str
    detection_ready: bool
    detection_events_needed: int
    calibration: CalibrationInfo
    anomalies: list[AnomalyOutput]
    fallback_from_algo: str | Unset = UNSET
    request_id: str | Unset = UNSET
    drift: DriftResult | None | Unset = UNSET
    value_outliers: list[ValueOutlier] | Unset = UNSET
    demo: DemoInfo | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.drift_result import DriftResult  # noqa: PLC0415

        success = self.success

        batch_id = self.batch_id

        stream_id = self.stream_id

        total_events = self.total_events

        anomaly_count = self.anomaly_count

        processing_time = self.processing_time

        compression_algo = self.compression_algo

        status = self.status

        detection_ready = self.detection_ready

        detection_events_needed = self.detection_events_needed

        calibration = self.calibration.to_dict()

        anomalies = []
        for anomalies_item_data in self.anomalies:
            anomalies_item = anomalies_item_data.to_dict()
            anomalies.append(anomalies_item)

        fallback_from_algo = self.fallback_from_algo

        request_id = self.request_id

        drift: dict[str, Any] | None | Unset
        if isinstance(self.drift, Unset):
            drift = UNSET
        elif isinstance(self.drift, DriftResult):
            drift = self.drift.to_dict()
        else:
            drift = self.drift

        value_outliers: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.value_outliers, Unset):
            value_outliers = []
            for value_outliers_item_data in self.value_outliers:
                value_outliers_item = value_outliers_item_data.to_dict()
                value_outliers.append(value_outliers_item)

        demo: dict[str, Any] | Unset = UNSET
        if not isinstance(self.demo, Unset):
            demo = self.demo.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "success": success,
                "batch_id": batch_id,
                "stream_id": stream_id,
                "total_events": total_events,
                "anomaly_count": anomaly_count,
                "processing_time": processing_time,
                "compression_algo": compression_algo,
                "status": status,
                "detection_ready": detection_ready,
                "detection_events_needed": detection_events_needed,
                "calibration": calibration,
                "anomalies": anomalies,
            }
        )
        if fallback_from_algo is not UNSET:
            field_dict["fallback_from_algo"] = fallback_from_algo
        if request_id is not UNSET:
            field_dict["request_id"] = request_id
        if drift is not UNSET:
            field_dict["drift"] = drift
        if value_outliers is not UNSET:
            field_dict["value_outliers"] = value_outliers
        if demo is not UNSET:
            field_dict["demo"] = demo

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.anomaly_output import AnomalyOutput  # noqa: PLC0415
        from ..models.calibration_info import CalibrationInfo  # noqa: PLC0415
        from ..models.demo_info import DemoInfo  # noqa: PLC0415
        from ..models.drift_result import DriftResult  # noqa: PLC0415
        from ..models.value_outlier import ValueOutlier  # noqa: PLC0415

        d = dict(src_dict)
        success = d.pop("success")

        batch_id = d.pop("batch_id")

        stream_id = d.pop("stream_id")

        total_events = d.pop("total_events")

        anomaly_count = d.pop("anomaly_count")

        processing_time = d.pop("processing_time")

        compression_algo = d.pop("compression_algo")

        status = d.pop("status")

        detection_ready = d.pop("detection_ready")

        detection_events_needed = d.pop("detection_events_needed")

        calibration = CalibrationInfo.from_dict(d.pop("calibration"))

        anomalies = []
        _anomalies = d.pop("anomalies")
        for anomalies_item_data in _anomalies:
            anomalies_item = AnomalyOutput.from_dict(anomalies_item_data)

            anomalies.append(anomalies_item)

        fallback_from_algo = d.pop("fallback_from_algo", UNSET)

        request_id = d.pop("request_id", UNSET)

        def _parse_drift(data: object) -> DriftResult | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                drift_type_1 = DriftResult.from_dict(data)

                return drift_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DriftResult | None | Unset, data)

        drift = _parse_drift(d.pop("drift", UNSET))

        _value_outliers = d.pop("value_outliers", UNSET)
        value_outliers: list[ValueOutlier] | Unset = UNSET
        if _value_outliers is not UNSET:
            value_outliers = []
            for value_outliers_item_data in _value_outliers:
                value_outliers_item = ValueOutlier.from_dict(value_outliers_item_data)

                value_outliers.append(value_outliers_item)

        _demo = d.pop("demo", UNSET)
        demo: DemoInfo | Unset
        if isinstance(_demo, Unset):
            demo = UNSET
        else:
            demo = DemoInfo.from_dict(_demo)

        demo_detect_response = cls(
            success=success,
            batch_id=batch_id,
            stream_id=stream_id,
            total_events=total_events,
            anomaly_count=anomaly_count,
            processing_time=processing_time,
            compression_algo=compression_algo,
            status=status,
            detection_ready=detection_ready,
            detection_events_needed=detection_events_needed,
            calibration=calibration,
            anomalies=anomalies,
            fallback_from_algo=fallback_from_algo,
            request_id=request_id,
            drift=drift,
            value_outliers=value_outliers,
            demo=demo,
        )

        demo_detect_response.additional_properties = d
        return demo_detect_response

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
