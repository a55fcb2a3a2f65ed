"""The Range header of a session's audio (insights/ranges.py): the one range a player asks
for, the whole file for anything else, 416 for a range past the end."""

from __future__ import annotations

import pytest

from insights.ranges import ByteRange, UnsatisfiableRangeError, byte_range

pytestmark = pytest.mark.unit

SIZE = 5000


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=0-0", 0, 0),
        ("bytes=0-", 0, SIZE - 1),  # what Chrome's <audio> asks first
        ("bytes=4000-", 4000, SIZE - 1),
        ("bytes=4000-999999", 4000, SIZE - 1),  # past the end: cut to it
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=-999999", 0, SIZE - 1),  # a suffix longer than the file: all of it
        (" bytes=10-20 ", 10, 20),
    ],
)
def test_one_range_is_served(header: str, first: int, last: int) -> None:
    """Each form of one byte range gives those bytes, both ends included."""
    asked = byte_range(header, SIZE)
    assert asked == ByteRange(first, last, SIZE)
    assert asked.content_range == f"bytes {first}-{last}/{SIZE}"
    assert asked.of(bytes(range(256)) * 20) == (bytes(range(256)) * 20)[first : last + 1]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "items=0-10",  # another unit
        "bytes=0-10, 20-30",  # several ranges: not served, the whole file instead
        "bytes=20-10",  # last before first: invalid
        "bytes=-",
        "bytes=abc-",
        "bytes=\u0661-\u0662",  # digits, but not ASCII ones
        "bytes 0-10",
    ],
)
def test_anything_else_is_the_whole_file(header: str | None) -> None:
    """A header this does not serve is ignored, as RFC 9110 allows: 200, the whole body."""
    assert byte_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header", ["bytes=5000-", "bytes=5000-6000", "bytes=-0", "bytes=" + "9" * 5000 + "-"]
)
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    """No byte of the file in it (a 5,000-digit start too, which int() alone refuses)."""
    with pytest.raises(UnsatisfiableRangeError):
        byte_range(header, SIZE)


def test_a_huge_last_position_is_cut_to_the_end() -> None:
    """Past 18 digits a position is past any file, never an int() failure."""
    assert byte_range("bytes=10-" + "9" * 5000, SIZE) == ByteRange(10, SIZE - 1, SIZE)
