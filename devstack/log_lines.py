"""The lines a process appends to its log, read as they come: only whole lines are handed
on (a line still being written waits for its end)."""

from __future__ import annotations

from pathlib import Path


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
    first call those after byte `since` (by default, where the log ends now)."""

    def __init__(self, path: Path, since: int | None = None) -> None:
        self.path = path
        self.offset = path.stat().st_size if since is None else since
        self._whole = WholeLines()

    def __call__(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        return self._whole(chunk)
