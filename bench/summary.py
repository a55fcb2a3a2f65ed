"""A run's joins as numbers: how many joined and were lost, the nearest-rank percentiles of
the join latency, and each step's p50 off the timeline the agent stamps on itself. The
runs summarize with it as they go (bench/runs.py); the report only reads the summaries."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from devstack.timeline import STEPS, steps

if TYPE_CHECKING:  # only a type here: the percentile serves figures without livekit.rtc
    from bench.measure import Join


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(joins: list[Join]) -> dict[str, Any]:
    """What bench.json keeps of one mode's or one burst level's joins."""
    lat = [j.join_s * 1000 for j in joins if j.joined and j.join_s is not None]
    timed = [steps(j.stamps_ms, j.dispatched_ms, j.visible_ms) for j in joins if j.stamps_ms]
    return {
        "rooms": len(joins),
        "joined": sum(j.joined for j in joins),
        "lost": sum(not j.joined for j in joins),
        "success_rate": round(sum(j.joined for j in joins) / len(joins), 3) if joins else None,
        "p50_ms": _r(percentile(lat, 50)),
        "p95_ms": _r(percentile(lat, 95)),
        "max_ms": _r(max(lat) if lat else None),
        # Seen before it set an attribute or published: announced by the server's batch.
        "unannounced": sum(j.joined and not j.announced for j in joins),
        "via_proxy": sum(bool(j.proxy_dispatch_id) for j in joins),
        "steps_p50_ms": {
            step: _r(statistics.median(r[step] for r in timed if step in r))
            for _, step, _ in STEPS
            if any(step in r for r in timed)
        },
        "errors": sorted({j.error for j in joins if j.error}),
        "latencies_ms": [round(v, 1) for v in lat],
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)
