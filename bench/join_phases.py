"""The join phases of `python -m bench`: rooms one at a time per dispatch mode and bursts
of rooms at once for the stack's worker (stack_runs); on the benchmark's own server also
the worker in production mode, the seed-style baseline and the knobs, each on a freshly
started worker (own_server_phases); livekit.rtc alone, the floor of each level
(floor_runs) and the two largest levels in one process and in two; and how many rooms all
that dispatches (rooms_planned)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench import sdk_floor
from bench.measure import Mode, Target
from bench.runs import Progress, bursts, sequential
from bench.stack import BENCH_AGENT, PLAIN_AGENT, Stack, Worker, plain_worker, worker
from devstack.timeline import AFFINITY_FLOOR_MS

ANNOUNCE_ROOMS = 10  # the plain agent that sets one attribute: a few rooms prove the point
# Rounds of one room for the one-at-a-time floor (a burst level's rooms are samples enough).
FLOOR_ROUNDS = 10
SDK_FLOOR_PROCESSES = (1, 2)
# (label, AGENT_JOB_EXECUTOR, AGENT_IDLE_PROCESSES) compared by --knobs.
KNOBS = [
    ("one process per job, 1 warm", "process", "1"),
    ("one thread per job, 1 warm", "thread", "1"),
    ("a thread and a loop per job, 4 warm", "thread", "4"),
    ("a thread per job on one shared loop, 4 warm (the loopback default)", "loop", "4"),
]


def rooms_planned(
    args: argparse.Namespace, modes: list[Mode], levels: list[int], start_levels: list[int]
) -> int:
    """The rooms the join phases will dispatch, for the progress bar: counted beside the
    phases that spend them, so a change to one phase's rooms is made next to its count."""
    named_rooms = args.rooms * len([m for m in modes if m != "auto"])
    total = named_rooms + sum(levels) * args.repeats
    if not args.use_running:
        total += args.rooms * ("auto" in modes) + sum(start_levels)
        total += 0 if args.no_baseline else args.rooms + sum(levels) + ANNOUNCE_ROOMS
        total += (args.rooms + max(levels, default=0)) * len(KNOBS) if args.knobs else 0
        total += sum(sdk_floor_levels(args, levels)) * len(SDK_FLOOR_PROCESSES)
    return total + FLOOR_ROUNDS + sum(levels)


def floor_runs(target: Target, levels: list[int], progress: Progress) -> list[dict[str, Any]]:
    """The floor of one room and of each burst level, measured in this run (sdk_floor.py)."""
    out = []
    for count in sorted({1, *levels}):
        rounds = FLOOR_ROUNDS if count == 1 else 1
        out.append(sdk_floor.floor(target, count, AFFINITY_FLOOR_MS, rounds))
        progress.step(f"the floor: {count} room(s) with livekit.rtc alone", count * rounds)
    return out


def target_of(stack: Stack, name: str) -> Target:
    return Target(stack.url, stack.api_key, stack.api_secret, name, stack.proxy_url)


def own_server_phases(
    result: dict[str, Any],
    stack: Stack,
    args: argparse.Namespace,
    modes: list[Mode],
    levels: list[int],
    start_levels: list[int],
    progress: Progress,
) -> None:
    """Every phase, each on a freshly started worker of the benchmark's own server."""
    named = target_of(stack, BENCH_AGENT)
    profile = args.out / "profile.svg" if args.profile else None
    if profile:
        args.out.mkdir(parents=True, exist_ok=True)
    with worker(stack, BENCH_AGENT) as w:
        result["stack"] = stack_runs(
            stack, named, modes, levels, args.rooms, w, progress, profile, args
        )
        result["stack"]["worker_start_s"] = round(w.start_s, 2)
    if "auto" in modes:
        # An unnamed worker takes every new room, so it runs alone.
        with worker(stack, ""):
            auto = target_of(stack, "")
            result["stack"]["sequential"]["auto"] = sequential(
                stack, auto, "auto", args.rooms, progress, "stack"
            )
    if start_levels:
        with worker(stack, BENCH_AGENT, "--prod") as w:
            result["start_mode"] = bursts(
                stack,
                named,
                start_levels,
                w,
                progress,
                "start mode",
                wait_dispatcher=args.wait_dispatcher,
            )
    if not args.no_baseline:
        plain = target_of(stack, PLAIN_AGENT)
        with plain_worker(stack) as w:
            result["baseline"] = {
                "worker_start_s": round(w.start_s, 2),
                "sequential": {
                    "explicit": sequential(
                        stack, plain, "explicit", args.rooms, progress, "baseline"
                    )
                },
                "concurrent": bursts(
                    stack,
                    plain,
                    levels,
                    w,
                    progress,
                    "baseline",
                    wait_dispatcher=args.wait_dispatcher,
                ),
            }
        with plain_worker(stack, announce=True):
            result["announce"] = sequential(
                stack, plain, "explicit", ANNOUNCE_ROOMS, progress, "plain agent + attribute"
            )
    result["sdk_floor"] = _sdk_floor(named, sdk_floor_levels(args, levels), progress)
    result["knobs"] = []
    top = [max(levels)] if levels else []
    for label, executor, idle in KNOBS if args.knobs else ():
        env = {"AGENT_JOB_EXECUTOR": executor, "AGENT_IDLE_PROCESSES": idle}
        with worker(stack, BENCH_AGENT, **env) as w:
            seq = sequential(stack, named, "explicit", args.rooms, progress, label)
            crowd = bursts(
                stack, named, top, w, progress, label, wait_dispatcher=args.wait_dispatcher
            )
        result["knobs"].append({"setting": label, "summary": seq, "concurrent": crowd})


def sdk_floor_levels(args: argparse.Namespace, levels: list[int]) -> list[int]:
    """The two largest burst levels, where the SDK's cost shows; none with --no-sdk-floor."""
    return [] if args.no_sdk_floor else sorted(levels)[-2:]


def _sdk_floor(target: Target, levels: list[int], progress: Progress) -> list[dict[str, Any]]:
    """livekit.rtc alone at each level, in one process and split over two."""
    out = []
    for count in levels:
        for processes in SDK_FLOOR_PROCESSES:
            out.append(sdk_floor.measure(target, count, processes))
            progress.step(f"livekit.rtc alone: {count} rooms in {processes} process(es)", count)
    return out


def stack_runs(
    stack: Stack,
    target: Target,
    modes: list[Mode],
    levels: list[int],
    rooms: int,
    w: Worker | None,
    progress: Progress,
    profile: Path | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Rooms one at a time per named mode, then each burst level in explicit mode."""
    seq = {
        mode: sequential(stack, target, mode, rooms, progress, "stack")
        for mode in modes
        if mode != "auto"
    }
    crowd = bursts(
        stack, target, levels, w, progress, "stack", profile, args.repeats, args.wait_dispatcher
    )
    return {"sequential": seq, "concurrent": crowd}
