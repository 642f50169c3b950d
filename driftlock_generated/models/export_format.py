from enum import StrEnum


class ExportFormat(StrEnum):
    JSON = "json"
    MARKDOWN = "markdown"
    PDF = "pdf"

    def __str__(self) -> str:
        return str(self.value)
