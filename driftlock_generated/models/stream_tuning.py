from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.feedback_stats import FeedbackStats
    from ..models.stream_profile import StreamProfile
    from ..models.tune_history_entry import TuneHistoryEntry


T = TypeVar("T", bound="StreamTuning")


@_attrs_define
class StreamTuning:
    """
    Attributes:
        current_settings (StreamProfile):
        tune_history (list[TuneHistoryEntry]):
        feedback_stats (FeedbackStats):
    """

    current_settings: StreamProfile
    tune_history: list[TuneHistoryEntry]
    feedback_stats: FeedbackStats
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        current_settings = self.current_settings.to_dict()

        tune_history = []
        for tune_history_item_data in self.tune_history:
            tune_history_item = tune_history_item_data.to_dict()
            tune_history.append(tune_history_item)

        feedback_stats = self.feedback_stats.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "current_settings": current_settings,
                "tune_history": tune_history,
                "feedback_stats": feedback_stats,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.feedback_stats import FeedbackStats  # noqa: PLC0415
        from ..models.stream_profile import StreamProfile  # noqa: PLC0415
        from ..models.tune_history_entry import TuneHistoryEntry  # noqa: PLC0415

        d = dict(src_dict)
        current_settings = StreamProfile.from_dict(d.pop("current_settings"))

        tune_history = []
        _tune_history = d.pop("tune_history")
        for tune_history_item_data in _tune_history:
            tune_history_item = TuneHistoryEntry.from_dict(tune_history_item_data)

            tune_history.append(tune_history_item)

        feedback_stats = FeedbackStats.from_dict(d.pop("feedback_stats"))

        stream_tuning = cls(
            current_settings=current_settings,
            tune_history=tune_history,
            feedback_stats=feedback_stats,
        )

        stream_tuning.additional_properties = d
        return stream_tuning

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
