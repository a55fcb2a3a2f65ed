"""The benchmark's runs: rooms one after another, bursts of rooms at once, each against a
worker that is already registered. A progress bar shows where the run is."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from pathlib import Path
from typing import Any

from livekit import api

from bench.measure import API_TIMEOUT_SECONDS, Join, Mode, Target, join_once
from bench.profile import py_spy
from bench.resources import CpuSpent, ResourceSampler
from bench.shards import burst
from bench.stack import Stack, Worker
from bench.summary import summarize
from devstack.livekit import api_client


class Progress:
    """A one-line progress bar on stderr (one line per step when it is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = max(total, 1), 0
        self.tty = sys.stderr.isatty()

    def step(self, label: str, n: int = 1) -> None:
        self.done += n
        filled = int(30 * min(self.done, self.total) / self.total)
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label}"
        if self.tty:
            print(f"\r{line:<100}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def room_name(tag: str) -> str:
    return f"bench-{tag}-{uuid.uuid4().hex[:8]}"


def _client(stack: Stack) -> api.LiveKitAPI:
    return api_client(stack.url, stack.api_key, stack.api_secret, timeout=API_TIMEOUT_SECONDS)


async def _sequential(
    stack: Stack, target: Target, mode: Mode, rooms: int, progress: Progress, label: str
) -> list[Join]:
    joins = []
    async with _client(stack) as lk:
        for _ in range(rooms):
            joins.append(await join_once(target, lk, mode, room_name(mode)))
            progress.step(f"{label}: {mode}, one room at a time")
    return joins


def sequential(
    stack: Stack, target: Target, mode: Mode, rooms: int, progress: Progress, label: str
) -> dict[str, Any]:
    return summarize(asyncio.run(_sequential(stack, target, mode, rooms, progress, label)))


def bursts(
    stack: Stack,
    target: Target,
    levels: list[int],
    worker: Worker | None,
    progress: Progress,
    label: str,
    profile: Path | None = None,
    repeats: int = 1,
    wait_dispatcher: bool = False,
) -> list[dict[str, Any]]:
    """Each level in turn, `repeats` times: that many people already in their rooms, then as
    many explicit dispatches at once (with `wait_dispatcher`, once the server's agent
    dispatcher answers at once, bench/settle.py: a diagnostic, not what a user waits for). A level's figures pool the joins of its bursts (the
    nearest-rank p95 of one burst of 20 is its second-slowest join), with the peak CPU and
    memory of the server and the worker's tree, and the CPU-seconds one burst cost the
    worker, the server and the people's clients. With `profile`, py-spy records the worker
    during the largest level."""
    out = []
    for count in levels:
        roots = {"livekit-server": stack.server_pid, "agent worker": worker.pid if worker else None}
        spy = (
            py_spy(worker.pid, profile)
            if profile and worker and count == max(levels)
            else contextlib.nullcontext()
        )
        joins: list[Join] = []
        spent: list[dict[str, float | None]] = []
        waits: list[float | None] = []
        quiet: list[float | None] = []  # after each burst, until the worker was quiet
        with ResourceSampler({k: v for k, v in roots.items() if v}) as sampler, spy:
            for _ in range(repeats):
                with CpuSpent({"worker": roots["agent worker"], "server": stack.server_pid}) as cpu:
                    rooms = [room_name(f"c{count}") for _ in range(count)]
                    done = burst(stack.http_url, target, rooms, stack.log_path, wait_dispatcher)
                joins += done.joins
                waits.append(done.server_wait_s)
                progress.step(f"{label}: {count} rooms at once", count)
                if worker:
                    quiet.append(worker.wait_idle())
                spent.append(cpu.seconds)
        out.append(
            {
                "concurrency": count,
                "bursts": repeats,
                "summary": summarize(joins),
                "resources": sampler.figures(),
                "cpu_seconds": _mean(spent),
                "server_wait_s": waits,
                "worker_quiet_after_s": quiet,
            }
        )
    return out


def _mean(spent: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Each figure's mean over the bursts (None where it could not be read)."""
    return {
        key: None
        if any(s[key] is None for s in spent)
        else round(sum(s[key] or 0.0 for s in spent) / len(spent), 2)
        for key in spent[0]
    }
