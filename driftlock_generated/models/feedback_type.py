from enum import StrEnum


class FeedbackType(StrEnum):
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    FALSE_POSITIVE = "false_positive"

    def __str__(self) -> str:
        return str(self.value)
