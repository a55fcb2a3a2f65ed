"""The lines a process appends to its log, read as they come: a reader polls for what is
new and gets only whole lines (a line still being written waits for its end)."""

from __future__ import annotations

from pathlib import Path


class NewLines:
    """Each call returns the whole lines appended to `path` since the previous call, the
    first call those after byte `since` (by default, where the log ends now)."""

    def __init__(self, path: Path, since: int | None = None) -> None:
        self.path = path
        self.offset = path.stat().st_size if since is None else since
        self._pending = b""  # bytes: a read may end inside a multi-byte character

    def __call__(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return [line.decode(errors="replace") for line in lines]
