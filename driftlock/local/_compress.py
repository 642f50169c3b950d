"""Compressors by name, with and without a prepared dictionary.

The detector needs two operations: the compressed size of some bytes, and the compressed size of
some bytes given a dictionary (the baseline), prepared once and reused for many small inputs.
Sizes only: nothing here is ever decompressed, so frame headers, checksums and stored sizes are
left out wherever the format allows, to keep the cost of one short event close to its content.

``zlab`` and ``openzl`` (accepted by the API) are not available in Python: they map to zstd and
the caller reports the fallback.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final

import lz4.block
import lz4.frame
import zstandard

__all__ = [
    "ALGORITHMS",
    "FALLBACKS",
    "CompressorChoice",
    "DictionaryCompressor",
    "GzipCompressor",
    "Lz4Compressor",
    "SizeCompressor",
    "ZstdCompressor",
    "choose_compressor",
]

ALGORITHMS: Final = ("zstd", "lz4", "gzip")
FALLBACKS: Final = {"zlab": "zstd", "openzl": "zstd"}

_LZ4_WINDOW = 64 * 1024  # LZ4 matches reach back 64 KiB: a longer dictionary is dead weight
_DEFLATE_WINDOW = 32 * 1024  # likewise for deflate


class DictionaryCompressor(ABC):
    """Compresses inputs given a fixed dictionary prepared once."""

    @abstractmethod
    def compress(self, data: bytes) -> bytes:
        """``data`` compressed with the dictionary as shared history."""

    def size(self, data: bytes) -> int:
        """Compressed size of ``data`` given the dictionary, in bytes."""
        return len(self.compress(data))


class SizeCompressor(ABC):
    """A compressor known by name: plain compression and dictionary preparation."""

    name: str

    @abstractmethod
    def compress(self, data: bytes) -> bytes:
        """``data`` compressed on its own."""

    def size(self, data: bytes) -> int:
        """Compressed size of ``data`` on its own, in bytes."""
        return len(self.compress(data))

    @abstractmethod
    def with_dictionary(self, dictionary: bytes) -> DictionaryCompressor:
        """Prepare ``dictionary`` (raw content, e.g. baseline events) for repeated use."""


class _ZstdDictionary(DictionaryCompressor):
    def __init__(self, dictionary: bytes, level: int) -> None:
        # Raw content: the baseline itself is the history matches refer to (no trained model).
        zdict = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        self._cctx = zstandard.ZstdCompressor(
            level=level,
            dict_data=zdict,
            write_checksum=False,
            write_content_size=False,
            write_dict_id=False,
        )

    def compress(self, data: bytes) -> bytes:
        return self._cctx.compress(data)

    def size(self, data: bytes) -> int:
        # Direct: this runs for every event.
        return len(self._cctx.compress(data))


class ZstdCompressor(SizeCompressor):
    """Zstandard (default level 3): fast, and strong on short inputs with a dictionary."""

    name = "zstd"

    def __init__(self, level: int = 3) -> None:
        self.level = level
        self._cctx = zstandard.ZstdCompressor(
            level=level, write_checksum=False, write_content_size=False, write_dict_id=False
        )

    def compress(self, data: bytes) -> bytes:
        return self._cctx.compress(data)

    def with_dictionary(self, dictionary: bytes) -> DictionaryCompressor:
        # zstd rejects raw-content dictionaries under 8 bytes; padding keeps tiny baselines valid.
        return _ZstdDictionary(dictionary.rjust(8, b"\n"), self.level)


class _Lz4Dictionary(DictionaryCompressor):
    def __init__(self, dictionary: bytes) -> None:
        self._dict = dictionary[-_LZ4_WINDOW:]

    def compress(self, data: bytes) -> bytes:
        return lz4.block.compress(data, store_size=False, dict=self._dict)  # type: ignore[no-any-return]


class Lz4Compressor(SizeCompressor):
    """LZ4 (frame format on its own, block format with a dictionary): fastest, weakest."""

    name = "lz4"

    def compress(self, data: bytes) -> bytes:
        return lz4.frame.compress(  # type: ignore[no-any-return]
            data, content_checksum=False, store_size=False
        )

    def with_dictionary(self, dictionary: bytes) -> DictionaryCompressor:
        return _Lz4Dictionary(dictionary)


class _DeflateDictionary(DictionaryCompressor):
    def __init__(self, dictionary: bytes, level: int) -> None:
        # Primed once; each input then compresses from a copy of the primed state.
        self._primed = zlib.compressobj(
            level, zlib.DEFLATED, -15, zdict=dictionary[-_DEFLATE_WINDOW:] or b"\n"
        )

    def compress(self, data: bytes) -> bytes:
        cobj = self._primed.copy()
        return cobj.compress(data) + cobj.flush()


class GzipCompressor(SizeCompressor):
    """Deflate, as in gzip (raw stream: no gzip header or trailer)."""

    name = "gzip"

    def __init__(self, level: int = 6) -> None:
        self.level = level

    def compress(self, data: bytes) -> bytes:
        cobj = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        return cobj.compress(data) + cobj.flush()

    def with_dictionary(self, dictionary: bytes) -> DictionaryCompressor:
        return _DeflateDictionary(dictionary, self.level)


@dataclass(frozen=True, slots=True)
class CompressorChoice:
    """The compressor used for a requested name, and the name it replaced, if any."""

    compressor: SizeCompressor
    fallback_from: str | None

    @property
    def algo(self) -> str:
        """Name of the algorithm actually used."""
        return self.compressor.name


def choose_compressor(name: str) -> CompressorChoice:
    """A fresh compressor for ``name`` (zstd, lz4, gzip; zlab and openzl fall back to zstd).

    Compressor objects hold reusable native contexts and are not thread-safe: each detector
    keeps its own.
    """
    requested = name.lower()
    actual = FALLBACKS.get(requested, requested)
    fallback_from = requested if actual != requested else None
    if actual == "zstd":
        return CompressorChoice(ZstdCompressor(), fallback_from)
    if actual == "lz4":
        return CompressorChoice(Lz4Compressor(), fallback_from)
    if actual == "gzip":
        return CompressorChoice(GzipCompressor(), fallback_from)
    known = ", ".join((*ALGORITHMS, *FALLBACKS))
    raise ValueError(f"unknown compressor {name!r}: expected one of {known}")
