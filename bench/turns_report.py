"""The conversation phase's report (bench/turns.py measures): its goals (bench/targets.py)
met or missed, and the tables bench/report.py adds to bench.md."""

from __future__ import annotations

import math
from typing import Any

from bench.targets import TURN_GOALS
from bench.turn_figures import EOU, STAGES


def verdicts(result: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(measure, measured, goal, met) for the targets table (bench/verdicts.py)."""
    alone, engine = result["levels"][0], result["engines"]
    floor = result["silence_window_s"] + engine["whisper_p50_s"] + engine["tts_first_audio_p50_s"]
    ratio = (alone["p50_s"] or math.inf) / floor
    peak = result["peak"]["gateway"]["rss_mb"]
    return [
        (
            "turn latency, one conversation (p50)",
            f"{alone['p50_s']:.2f} s, p95 {alone['p95_s']:.2f} s: {ratio:.2f}x the silence "
            f"window and the engines' compute ({floor:.2f} s)",
            f"≤ {TURN_GOALS['ratio']}x",
            ratio <= TURN_GOALS["ratio"],
        ),
        (
            "conversations at once (STT in real time, p95 ≤ 2x the p50 alone)",
            str(result["at_once"]),
            f"≥ {TURN_GOALS['at_once']}",
            result["at_once"] >= TURN_GOALS["at_once"],
        ),
        (
            "gateway RSS with its Piper child",
            f"{peak:.0f} MB at most ({result['gateway_rss_loaded_mb']:.0f} MB loaded, idle)",
            f"≤ {TURN_GOALS['rss_mb']:.0f} MB",
            peak <= TURN_GOALS["rss_mb"],
        ),
        (
            "gateway start until /health answers",
            f"{result['gateway_ready_s']:.1f} s",
            f"≤ {TURN_GOALS['ready_s']:.0f} s",
            result["gateway_ready_s"] <= TURN_GOALS["ready_s"],
        ),
    ]


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def markdown(result: dict[str, Any]) -> list[str]:
    """The conversation tables (bench/report.py adds them to bench.md)."""
    engine, levels = result["engines"], result["levels"]
    lines = ["", "### Conversations with the offline Inference gateway", ""]
    lines += ["| measure | now | goal | met |", "| --- | --- | --- | --- |"]
    for m, now, goal, ok in verdicts(result):
        lines.append(f"| {m} | {now} | {goal} | {'met' if ok else '**missed**'} |")
    lines += [
        "",
        f"A turn: from the end of the person's speech to the agent's first audio with energy "
        f"at the person. Silence window {result['silence_window_s']:.2f} s; the engines alone: "
        f"{engine['stt']} {engine['whisper_p50_s']:.3f} s an utterance, "
        f"{engine['tts']} first audio {engine['tts_first_audio_p50_s']:.3f} s.",
        "",
        "| at once | answered | p50 s | p95 s | p95 ÷ p50 alone | STT final p50 / at most, s "
        "| STT kept up |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    alone = levels[0]["p50_s"]
    for lv in levels:
        share = f"{lv['p95_s'] / alone:.2f}x" if lv["p95_s"] and alone else "-"
        lines.append(
            f"| {lv['conversations']} | {lv['answered']}/{lv['turns']} | {_s(lv['p50_s'])} "
            f"| {_s(lv['p95_s'])} | {share} | {_s(lv.get('stt_final_p50_s'))} / "
            f"{_s(lv['stt_max_s'])} | {lv['stt_kept_up']} |"
        )
    heads = " | ".join(f"{lv['conversations']} at once" for lv in levels)
    lines += ["", f"| p50 s, from the sessions' spans and at the person | {heads} |"]
    lines.append("| --- |" + " --- |" * len(levels))
    for key in (
        *STAGES,
        "agent_other",
        "transport",
        "stt_final_at_person",
        "after_final_llm_tts",
        *EOU,
    ):
        cells = " | ".join(_s(lv["breakdown"][key]) for lv in levels)
        lines.append(f"| {key} | {cells} |")
    return lines
