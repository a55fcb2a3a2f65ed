"""What the stack costs while nothing happens: `make dev`'s processes (livekit-server, the
proxy and the worker, each under its supervisor), one person in a room with the debug page
open in a real headless Chromium, the agent joined, nobody speaking. The CPU the proxy and
the worker use over a window, as a share of one core: the page's own polling is part of
what is measured, since it is what keeps a proxy busy while nobody talks. The same
processes are first measured with no page open and nobody in a room, in the same run.

`python -m bench.idle` runs this alone; `make bench` runs it as its first phase."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from bench.resources import cpu_seconds, wait_quiet
from bench.stack import stop_on_sigterm
from bench.targets import TARGETS
from devstack.chromium import launch_chromium
from devstack.local_server import choose_runtime, start_livekit_server
from devstack.processes import AgentWorker, Proxy
from devstack.waiting import free_port

IDLE_AGENT = "idle-agent"
WINDOW_SECONDS = 30.0
JOIN_TIMEOUT_MS = 60_000
# The join's own work (the agent starting its session, the watcher's events) is over once
# each process uses under a tenth of a core for half a second; past this, measure anyway.
SETTLE_TIMEOUT = 20.0
MEASURED = ("proxy", "worker")  # judged against the target; the server is shown beside


@dataclass
class Idle:
    """CPU-seconds spent in the window, per process, and the window's length."""

    window_s: float
    cpu_s: dict[str, float]

    def percent(self, label: str) -> float:
        return round(100 * self.cpu_s[label] / self.window_s, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": round(self.window_s, 1),
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_s.items()},
            "cpu_percent_of_a_core": {k: self.percent(k) for k in self.cpu_s},
        }


def silence_wav(directory: Path) -> Path:
    """One second of silence: Chromium loops it as the microphone (nobody speaking)."""
    path = directory / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"\0\0" * 48_000)
    return path


@contextlib.contextmanager
def chromium(mic: Path) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = launch_chromium(pw, mic)
        try:
            yield browser
        finally:
            browser.close()


def measure(window_s: float = WINDOW_SECONDS) -> dict[str, Any]:
    """Start the stack as `make dev` runs it, join a room from the debug page, and measure
    the proxy's and the worker's CPU over `window_s` while nobody speaks."""
    with tempfile.TemporaryDirectory(prefix="devstack-idle-") as tmp:
        state = Path(tmp)
        proxy_port = free_port()
        server = start_livekit_server(
            choose_runtime(),
            state_dir=state,
            webhook_url=f"http://127.0.0.1:{proxy_port}/api/webhooks/livekit",
        )
        worker = proxy = None
        try:
            worker = AgentWorker(server, IDLE_AGENT, supervised=True)
            proxy = Proxy(server, IDLE_AGENT, worker.health_url, port=proxy_port, supervised=True)
            worker.wait_registered(timeout=90)
            proxy.wait_ready()
            pids = {
                "proxy": proxy.supervised_pid(),
                "worker": worker.supervised_pid(),
                "livekit-server": server.pid,
            }
            # The floor: the same processes with no page open and nobody in a room.
            for label in MEASURED:
                wait_quiet(pids[label], SETTLE_TIMEOUT)
            alone = _window(pids, window_s)
            with chromium(silence_wav(state)) as browser:
                page = browser.new_page()
                room = f"idle-{uuid.uuid4().hex[:8]}"
                page.goto(f"{proxy.url}/debug?room={room}&mode=explicit&agent={IDLE_AGENT}")
                page.click("#connect")
                page.wait_for_function(
                    "window.devstack.state === 'joined'", timeout=JOIN_TIMEOUT_MS
                )
                settled = {k: wait_quiet(pids[k], SETTLE_TIMEOUT) for k in MEASURED}
                idle = _window(pids, window_s)
                still = page.evaluate("window.devstack.state")
            result = idle.to_dict()
            result["no_page"] = alone.to_dict()
            result["settled_after_s"] = settled
            result["page_state_after"] = still  # "joined": the person stayed all along
            return result
        finally:
            for process in (proxy, worker):
                if process is not None:
                    process.stop()
            server.stop()


def _window(pids: dict[str, int], window_s: float) -> Idle:
    """CPU-seconds of each process tree over `window_s` of wall time."""
    before = {k: cpu_seconds(pid) for k, pid in pids.items()}
    started = time.monotonic()
    time.sleep(window_s)  # the measurement window itself, not a wait for readiness
    after = {k: cpu_seconds(pid) for k, pid in pids.items()}
    elapsed = time.monotonic() - started
    return Idle(elapsed, {k: after[k] - before[k] for k in pids})


def report(result: dict[str, Any]) -> str:
    """One line per process: its share of a core, and the target."""
    share = result["cpu_percent_of_a_core"]
    target = TARGETS["idle_cpu_percent"]
    alone = result["no_page"]["cpu_percent_of_a_core"]
    lines = [f"idle, the debug page open, nobody speaking, over {result['window_s']:.0f} s:"]
    for label, pct in share.items():
        judged = f", target ≤ {target:g} %" if label in MEASURED else ""
        lines.append(
            f"  {label}: {pct:.2f} % of a core (no page open: {alone[label]:.2f} %{judged})"
        )
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> list[str]:
    """The report's table (bench/report.py)."""
    window = result["window_s"]
    lines = [
        "",
        f"### Idle: the debug page open, the agent joined, nobody speaking ({window:.0f} s)",
        "",
        "| process | % of a core | CPU-s in the window | no page open, nobody in a room: % of a core |",
        "| --- | --- | --- | --- |",
    ]
    alone = result["no_page"]["cpu_percent_of_a_core"]
    for label, pct in result["cpu_percent_of_a_core"].items():
        lines.append(
            f"| {label} | {pct:.2f} | {result['cpu_seconds'][label]:.2f} | {alone[label]:.2f} |"
        )
    return lines


def verdicts(result: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(measure, measured, target, met) for the targets table (bench/verdicts.py)."""
    target = TARGETS["idle_cpu_percent"]
    return [
        (
            f"{label} CPU, idle with the page open",
            f"{result['cpu_percent_of_a_core'][label]:.2f} % of a core",
            f"≤ {target:g} %",
            result["cpu_percent_of_a_core"][label] <= target,
        )
        for label in MEASURED
    ]


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    p = argparse.ArgumentParser(prog="bench.idle", description=__doc__)
    p.add_argument("--seconds", type=float, default=WINDOW_SECONDS, help="the window")
    args = p.parse_args(argv)
    result = measure(args.seconds)
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
