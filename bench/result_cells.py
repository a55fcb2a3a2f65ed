"""A run's result as the report reads it: a burst level by its rooms at once, the floor
measured for N rooms, the worker's RSS at a level, and a figure, a ratio to the floor or a
level's bursts as a table cell. The tables (bench/report.py) and the targets table
(bench/verdicts.py) share them, so a figure reads the same in both."""

from __future__ import annotations

from typing import Any


def cell(v: object) -> str:
    """A figure as a table cell: "-" for none, a float in whole units."""
    return "-" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)


def level_at(runs: list[dict[str, Any]], count: int) -> dict[str, Any] | None:
    """The level of `runs` with `count` rooms at once, where the run had one."""
    return next((c for c in runs if c["concurrency"] == count), None)


def over(level: dict[str, Any], text: str = "over {} bursts") -> str:
    """`text` with the level's number of bursts, when its figures pool more than one."""
    n = level.get("bursts", 1)
    return " " + text.format(n) if n > 1 else ""


def floor_of(result: dict[str, Any], rooms: int) -> dict[str, Any]:
    """The floor measured in this run for `rooms` at once (bench/sdk_floor.py, floor); a run
    without one falls back to the affinity short-circuit alone."""
    for f in result.get("floor") or []:
        if f["rooms"] == rooms:
            return dict(f)
    return {"rooms": rooms, "p50_ms": result["floor_ms"], "p95_ms": result["floor_ms"]}


def ratio(value: float | None, floor: float | None) -> str:
    """`value` as a multiple of the floor measured in the same run ("-" without both)."""
    return f"{value / floor:.2f}x" if value and floor else "-"


def worker_rss(level: dict[str, Any] | None) -> float | None:
    """The stack's worker's peak resident memory at a level, MB, where it was sampled."""
    return ((level or {}).get("resources", {}).get("agent worker") or {}).get("rss_mb")
