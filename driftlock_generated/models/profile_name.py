from enum import StrEnum


class ProfileName(StrEnum):
    BALANCED = "balanced"
    CUSTOM = "custom"
    SENSITIVE = "sensitive"
    STRICT = "strict"

    def __str__(self) -> str:
        return str(self.value)
