"""The one byte range of an HTTP `Range` header (RFC 9110 §14), for the session audio: a
browser's <audio> asks for the part it needs, so a seek plays before the file is loaded.

One range is served: `bytes=a-b`, `bytes=a-`, `bytes=-n`. A header this does not serve
(another unit, several ranges, bad syntax) is ignored, as RFC 9110 allows: the whole body,
200. A range that starts past the end is unsatisfiable: 416."""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 9110's int-range and suffix-range, ASCII digits only (int() takes other digits too).
RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# Past this many digits a position is past any file; int() refuses past 4,300 digits.
MAX_DIGITS = 18


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of `size`, both inclusive, as Content-Range counts them."""

    start: int
    end: int
    size: int

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"

    def of(self, data: bytes) -> bytes:
        return data[self.start : self.end + 1]


class UnsatisfiableRangeError(ValueError):
    """A range that holds no byte of the body (it starts at or past its end)."""


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_DIGITS else 10**MAX_DIGITS


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The range `header` asks for in a body of `size` bytes; None for the whole body (no
    header, or one this does not serve). Raises UnsatisfiableRangeError for a range past
    the end, or of no bytes (`bytes=-0`)."""
    match = RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None  # "bytes=-": neither a position nor a suffix length
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise UnsatisfiableRangeError(f"the last {suffix} bytes of {size}")
        return ByteRange(max(0, size - suffix), size - 1, size)
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax (RFC 9110 §14.1.1): ignored
    if start >= size:
        raise UnsatisfiableRangeError(f"bytes {start}- of {size}")
    return ByteRange(start, min(end, size - 1), size)
