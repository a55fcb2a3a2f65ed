"""The lines a process appends to its log, read as they come: only whole lines are handed
on (a line still being written waits for its end)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

# The last bytes read are checked to be still in place at the next read: a log cut to its
# newer half (the supervisor's rule past 20 MB) or begun anew can grow past the old offset
# again, and its size alone would not tell.
GUARD_BYTES = 64


class WholeLines:
    """Splits chunks of a log into its whole lines, keeping a line's unwritten end for the
    next chunk."""

    def __init__(self) -> None:
        self._pending = b""  # bytes: a chunk may end inside a multi-byte character

    def __call__(self, chunk: bytes) -> list[str]:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return [line.decode(errors="replace") for line in lines]


class NewLines:
    """Each call returns the whole lines appended to `path` since the previous call, the
    first call those after byte `since`; by default, those after where the log ends now,
    or with `tail`, from the first whole line of its last `tail` bytes. A log cut or begun
    anew by its writer is read again from its start (with `tail`, from its last `tail`
    bytes); `restarts` counts those, so a reader can drop what it derived from the old
    text."""

    def __init__(self, path: Path, since: int | None = None, tail: int | None = None) -> None:
        self.path = path
        self.tail = tail
        self.restarts = 0
        self._seen = b""  # the last bytes read, which must still be there next time
        self._whole = WholeLines()
        if since is not None:
            self.offset = since
        else:
            with path.open("rb") as log:
                self.offset = self._start(log)

    def _start(self, log: BinaryIO) -> int:
        """Where to read from: the log's end, or the first line of its `tail`."""
        size = log.seek(0, 2)
        if self.tail is None or size <= self.tail:
            return 0 if self.tail is not None else size
        at = size - self.tail
        log.seek(at - 1)
        newline = log.read().find(b"\n")  # a line cut by the tail is not a whole line
        return at + newline if newline >= 0 else size

    def __call__(self) -> list[str]:
        with self.path.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, self.offset - len(self._seen)))
            chunk = log.read()
            if size < self.offset or not chunk.startswith(self._seen):
                self.restarts += 1
                self.offset = self._start(log) if self.tail is not None else 0
                self._seen, self._whole = b"", WholeLines()
                log.seek(self.offset)
                chunk = log.read()
            else:
                chunk = chunk[len(self._seen) :]
        self.offset += len(chunk)
        self._seen = (self._seen + chunk)[-GUARD_BYTES:]
        return self._whole(chunk)
