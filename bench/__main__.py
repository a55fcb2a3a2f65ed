"""`python -m bench` (or `make bench`): how long until the agent joins, how many rooms at
once before agents stop coming, and what it costs, for the stack's worker and, in the same
run on the same server, for a seed-style baseline. Real server, real workers, real clients.
This reads the command line, runs the idle and conversation phases (bench/idle.py,
bench/turns.py) and the join phases (bench/join_phases.py), and writes the report."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import turns
from bench.idle import WINDOW_SECONDS as IDLE_SECONDS
from bench.idle import measure as measure_idle
from bench.join_phases import (
    floor_runs,
    own_server_phases,
    rooms_planned,
    stack_runs,
    target_of,
)
from bench.measure import Mode
from bench.report import markdown, write
from bench.runs import Progress
from bench.stack import BENCH_AGENT, own_server, running_stack, stop_on_sigterm
from devstack.settings import load_settings
from devstack.timeline import AFFINITY_FLOOR_MS

ROOT = Path(__file__).resolve().parent.parent


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
    total = rooms_planned(args, modes, levels, start_levels)
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
        target = target_of(stack, settings.livekit_agent_name)
        result["stack"] = stack_runs(
            stack, target, modes, levels, args.rooms, None, progress, None, args
        )
        result["floor"] = floor_runs(target, levels, progress)
    else:
        with own_server() as stack:
            result["server_start_s"] = round(stack.start_s, 2)
            own_server_phases(result, stack, args, modes, levels, start_levels, progress)
            result["floor"] = floor_runs(target_of(stack, BENCH_AGENT), levels, progress)
    progress.close()
    return result


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
