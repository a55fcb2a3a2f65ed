"""The conversation benchmark's arithmetic: the breakdown of a turn into the agent's stages
and transport, one level of conversations at once summarized, and whether it holds. Pure
logic over what bench/conversations.py timed at the people and bench/session_figures.py
read off the agent's spans."""

from __future__ import annotations

import statistics
from typing import Any

from bench.summary import percentile

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
        return percentile([f[key] for f in figures if key in f], 50)

    out = {key: p50(key) for key in STAGES + EOU}
    turn, e2e, eou, tts = (
        percentile(latencies, 50),
        out["e2e_latency"],
        out["end_of_turn_delay"],
        out["tts_ttfb"],
    )
    out["agent_other"] = None if None in (e2e, eou, tts) else e2e - eou - tts  # type: ignore[operator]
    out["transport"] = None if turn is None or e2e is None else turn - e2e
    # At the person: the STT's final back (`finals`, from the end of speech), then what the
    # turn leaves after it, the LLM's first token and the voice's first audio (the agent's
    # audio on its way, the jitter buffer, the playout).
    final = percentile(finals or [], 50)
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
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "max_s": max(latencies, default=None),
        "latencies_s": latencies,
        "thinking_p50_s": percentile([t["thinking_s"] for t in turns if t["thinking_s"]], 50),
        "cycle_s": statistics.median(cycles) if cycles else None,
        "stt_turns": len(delays),
        "stt_max_s": None if not delays else round(max(delays), 3),
        "stt_kept_up": bool(turns) and len(delays) >= len(turns) and max(delays) <= shortest_s,
        "stt_final_p50_s": percentile(delays, 50),
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
