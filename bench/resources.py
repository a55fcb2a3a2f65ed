"""Peak CPU% and RSS of livekit-server and of the agent worker with its job processes, and
the CPU-seconds a burst costs each of them and the benchmark's own clients."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import psutil


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and its descendants alive now; none if it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


@dataclass
class Peak:
    cpu_percent: float = 0.0
    rss_mb: float = 0.0


@dataclass
class ResourceSampler:
    """Samples process trees in a thread; `peaks` holds the maximum of each sum."""

    roots: dict[str, int]  # label -> pid
    interval: float = 0.25
    peaks: dict[str, Peak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ResourceSampler:
        self.peaks = {label: Peak() for label in self.roots}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        known: dict[int, psutil.Process] = {}  # cpu_percent needs the same object twice
        while not self._stop.wait(self.interval):
            for label, pid in self.roots.items():
                cpu = rss = 0.0
                for proc in tree(pid):
                    proc = known.setdefault(proc.pid, proc)
                    try:
                        cpu += proc.cpu_percent(None)
                        rss += proc.memory_info().rss
                    except psutil.Error:
                        continue
                peak = self.peaks[label]
                peak.cpu_percent = max(peak.cpu_percent, cpu)
                peak.rss_mb = max(peak.rss_mb, rss / 2**20)

    def figures(self) -> dict[str, dict[str, float]]:
        """Peak CPU% and RSS (MB) per label, rounded for the report."""
        return {
            label: {"cpu_percent": round(p.cpu_percent, 1), "rss_mb": round(p.rss_mb, 1)}
            for label, p in self.peaks.items()
        }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU-seconds of `pid` and its children alive now, with what their
    children that ended cost (a job process the worker reaped); 0 if it is gone."""
    total = 0.0
    for proc in tree(pid):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


# The worker is quiet once its whole tree uses under a tenth of a core over half a second
# (idle, it uses about 3 % here: its load monitor and the SDK's audio thread).
QUIET_WINDOW = 0.5
QUIET_SHARE = 0.1


def wait_quiet(pid: int, timeout: float) -> float | None:
    """Until the process tree of `pid` is quiet; the seconds that took, or None if it was
    not within `timeout` (or the process is gone)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(QUIET_WINDOW)  # the window the CPU is measured over
        if not tree(pid):
            return None
        if cpu_seconds(pid) - before < QUIET_SHARE * QUIET_WINDOW:
            return round(time.monotonic() - started, 1)
    return None


@dataclass
class CpuSpent:
    """The CPU-seconds spent while it is entered: by each root's process tree, and by the
    people: the benchmark's clients, in this process (a burst small enough for one process,
    bench/shards.py) or in its children that ended meanwhile (os.times counts a child once
    it was waited for)."""

    roots: dict[str, int | None]  # None: a process not at hand (the `make dev` server's)
    seconds: dict[str, float | None] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        t = os.times()
        return {
            **{label: cpu_seconds(pid) for label, pid in self.roots.items() if pid is not None},
            "people": t.user + t.system + t.children_user + t.children_system,
        }

    def __enter__(self) -> CpuSpent:
        self._start = self._now()
        return self

    def __exit__(self, *_: object) -> None:
        end = self._now()
        self.seconds = dict.fromkeys(self.roots)
        self.seconds.update({k: round(end[k] - self._start[k], 2) for k in end})
