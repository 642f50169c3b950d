"""Contains all the data models used in inputs/outputs"""

from .anchor import Anchor
from .anchor_change import AnchorChange
from .anchor_details import AnchorDetails
from .anchor_settings import AnchorSettings
from .anomaly import Anomaly
from .anomaly_detail import AnomalyDetail
from .anomaly_list import AnomalyList
from .anomaly_metrics import AnomalyMetrics
from .anomaly_output import AnomalyOutput
from .anomaly_status import AnomalyStatus
from .calibration_info import CalibrationInfo
from .compressor import Compressor
from .config_override import ConfigOverride
from .demo_detect_response import DemoDetectResponse
from .demo_info import DemoInfo
from .detect_request import DetectRequest
from .detect_response import DetectResponse
from .drift_result import DriftResult
from .error_detail import ErrorDetail
from .error_response import ErrorResponse
from .evidence import Evidence
from .export_anomalies_request import ExportAnomaliesRequest
from .export_anomaly_request import ExportAnomalyRequest
from .export_format import ExportFormat
from .export_job import ExportJob
from .feedback_request import FeedbackRequest
from .feedback_response import FeedbackResponse
from .feedback_stats import FeedbackStats
from .feedback_type import FeedbackType
from .health_response import HealthResponse
from .profile_list import ProfileList
from .profile_list_profiles import ProfileListProfiles
from .profile_name import ProfileName
from .profile_summary import ProfileSummary
from .profile_thresholds import ProfileThresholds
from .readiness_response import ReadinessResponse
from .reset_anchor_request import ResetAnchorRequest
from .stream_profile import StreamProfile
from .stream_profile_profile_descriptions import StreamProfileProfileDescriptions
from .stream_tuning import StreamTuning
from .tune_history_entry import TuneHistoryEntry
from .update_profile_request import UpdateProfileRequest
from .update_profile_response import UpdateProfileResponse
from .value_outlier import ValueOutlier

__all__ = (
    "Anchor",
    "AnchorChange",
    "AnchorDetails",
    "AnchorSettings",
    "Anomaly",
    "AnomalyDetail",
    "AnomalyList",
    "AnomalyMetrics",
    "AnomalyOutput",
    "AnomalyStatus",
    "CalibrationInfo",
    "Compressor",
    "ConfigOverride",
    "DemoDetectResponse",
    "DemoInfo",
    "DetectRequest",
    "DetectResponse",
    "DriftResult",
    "ErrorDetail",
    "ErrorResponse",
    "Evidence",
    "ExportAnomaliesRequest",
    "ExportAnomalyRequest",
    "ExportFormat",
    "ExportJob",
    "FeedbackRequest",
    "FeedbackResponse",
    "FeedbackStats",
    "FeedbackType",
    "HealthResponse",
    "ProfileList",
    "ProfileListProfiles",
    "ProfileName",
    "ProfileSummary",
    "ProfileThresholds",
    "ReadinessResponse",
    "ResetAnchorRequest",
    "StreamProfile",
    "StreamProfileProfileDescriptions",
    "StreamTuning",
    "TuneHistoryEntry",
    "UpdateProfileRequest",
    "UpdateProfileResponse",
    "ValueOutlier",
)
