from enum import StrEnum


class Compressor(StrEnum):
    GZIP = "gzip"
    LZ4 = "lz4"
    OPENZL = "openzl"
    ZLAB = "zlab"
    ZSTD = "zstd"

    def __str__(self) -> str:
        return str(self.value)
