"""The child's output: passed through to the terminal as it is (colours and all), kept
without colours in DEVSTACK_STATE_DIR/logs/<name>.log for the proxy and the doctor (the
worker's own log is where a job's crash is told), and its last lines kept in memory for
the reason of an exit."""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
from pathlib import Path
from typing import IO

from devstack.cloud_only import NativeLines
from devstack.crash import plain
from devstack.worker_log import LOGS

TAIL_LINES = 200
# A long-lived worker's log is cut back to its newer half past this size.
MAX_LOG_BYTES = 20 * 1024 * 1024


class Output:
    """Reads one child's merged stdout and stderr until it closes."""

    def __init__(self, state_dir: Path, name: str) -> None:
        self.path = state_dir / LOGS / f"{name}.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")  # a new log for each `make dev`
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._native = NativeLines()

    def follow(self, stream: IO[bytes]) -> None:
        """Start reading a new child's output (the previous child's reader is done)."""
        self.tail.clear()
        self._native = NativeLines()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def wait(self, timeout: float = 2.0) -> None:
        """Until the child's last lines are read: they say why it exited."""
        if self._reader is not None:
            self._reader.join(timeout)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self.tail)

    def _read(self, stream: IO[bytes]) -> None:
        with stream, contextlib.suppress(OSError, ValueError):
            for raw in iter(stream.readline, b""):
                text = raw.decode(errors="replace")
                clean = plain(text)
                # LiveKit Cloud's noise cancellation offline: the runner's one WARNING
                # says it (devstack/cloud_only.py); its native ERROR lines would not.
                if self._native.told_elsewhere(clean):
                    continue
                with contextlib.suppress(OSError, ValueError):
                    sys.stdout.buffer.write(raw)
                    sys.stdout.buffer.flush()
                with self._lock:
                    self.tail.append(text.rstrip("\n"))
                self._keep(clean + "\n")

    def _keep(self, text: str) -> None:
        with contextlib.suppress(OSError):
            if self.path.stat().st_size > MAX_LOG_BYTES:
                data = self.path.read_bytes()
                self.path.write_bytes(data[len(data) // 2 :])
            with self.path.open("a", encoding="utf-8") as log:
                log.write(text)
