"""Peak CPU% and RSS of livekit-server and of the agent worker with its job processes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil


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

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _run(self) -> None:
        known: dict[int, psutil.Process] = {}  # cpu_percent needs the same object twice
        while not self._stop.wait(self.interval):
            for label, pid in self.roots.items():
                cpu = rss = 0.0
                for proc in self._tree(pid):
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
