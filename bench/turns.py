"""Conversations with the offline Inference gateway (issue 32, Performance): how long a
person waits for the agent's answer, where that time goes, how many conversations at once
before it grows, and what the gateway costs (memory, start).

Real processes throughout: the benchmark's own livekit-server and proxy (bench/stack.py),
`python -m gateway`, the stack's worker in AGENT_MODE=inference (`python -m agent`,
uploading its sessions to the proxy), and livekit.rtc people, one per process, speaking
espeak-ng's speech into a microphone track (bench/conversations.py). Beside the turns, the
engines' own compute is measured directly in the same run: the gateway's Whisper on the
same utterances and its voice on the same answers, in a process of their own once the
stack is down (bench/engines_alone.py).

`python -m bench.turns` runs this alone; `make bench` runs it after the idle phase."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.conversations import delete_rooms, person_main, room_names
from bench.engines_alone import engines_main
from bench.resources import ResourceSampler, tree
from bench.session_figures import session_figures
from bench.spawned import gather
from bench.speech import Speech, synthesize
from bench.stack import Stack, own_server, stop_on_sigterm, worker
from bench.turn_figures import level_holds, level_summary
from bench.turns_report import markdown
from devstack.processes import Gateway, insights_env

TURN_AGENT = "turn-agent"
SENTENCES = (
    "What is the weather like in Paris today?",
    "Please tell me a short story about a friendly dog.",
    "How long does the train take from London to Berlin?",
    "I would like to book a table for two people tonight.",
    "Can you remind me to call my sister tomorrow morning?",
)
TURNS = 10  # turns of the one conversation alone: its p50 and p95 are the headline
LEVEL_TURNS = 4  # turns of each conversation at a level of several at once
LEVELS = (1, 2, 4, 8)
# What a turn must wait whatever the engines cost, by the stack's defaults: the agent's
# Silero VAD calls the speech over after 0.55 s of silence (livekit-plugins-silero's
# min_silence_duration), its endpointing waits 0.5 s from the last speech (livekit-agents'
# min_delay), and the gateway's final comes after 0.5 s (gateway/endpointing.py). They run
# side by side, so the window is the longest of the three.
SILENCE_WINDOW_S = max(0.55, 0.5, 0.5)
GATEWAY_READY_S = 120.0
SESSIONS_WAIT_S = 90.0  # for every conversation's session report to reach the proxy
ENGINES_WAIT_S = 300.0


def measure(
    turns: int = TURNS, levels: tuple[int, ...] = LEVELS, level_turns: int = LEVEL_TURNS
) -> dict[str, Any]:
    """One conversation of `turns` turns, then each level of `levels` with `level_turns`
    each, stopping at the first that does not hold; then the engines alone."""
    speeches = [synthesize(text) for text in SENTENCES]
    result: dict[str, Any] = {"silence_window_s": SILENCE_WINDOW_S, "levels": []}
    result["sentences_s"] = [round(s.seconds, 2) for s in speeches]
    with own_server() as stack:
        gateway, result["gateway_ready_s"] = start_gateway(stack)
        try:
            result["gateway_health"] = httpx.get(f"{gateway.url}/health", timeout=5).json()
            result["gateway_rss_loaded_mb"] = rss_mb(gateway.pid)
            env = {"AGENT_MODE": "inference", **gateway.env_for_workers()}
            with (
                worker(stack, TURN_AGENT, **env, **insights_env(stack.proxy_url)) as w,
                ResourceSampler({"gateway": gateway.pid, "worker": w.pid}) as sampler,
            ):
                for count in sorted({1, *levels}):
                    alone = result["levels"][0] if result["levels"] else {}
                    level = run_level(
                        stack, count, level_turns if alone else turns, speeches, alone
                    )
                    result["levels"].append(level)
                    if not level_holds(level, result["levels"][0]["p50_s"]):
                        break  # more at once would only hold less
            result["peak"] = sampler.figures()
        finally:
            gateway.stop()
    # In a process of its own, once the stack is down: nothing else competes for the
    # cores, and its Whisper and Piper child are gone with it.
    (result["engines"],) = gather(engines_main, [(speeches,)], "the engines", ENGINES_WAIT_S)
    alone_p50 = result["levels"][0]["p50_s"]
    held = [lv["conversations"] for lv in result["levels"] if level_holds(lv, alone_p50)]
    result["at_once"] = max(held, default=0)
    return result


def start_gateway(stack: Stack) -> tuple[Gateway, float]:
    """`python -m gateway` on the benchmark's server, and the seconds from its launch until
    its /health answered (it answers only once its engines are loaded and warm)."""
    assert stack.server is not None
    started = time.perf_counter()
    gateway = Gateway(stack.server)
    gateway.wait_ready(GATEWAY_READY_S, interval=0.05)  # finer than a test needs: it is timed
    return gateway, round(time.perf_counter() - started, 2)


def rss_mb(pid: int) -> float:
    """The resident memory of `pid` and its children (the gateway and its Piper child)."""
    return round(sum(p.memory_info().rss for p in tree(pid)) / 2**20, 1)


def run_level(
    stack: Stack, count: int, turns: int, speeches: list[Speech], alone: dict[str, Any]
) -> dict[str, Any]:
    """`count` conversations at once, a person in a process each, started a share of one
    turn (as long as one alone took) apart; then what their sessions recorded."""
    rooms = room_names(count)
    step = (alone.get("cycle_s") or 0.0) / count
    args = [
        (stack.url, stack.api_key, stack.api_secret, TURN_AGENT, room, speeches, turns, i * step)
        for i, room in enumerate(rooms)
    ]
    people = gather(person_main, args, f"{count} conversation(s)", timeout=120 + 20 * turns)
    asyncio.run(delete_rooms(stack.url, stack.api_key, stack.api_secret, rooms))
    figures = session_figures(stack.proxy_url, rooms, SESSIONS_WAIT_S)
    level = level_summary(count, people, figures, min(s.seconds for s in speeches))
    print(
        f"bench: {count} conversation(s) at once: turn p50 {level['p50_s']} s, p95 "
        f"{level['p95_s']} s, {level['answered']}/{level['turns']} answered, STT final at "
        f"most {level['stt_max_s']} s after the speech",
        file=sys.stderr,
    )
    return level


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    p = argparse.ArgumentParser(prog="bench.turns", description=__doc__)
    p.add_argument("--turns", type=int, default=TURNS, help="turns of the one conversation")
    p.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="conversations at once, in order"
    )
    p.add_argument("--level-turns", type=int, default=LEVEL_TURNS, help="turns at a level")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    levels = tuple(int(c) for c in args.levels.split(",") if c.strip())
    result = measure(args.turns, levels, args.level_turns)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print("\n".join(markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
