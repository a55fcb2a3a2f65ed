"""The targets table: each target `make bench` is judged against (bench/targets.py), the
idle phase's and the conversation phase's included, with what this run measured and
whether it met it."""

from __future__ import annotations

from typing import Any

from bench import idle, turns_report
from bench.result_cells import cell, floor_of, level_at, over, ratio, worker_rss
from bench.targets import TARGETS


def verdicts(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, measured, target, met) for each target the run has figures for."""
    out: list[tuple[str, str, str, str]] = []
    ours = result["stack"]
    explicit = ours["sequential"].get("explicit")

    def row(measure: str, now: str, target: str, ok: bool) -> None:
        out.append((measure, now, target, "met" if ok else "**missed**"))

    if explicit and explicit["p50_ms"] is not None:
        p50, p95 = explicit["p50_ms"], explicit["p95_ms"]
        row(
            "one room at a time, p50",
            f"{p50:.0f} ms ({ratio(p50, floor_of(result, 1)['p50_ms'])} the floor)",
            f"≤ {TARGETS['sequential_p50_ms']} ms",
            p50 <= TARGETS["sequential_p50_ms"],
        )
        row(
            "one room at a time, p95",
            f"{p95:.0f} ms",
            f"≤ {TARGETS['sequential_p95_ms']} ms",
            p95 <= TARGETS["sequential_p95_ms"],
        )
    for count, key in ((20, "burst_20_p95_ms"), (50, "burst_50_p95_ms")):
        level = level_at(ours["concurrent"], count)
        if level:
            s = level["summary"]
            ok = s["lost"] == 0 and s["p95_ms"] is not None and s["p95_ms"] <= TARGETS[key]
            row(
                f"{count} rooms at once",
                f"{s['joined']}/{s['rooms']} joined{over(level)}, p95 {cell(s['p95_ms'])} ms",
                f"all joined, p95 ≤ {TARGETS[key]} ms",
                ok,
            )
    rss = worker_rss(level_at(ours["concurrent"], 20))
    if rss is not None:
        row(
            "worker RSS at 20 jobs",
            f"{rss:.0f} MB",
            f"≤ {TARGETS['rss_20_mb']} MB",
            rss <= TARGETS["rss_20_mb"],
        )
    if "worker_start_s" in ours and "server_start_s" in result:
        total = ours["worker_start_s"] + result["server_start_s"]
        row(
            "start until the worker is registered",
            f"{total:.1f} s (server {result['server_start_s']:.1f} s, then worker {ours['worker_start_s']:.1f} s)",
            f"≤ {TARGETS['registered_s']} s",
            total <= TARGETS["registered_s"],
        )
    if result.get("start_mode"):
        lost = sum(c["summary"]["lost"] for c in result["start_mode"])
        rooms = sum(c["summary"]["rooms"] for c in result["start_mode"])
        row("production (`start`) mode bursts", f"{lost} of {rooms} lost", "0 lost", lost == 0)
    for measure, now, target, ok in idle.verdicts(result["idle"]) if result.get("idle") else ():
        row(measure, now, target, ok)
    for measure, now, target, ok in (
        turns_report.verdicts(result["turns"]) if result.get("turns") else ()
    ):
        row(measure, now, target, ok)
    return out
