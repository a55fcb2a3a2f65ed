"""Turn measurements into numbers: percentiles, a markdown table, JSON and a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.measure import Join

TARGETS = {"sequential_p50_ms": 300, "sequential_p95_ms": 600, "concurrent_p95_ms": 2000}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(joins: list[Join]) -> dict[str, Any]:
    lat = [j.join_s * 1000 for j in joins if j.joined and j.join_s is not None]
    audio = [j.audio_s * 1000 for j in joins if j.audio_s is not None]
    return {
        "rooms": len(joins),
        "joined": sum(j.joined for j in joins),
        "success_rate": round(sum(j.joined for j in joins) / len(joins), 3) if joins else None,
        "p50_ms": _r(percentile(lat, 50)),
        "p95_ms": _r(percentile(lat, 95)),
        "max_ms": _r(max(lat) if lat else None),
        "audio_p50_ms": _r(percentile(audio, 50)),
        "audio_p95_ms": _r(percentile(audio, 95)),
        "errors": sorted({j.error for j in joins if j.error}),
        "latencies_ms": [round(v, 1) for v in lat],
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _cell(v: object) -> str:
    return "-" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)


def markdown(result: dict[str, Any]) -> str:
    """The tables printed at the end of a run (and pasted into the README)."""
    lines = [
        "### Sequential join latency (ms)",
        "",
        "| mode | rooms | joined | p50 | p95 | max | first audio p50 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, s in result["sequential"].items():
        lines.append(
            f"| {mode} | {s['rooms']} | {s['joined']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} | {_cell(s['max_ms'])} | {_cell(s['audio_p50_ms'])} |"
        )
    if result["concurrent"]:
        lines += [
            "",
            f"### Concurrent rooms ({result['concurrent_mode']} dispatch)",
            "",
            "| rooms at once | joined | success | p50 | p95 | server CPU% / RSS MB | worker CPU% / RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in result["concurrent"]:
            s, res = c["summary"], c["resources"]
            srv = res.get("livekit-server") or {}
            wrk = res.get("agent worker") or {}
            lines.append(
                f"| {c['concurrency']} | {s['joined']}/{s['rooms']} | {s['success_rate']:.0%} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} "
                f"| {_cell(srv.get('cpu_percent'))} / {_cell(srv.get('rss_mb'))} | {_cell(wrk.get('cpu_percent'))} / {_cell(wrk.get('rss_mb'))} |"
            )
    if result.get("knobs"):
        top = result["knobs"][0]["concurrent"]["rooms"]
        lines += [
            "",
            "### Knobs (explicit dispatch)",
            "",
            f"| setting | sequential p50 | p95 | max | {top} at once: joined | p50 | p95 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for k in result["knobs"]:
            s, c = k["summary"], k["concurrent"]
            lines.append(
                f"| {k['setting']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} | {_cell(s['max_ms'])} "
                f"| {c.get('joined', 0)}/{c['rooms']} | {_cell(c.get('p50_ms'))} | {_cell(c.get('p95_ms'))} |"
            )
    if result.get("prewarm"):
        p = result["prewarm"]
        lines += [
            "",
            f"Prewarm: Silero VAD loads in {p['silero_load_ms']:.0f} ms (median of {p['runs']}); worker start to registration {p['worker_start_s']:.1f} s.",
        ]
    lines += ["", "### Targets", ""] + [f"- {line}" for line in verdicts(result)]
    return "\n".join(lines)


def verdicts(result: dict[str, Any]) -> list[str]:
    """Each target, met or missed, with the measured figure."""
    out = []
    for mode, s in result["sequential"].items():
        for key, target in (
            ("p50_ms", TARGETS["sequential_p50_ms"]),
            ("p95_ms", TARGETS["sequential_p95_ms"]),
        ):
            v = s[key]
            out.append(
                f"{mode} sequential {key[:3]} {_cell(v)} ms vs ≤ {target} ms: {'met' if v is not None and v <= target else 'MISSED'}"
            )
    for c in result["concurrent"]:
        if c["concurrency"] == max(x["concurrency"] for x in result["concurrent"]):
            s = c["summary"]
            ok = (
                s["success_rate"] == 1
                and s["p95_ms"] is not None
                and s["p95_ms"] <= TARGETS["concurrent_p95_ms"]
            )
            out.append(
                f"{c['concurrency']} concurrent rooms: {s['joined']}/{s['rooms']} joined, p95 {_cell(s['p95_ms'])} ms vs all joined and ≤ {TARGETS['concurrent_p95_ms']} ms: {'met' if ok else 'MISSED'}"
            )
    return out


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.png under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md", "plot": out / "bench.png"}
    paths["json"].write_text(json.dumps(result, indent=2))
    paths["markdown"].write_text(markdown(result) + "\n")
    plot(result, paths["plot"])
    return paths


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    modes = list(result["sequential"])
    data = [result["sequential"][m]["latencies_ms"] or [math.nan] for m in modes]
    left.boxplot(data, tick_labels=modes, showfliers=True)
    left.axhline(TARGETS["sequential_p50_ms"], color="tab:green", ls="--", lw=1, label="p50 target")
    left.axhline(
        TARGETS["sequential_p95_ms"], color="tab:orange", ls="--", lw=1, label="p95 target"
    )
    left.set_title("Sequential join latency per dispatch mode")
    left.set_ylabel("ms until the agent is visible")
    left.legend(loc="upper right", fontsize=8)
    conc = result["concurrent"]
    if conc:
        xs = [c["concurrency"] for c in conc]
        for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("max_ms", "max")):
            right.plot(xs, [c["summary"][key] or math.nan for c in conc], marker="o", label=label)
        right.axhline(
            TARGETS["concurrent_p95_ms"], color="tab:orange", ls="--", lw=1, label="p95 target"
        )
        # Lost agents are the point of this plot: print joined/rooms at each level.
        for c in conc:
            s = c["summary"]
            y = s["max_ms"] if s["max_ms"] is not None else TARGETS["concurrent_p95_ms"]
            lost = s["joined"] < s["rooms"]
            right.annotate(
                f"{s['joined']}/{s['rooms']} joined",
                (c["concurrency"], y),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=8,
                color="tab:red" if lost else "black",
            )
        right.set_xticks(xs)
        right.set_title(f"Join latency against concurrency ({result['concurrent_mode']})")
        right.set_xlabel("rooms dispatched at once")
        right.set_ylabel("ms")
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
