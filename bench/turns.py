"""Conversations with the offline Inference gateway (issue 32, Performance): how long a
person waits for the agent's answer, where that time goes, how many conversations at once
before it grows, and what the gateway costs (memory, start).

Real processes throughout: the benchmark's own livekit-server and proxy (bench/stack.py),
`python -m gateway`, the stack's worker in AGENT_MODE=inference (`python -m agent`,
uploading its sessions to the proxy), and livekit.rtc people, one per process, speaking
espeak-ng's speech into a microphone track (bench/conversations.py). Beside the turns, the
engines' own compute is measured directly in the same run: the gateway's Whisper on the
same utterances and its voice on the same answers, in this process, once the stack is down.

`python -m bench.turns` runs this alone; `make bench` runs it after the idle phase."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from livekit import rtc

from bench.conversations import (
    Speech,
    delete_rooms,
    person_main,
    room_names,
    session_figures,
    synthesize,
)
from bench.resources import ResourceSampler, tree
from bench.spawned import gather, send
from bench.stack import Stack, own_server, stop_on_sigterm, worker
from devstack.processes import Gateway, insights_env
from devstack.waiting import http_ok, wait_until

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
# Issue 32's goals.
GOALS = {"ratio": 1.3, "at_once": 4, "rss_mb": 700.0, "ready_s": 10.0}
# What a turn must wait whatever the engines cost, by the stack's defaults: the agent's
# Silero VAD calls the speech over after 0.55 s of silence (livekit-plugins-silero's
# min_silence_duration), its endpointing waits 0.5 s from the last speech (livekit-agents'
# min_delay), and the gateway's final comes after 0.5 s (gateway/endpointing.py). They run
# side by side, so the window is the longest of the three.
SILENCE_WINDOW_S = max(0.55, 0.5, 0.5)
GATEWAY_READY_S = 120.0
SESSIONS_WAIT_S = 90.0  # for every conversation's session report to reach the proxy
ENGINE_ROUNDS = 3
ENGINES_WAIT_S = 300.0


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, as bench/report.py's (which imports this module, so this
    one cannot import it); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


STAGES = ("end_of_turn_delay", "transcription_delay", "llm_ttft", "tts_ttfb", "e2e_latency")
EOU = ("endpointing_delay", "eou_probability", "eou_unlikely_threshold")


def breakdown(
    latencies: list[float], figures: list[dict[str, float]], finals: list[float] | None = None
) -> dict[str, Any]:
    """The p50 of each figure the sessions' spans hold, beside the p50 turn at the person.
    The agent's e2e_latency runs from the end of speech its VAD heard to its first audio
    frame out: end of turn (the STT's final and the endpointing wait inside it), then the
    voice's first audio. The LLM's first token comes inside the end of turn when the
    session generated ahead (livekit-agents' preemptive generation), so it is not summed:
    `agent_other` is what the end of turn and the voice leave of e2e (the LLM when it did
    not run ahead, and scheduling), `transport` what e2e leaves of the turn at the person
    (the microphone to the agent, the agent's audio to the person, both jitter buffers)."""

    def p50(key: str) -> float | None:
        return pct([f[key] for f in figures if key in f], 50)

    out = {key: p50(key) for key in STAGES + EOU}
    turn, e2e, eou, tts = (
        pct(latencies, 50),
        out["e2e_latency"],
        out["end_of_turn_delay"],
        out["tts_ttfb"],
    )
    out["agent_other"] = None if None in (e2e, eou, tts) else e2e - eou - tts  # type: ignore[operator]
    out["transport"] = None if turn is None or e2e is None else turn - e2e
    # At the person: the STT's final back (`finals`, from the end of speech), then what the
    # turn leaves after it, the LLM's first token and the voice's first audio (the agent's
    # audio on its way, the jitter buffer, the playout).
    final = pct(finals or [], 50)
    llm = out["llm_ttft"]
    out["stt_final_at_person"] = final
    out["after_final_llm_tts"] = (
        None if None in (turn, final, llm, tts) else turn - final - llm - tts  # type: ignore[operator]
    )
    return {k: None if v is None else round(v, 4) for k, v in out.items()}


def level_summary(
    count: int, people: list[dict[str, Any]], figures: list[dict[str, float]], shortest_s: float
) -> dict[str, Any]:
    """One level's figures. A turn's STT kept up with real time when its final transcript
    was back at the person (the agent sends it on) within the length of the shortest
    sentence said from the end of the speech: the gateway heard it out before it could be
    said again. Measured at the person, not from the spans: with the STT ending the turn,
    livekit-agents anchors its transcription_delay on the STT's own timestamps."""
    turns = [t for p in people for t in p["turns"]]
    latencies = [t["latency_s"] for t in turns if t["latency_s"] is not None]
    delays = [t["final_s"] for t in turns if t.get("final_s") is not None]
    cycles = [p["cycle_s"] for p in people if p["cycle_s"]]
    return {
        "conversations": count,
        "turns": len(turns),
        "answered": len(latencies),
        "errors": [p["error"] for p in people if p["error"]],
        "p50_s": pct(latencies, 50),
        "p95_s": pct(latencies, 95),
        "max_s": max(latencies, default=None),
        "latencies_s": latencies,
        "thinking_p50_s": pct([t["thinking_s"] for t in turns if t["thinking_s"]], 50),
        "cycle_s": statistics.median(cycles) if cycles else None,
        "stt_turns": len(delays),
        "stt_max_s": None if not delays else round(max(delays), 3),
        "stt_kept_up": bool(turns) and len(delays) >= len(turns) and max(delays) <= shortest_s,
        "stt_final_p50_s": pct(delays, 50),
        "breakdown": breakdown(latencies, figures, delays),
    }


def level_holds(level: dict[str, Any], alone_p50: float | None) -> bool:
    """Every turn answered, its STT in real time, and p95 at most twice the p50 of one alone."""
    return bool(
        alone_p50
        and level["answered"] == level["turns"] > 0
        and not level["errors"]
        and level["stt_kept_up"]
        and level["p95_s"] <= 2 * alone_p50
    )


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

    def ready() -> bool:
        gateway.check_running()
        return http_ok(f"{gateway.url}/health")

    wait_until(ready, timeout=GATEWAY_READY_S, what="gateway /health", interval=0.05)
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


def engines_main(speeches: list[Speech], results: Any) -> None:
    send(results, engines(speeches))


def engines(speeches: list[Speech]) -> dict[str, Any]:
    """The engines' own compute, called directly (gateway/whisper.py, gateway/tts.py) with
    the gateway's settings: Whisper transcribing each utterance as the gateway hears it
    (its pre-roll and trail of silence, word timings on), then the voice speaking the
    stand-in's answer to it until its first audio."""
    from devstack.settings import Settings
    from gateway import tts
    from gateway.endpointing import SAMPLE_RATE, Tuning
    from gateway.whisper import load_whisper

    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the gateway's: no .env
    whisper, tuning = load_whisper(settings), Tuning()
    stt: list[float] = []
    answers = []
    for speech in speeches:
        audio = np.concatenate(
            [
                np.zeros(tuning.samples(tuning.preroll), np.float32),
                to_16k(speech),
                np.zeros(tuning.samples(tuning.trail), np.float32),
            ]
        )
        for _ in range(ENGINE_ROUNDS):
            heard = whisper.run(audio, True, "en")
            stt.append(heard.seconds)
        answers.append(f"You said: {heard.text.rstrip('.!?')}.")
    server = tts.load(settings)
    first = asyncio.run(first_audio(server.voice, answers))
    return {
        "stt": whisper.name,
        "tts": server.description,
        "audio_rate": SAMPLE_RATE,
        "whisper_p50_s": round(statistics.median(stt), 4),
        "tts_first_audio_p50_s": round(statistics.median(first), 4),
        "answers": answers,
    }


def to_16k(speech: Speech) -> np.ndarray:
    resampler = rtc.AudioResampler(speech.rate, 16000)
    frame = rtc.AudioFrame(speech.samples.tobytes(), speech.rate, 1, len(speech.samples))
    frames = [*resampler.push(frame), *resampler.flush()]
    return (
        np.concatenate([np.frombuffer(f.data, np.int16) for f in frames]).astype(np.float32)
        / 32768.0
    )


async def first_audio(voice: Any, answers: list[str]) -> list[float]:
    """Seconds until the voice's first audio for each answer (each spoken to its end)."""
    out = []
    for _ in range(ENGINE_ROUNDS):
        for text in answers:
            started = time.perf_counter()
            line = voice.submit(text)
            first = None
            async for _chunk in line.audio():
                first = first or time.perf_counter() - started
            out.append(first or 0.0)
    return out


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    p = argparse.ArgumentParser(prog="bench.turns", description=__doc__)
    p.add_argument("--turns", type=int, default=TURNS, help="turns of the one conversation")
    p.add_argument("--levels", default="1,2,4,8", help="conversations at once, in order")
    p.add_argument("--level-turns", type=int, default=LEVEL_TURNS, help="turns at a level")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    levels = tuple(int(c) for c in args.levels.split(",") if c.strip())
    result = measure(args.turns, levels, args.level_turns)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    from bench.turns_report import markdown  # it imports this module

    print("\n".join(markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
