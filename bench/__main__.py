"""`python -m bench` (or `make bench`): how long until the agent joins, how many rooms at
once before agents stop coming, and what it costs, for the stack's worker and, in the same
run on the same server, for a seed-style baseline. Real server, real workers, real clients."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import sdk_floor, turns
from bench.idle import WINDOW_SECONDS as IDLE_SECONDS
from bench.idle import measure as measure_idle
from bench.measure import Mode, Target
from bench.report import markdown, write
from bench.runs import Progress, bursts, sequential
from bench.stack import (
    BENCH_AGENT,
    PLAIN_AGENT,
    Stack,
    Worker,
    own_server,
    plain_worker,
    running_stack,
    stop_on_sigterm,
    worker,
)
from devstack.settings import load_settings
from devstack.timeline import AFFINITY_FLOOR_MS

ROOT = Path(__file__).resolve().parent.parent
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--rooms", type=int, default=30, help="rooms per mode, one after another")
    p.add_argument("--concurrency", default="1,5,10,20,50", help="comma-separated rooms at once")
    p.add_argument("--modes", default="explicit,token,auto", help="dispatch modes, one at a time")
    p.add_argument(
        "--repeats",
        type=_positive,
        default=3,
        help="bursts per level for the stack's worker, their joins pooled (one burst of 20 "
        "gives its second-slowest join as the p95)",
    )
    p.add_argument(
        "--start-bursts",
        default="20,50",
        help="bursts for the worker in production (`start`) mode, counting lost dispatches",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the seed-style baseline")
    p.add_argument(
        "--no-sdk-floor",
        action="store_true",
        help="skip livekit.rtc alone (no agents) joining the two largest bursts' rooms",
    )
    p.add_argument(
        "--knobs", action="store_true", help="also compare job executors and warm processes"
    )
    p.add_argument(
        "--wait-dispatcher",
        action="store_true",
        help="a diagnostic: each burst's dispatches wait until livekit-server's agent "
        "dispatcher answers at once (bench/settle.py), which a real burst does not",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the stack's worker in the largest burst (writes profile.svg)",
    )
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=IDLE_SECONDS,
        help="the idle phase's window: the stack up, the debug page open in Chromium, the "
        "agent joined, nobody speaking; the proxy's and the worker's CPU (0 skips it)",
    )
    p.add_argument(
        "--turns",
        type=int,
        default=turns.TURNS,
        help="the conversation phase (bench/turns.py), after the idle one: turns of one "
        "conversation with the offline Inference gateway, then 1, 2, 4, 8 at once "
        f"({turns.LEVEL_TURNS} turns each) until one does not hold (0 skips it)",
    )
    p.add_argument(
        "--turn-levels",
        default=",".join(map(str, turns.LEVELS)),
        help="the conversation phase's levels of conversations at once, in order",
    )
    p.add_argument(
        "--use-running",
        action="store_true",
        help="measure the `make dev` stack instead of starting one; explicit and token only",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="directory for bench.json, bench.md, bench.png",
    )
    return p.parse_args(argv)


def _ints(text: str) -> list[int]:
    return [int(c) for c in text.split(",") if c.strip()]


def run(args: argparse.Namespace) -> dict[str, Any]:
    modes: list[Mode] = [m for m in args.modes.split(",") if m]  # type: ignore[misc]
    levels, start_levels = _ints(args.concurrency), _ints(args.start_bursts)
    settings = load_settings()
    result: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count()},
        "floor_ms": AFFINITY_FLOOR_MS,
        "settings": {
            "rooms": args.rooms,
            "dispatch": "POST /api/dispatch-agent (the stack's proxy)",
            "wait_dispatcher": args.wait_dispatcher,
            "concurrency": levels,
            "repeats": args.repeats,
            # What the stack's worker runs with: the settings' defaults (AGENT_* from .env
            # are dropped by the launcher, so a local .env does not change the figures).
            "job_executor": type(settings).model_fields["agent_job_executor"].default,
        },
    }
    named_rooms = args.rooms * len([m for m in modes if m != "auto"])
    total = named_rooms + sum(levels) * args.repeats
    if not args.use_running:
        total += args.rooms * ("auto" in modes) + sum(start_levels)
        total += 0 if args.no_baseline else args.rooms + sum(levels) + ANNOUNCE_ROOMS
        total += (args.rooms + max(levels, default=0)) * len(KNOBS) if args.knobs else 0
        total += sum(sdk_floor_levels(args, levels)) * len(SDK_FLOOR_PROCESSES)
    total += FLOOR_ROUNDS + sum(levels)
    with_idle = args.idle_seconds > 0 and not args.use_running
    with_turns = args.turns > 0 and not args.use_running
    progress = Progress(total + with_idle + with_turns)
    if with_idle:
        # First, on a stack of its own (supervised, as `make dev` runs it), before the
        # bursts leave anything running.
        result["idle"] = measure_idle(args.idle_seconds)
        progress.step("idle: the debug page open, nobody speaking")
    if with_turns:
        # Then conversations, also on a stack of their own: the gateway's engines and the
        # people's audio would weigh on the join figures, and the bursts on the turns.
        at_once = tuple(_ints(args.turn_levels))
        result["turns"] = turns.measure(args.turns, at_once)
        progress.step("conversations with the offline Inference gateway")
    if args.use_running:
        stack = running_stack()
        target = _target(stack, settings.livekit_agent_name)
        result["stack"] = _ours(
            stack, target, modes, levels, args.rooms, None, progress, None, args
        )
        result["floor"] = _floor(target, levels, progress)
    else:
        with own_server() as stack:
            result["server_start_s"] = round(stack.start_s, 2)
            _own(result, stack, args, modes, levels, start_levels, progress)
            result["floor"] = _floor(_target(stack, BENCH_AGENT), levels, progress)
    progress.close()
    return result


def _floor(target: Target, levels: list[int], progress: Progress) -> list[dict[str, Any]]:
    """The floor of one room and of each burst level, measured in this run (sdk_floor.py)."""
    out = []
    for count in sorted({1, *levels}):
        rounds = FLOOR_ROUNDS if count == 1 else 1
        out.append(sdk_floor.floor(target, count, AFFINITY_FLOOR_MS, rounds))
        progress.step(f"the floor: {count} room(s) with livekit.rtc alone", count * rounds)
    return out


def _target(stack: Stack, name: str) -> Target:
    return Target(stack.url, stack.api_key, stack.api_secret, name, stack.proxy_url)


def _own(
    result: dict[str, Any],
    stack: Stack,
    args: argparse.Namespace,
    modes: list[Mode],
    levels: list[int],
    start_levels: list[int],
    progress: Progress,
) -> None:
    """Every phase, each on a freshly started worker of the benchmark's own server."""
    named = _target(stack, BENCH_AGENT)
    profile = args.out / "profile.svg" if args.profile else None
    if profile:
        args.out.mkdir(parents=True, exist_ok=True)
    with worker(stack, BENCH_AGENT) as w:
        result["stack"] = _ours(stack, named, modes, levels, args.rooms, w, progress, profile, args)
        result["stack"]["worker_start_s"] = round(w.start_s, 2)
    if "auto" in modes:
        # An unnamed worker takes every new room, so it runs alone.
        with worker(stack, ""):
            auto = _target(stack, "")
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
        plain = _target(stack, PLAIN_AGENT)
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


def _ours(
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


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    args = parse_args(argv)
    result = run(args)
    paths = write(result, args.out)
    print(markdown(result))
    print(f"\nwrote {paths['json']}, {paths['markdown']} and {paths['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
