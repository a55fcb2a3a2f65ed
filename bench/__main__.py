"""`python -m bench` (or `scripts/bench`): how long until the agent joins, and how many
rooms at once before agents stop coming. Real server, real workers, real clients."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from livekit import api

from bench.measure import Join, Mode, Target, join_once
from bench.report import markdown, summarize, write
from bench.resources import ResourceSampler
from bench.stack import BENCH_AGENT, Stack, own_server, running_stack, worker
from devstack.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IDLE = 1
DEFAULT_EXECUTOR = "process"  # the agent's own default (AGENT_JOB_EXECUTOR)
# (idle processes, job executor, worker command) compared by --knobs.
KNOBS = [
    (0, "process", "dev"),
    (1, "process", "dev"),
    (3, "process", "dev"),
    (1, "thread", "dev"),
    (1, "process", "start"),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--rooms", type=int, default=30, help="rooms per mode, one after another")
    p.add_argument("--concurrency", default="1,5,10,20", help="comma-separated rooms at once")
    p.add_argument(
        "--modes", default="explicit,token,auto", help="dispatch modes for the sequential run"
    )
    p.add_argument(
        "--idle-processes",
        type=int,
        default=DEFAULT_IDLE,
        help="AGENT_IDLE_PROCESSES for the worker",
    )
    p.add_argument(
        "--job-executor",
        choices=["process", "thread"],
        default=DEFAULT_EXECUTOR,
        help="AGENT_JOB_EXECUTOR for the worker",
    )
    p.add_argument(
        "--knobs",
        action="store_true",
        help="also compare idle processes (0, 1, 3), thread vs process jobs, and dev vs start mode",
    )
    p.add_argument(
        "--use-running",
        action="store_true",
        help="measure the `make dev` stack (.env) instead of starting one; explicit and token modes only",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="directory for bench.json, bench.md, bench.png",
    )
    return p.parse_args(argv)


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int) -> None:
        self.total, self.done = max(total, 1), 0
        self.tty = sys.stderr.isatty()

    def step(self, label: str, n: int = 1) -> None:
        self.done += n
        filled = int(30 * self.done / self.total)
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label}"
        if self.tty:
            print(f"\r{line:<80}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def room_name(tag: str) -> str:
    return f"bench-{tag}-{uuid.uuid4().hex[:8]}"


async def sequential(
    stack: Stack, target: Target, mode: Mode, rooms: int, progress: Progress
) -> list[Join]:
    joins = []
    async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lk:
        for _ in range(rooms):
            joins.append(await join_once(target, lk, mode, room_name(mode)))
            progress.step(f"{mode} sequential")
    return joins


async def concurrent(
    stack: Stack, target: Target, mode: Mode, count: int, progress: Progress
) -> list[Join]:
    async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lk:
        joins = await asyncio.gather(
            *(join_once(target, lk, mode, room_name(f"c{count}")) for _ in range(count))
        )
    progress.step(f"{count} concurrent", count)
    return list(joins)


def resources(stack: Stack, worker_pid: int | None) -> ResourceSampler:
    roots = {}
    if stack.server_pid:
        roots["livekit-server"] = stack.server_pid
    if worker_pid:
        roots["agent worker"] = worker_pid
    return ResourceSampler(roots)


def prewarm_cost() -> dict[str, Any]:
    """Silero's load time, the cost every job process pays once in prewarm."""
    from livekit.plugins import silero

    times = []
    for _ in range(3):
        started = time.perf_counter()
        silero.VAD.load()
        times.append((time.perf_counter() - started) * 1000)
    return {"silero_load_ms": statistics.median(times), "runs": len(times)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    modes: list[Mode] = [m for m in args.modes.split(",") if m]  # type: ignore[misc]
    levels = [int(c) for c in args.concurrency.split(",") if c]
    top = max(levels, default=0)
    knob_steps = (args.rooms + top) * len(KNOBS) if args.knobs else 0
    progress = Progress(args.rooms * len(modes) + sum(levels) + knob_steps)
    result: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "rooms": args.rooms,
            "concurrency": levels,
            "idle_processes": args.idle_processes,
            "job_executor": args.job_executor,
            "worker_mode": "dev",
        },
        "sequential": {},
        "concurrent": [],
        "concurrent_mode": "explicit",
        "knobs": [],
    }
    if args.use_running:
        stack = running_stack()
        name = load_settings().livekit_agent_name
        measure(
            result,
            stack,
            Target(stack.url, stack.api_key, stack.api_secret, name),
            modes,
            levels,
            args.rooms,
            None,
            progress,
        )
        progress.close()
        return result

    with own_server() as stack:
        named = Target(stack.url, stack.api_key, stack.api_secret, BENCH_AGENT)
        started = time.perf_counter()
        with worker(stack, BENCH_AGENT, args.idle_processes, args.job_executor) as w:
            result["prewarm"] = {
                **prewarm_cost(),
                "worker_start_s": round(time.perf_counter() - started, 2),
            }
            measure(result, stack, named, modes, levels, args.rooms, w.pid, progress)
        if "auto" in modes:
            # An unnamed worker takes every new room, so it runs alone.
            with worker(stack, "", args.idle_processes, args.job_executor):
                auto = Target(stack.url, stack.api_key, stack.api_secret, "")
                result["sequential"]["auto"] = summarize(
                    asyncio.run(sequential(stack, auto, "auto", args.rooms, progress))
                )
        for idle, executor, command in KNOBS if args.knobs else ():
            with worker(stack, BENCH_AGENT, idle, executor, command):
                joins = asyncio.run(sequential(stack, named, "explicit", args.rooms, progress))
                crowd = (
                    asyncio.run(concurrent(stack, named, "explicit", top, progress)) if top else []
                )
            result["knobs"].append(
                {
                    "setting": f"AGENT_IDLE_PROCESSES={idle}, AGENT_JOB_EXECUTOR={executor}, {command} mode",
                    "summary": summarize(joins),
                    "concurrent": {"rooms": top, **summarize(crowd)},
                }
            )
    progress.close()
    return result


def measure(
    result: dict[str, Any],
    stack: Stack,
    target: Target,
    modes: list[Mode],
    levels: list[int],
    rooms: int,
    worker_pid: int | None,
    progress: Progress,
) -> None:
    """Sequential rooms per named mode, then each concurrency level in explicit mode."""
    for mode in [m for m in modes if m != "auto"]:
        result["sequential"][mode] = summarize(
            asyncio.run(sequential(stack, target, mode, rooms, progress))
        )
    for c in levels:
        with resources(stack, worker_pid) as sampler:
            joins = asyncio.run(concurrent(stack, target, "explicit", c, progress))
        result["concurrent"].append(
            {"concurrency": c, "summary": summarize(joins), "resources": _peaks(sampler)}
        )


def _peaks(sampler: ResourceSampler) -> dict[str, dict[str, float]]:
    return {
        label: {"cpu_percent": round(p.cpu_percent, 1), "rss_mb": round(p.rss_mb, 1)}
        for label, p in sampler.peaks.items()
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    paths = write(result, args.out)
    print(markdown(result))
    print(f"\nwrote {paths['json']}, {paths['markdown']} and {paths['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
