"""Turn measurements into numbers: percentiles, the markdown tables (printed, and pasted
into the README), JSON and a PNG plot."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench import idle
from bench.measure import Join
from bench.plot import plot
from bench.targets import TARGETS
from devstack.timeline import STEPS, steps


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(joins: list[Join]) -> dict[str, Any]:
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


def _cell(v: object) -> str:
    return "-" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)


def _level(runs: list[dict[str, Any]], count: int) -> dict[str, Any] | None:
    return next((c for c in runs if c["concurrency"] == count), None)


def _cpu(level: dict[str, Any]) -> str:
    """The CPU-seconds a burst cost the worker, the server and the people's clients."""
    spent = level.get("cpu_seconds")
    if not spent:
        return "-"
    return " / ".join(
        "-" if spent.get(k) is None else f"{spent[k]:.1f}" for k in ("worker", "server", "people")
    )


def _at_once(level: dict[str, Any]) -> str:
    """A level's rooms at once, and how many bursts of them its figures pool."""
    return f"{level['concurrency']}{_over(level, '({} bursts)')}"


def _server_wait(level: dict[str, Any]) -> str:
    """How long, after the last person was in, the server's agent dispatcher took to answer
    at once (bench/settle.py), for each burst ("-" where its log could not tell): most
    bursts wait nothing, the few that meet a refresh of its cache wait seconds."""
    waits = level.get("server_wait_s") or [None]
    return " / ".join("-" if w is None else f"{w:.1f}" for w in waits)


def _over(level: dict[str, Any], text: str = "over {} bursts") -> str:
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
    return f"{value / floor:.2f}x" if value and floor else "-"


def _rss(level: dict[str, Any] | None) -> float | None:
    return ((level or {}).get("resources", {}).get("agent worker") or {}).get("rss_mb")


def markdown(result: dict[str, Any]) -> str:
    """The tables printed at the end of a run."""
    floor = result["floor_ms"]
    ours = result["stack"]
    base = result.get("baseline")
    lines = ["### Targets", "", "| measure | now | target | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {m} | {now} | {t} | {ok} |" for m, now, t, ok in verdicts(result)]
    one = floor_of(result, 1)
    lines += [
        "",
        "### One room at a time (ms from the dispatch until the client sees the agent)",
        "",
        f"Floor measured in this run: p50 {_cell(one['p50_ms'])} ms, p95 {_cell(one['p95_ms'])} ms "
        f"({floor} ms affinity short-circuit + livekit.rtc alone).",
        "",
        "| agent | mode | rooms | joined | p50 | p95 | max | p50 ÷ floor | p95 ÷ floor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = [("stack", m, s) for m, s in ours["sequential"].items()]
    if base:
        rows.append(("seed-style baseline", "explicit", base["sequential"]["explicit"]))
    if result.get("announce"):
        rows.append(("baseline + one attribute", "explicit", result["announce"]))
    for who, mode, s in rows:
        lines.append(
            f"| {who} | {mode} | {s['rooms']} | {s['joined']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} "
            f"| {_cell(s['max_ms'])} | {ratio(s['p50_ms'], one['p50_ms'])} | {ratio(s['p95_ms'], one['p95_ms'])} |"
        )
    lines += _bursts_table(result, ours, base)
    if result.get("idle"):
        lines += idle.markdown(result["idle"])
    if result.get("turns"):
        lines += _turns().markdown(result["turns"])
    lines += _floor_table(result)
    lines += _sdk_floor_table(result)
    lines += _steps_table(result)
    if result.get("start_mode"):
        lines += [
            "",
            "### The stack's worker in production mode (`start`, not `--dev`)",
            "",
            "| rooms at once | joined | lost | p50 | p95 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in result["start_mode"]:
            s = c["summary"]
            lines.append(
                f"| {c['concurrency']} | {s['joined']}/{s['rooms']} | {s['lost']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} |"
            )
    if result.get("knobs"):
        lines += [
            "",
            "### Knobs (each on a fresh worker)",
            "",
            "| setting | one at a time p50 | p95 | at once: joined | p50 | p95 | worker RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for k in result["knobs"]:
            s = k["summary"]
            c = k["concurrent"][0] if k["concurrent"] else {"summary": {}, "concurrency": 0}
            cs = c["summary"]
            lines.append(
                f"| {k['setting']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} | {cs.get('joined', 0)}/{c['concurrency']} "
                f"| {_cell(cs.get('p50_ms'))} | {_cell(cs.get('p95_ms'))} | {_cell(_rss(c))} |"
            )
    return "\n".join(lines)


def _bursts_table(
    result: dict[str, Any], ours: dict[str, Any], base: dict[str, Any] | None
) -> list[str]:
    if not ours["concurrent"]:
        return []
    waited = any(w is not None for c in ours["concurrent"] for w in c.get("server_wait_s") or [])
    head = "| rooms at once |"
    rule = "| --- |"
    if waited:
        head += " dispatcher ready after, s |"
        rule += " --- |"
    head += " stack: joined | p50 | p95 | p50 ÷ floor | p95 ÷ floor | worker RSS MB | server CPU% | CPU-s per burst: worker / server / people |"
    rule += " --- | --- | --- | --- | --- | --- | --- | --- |"
    if base:
        head += " baseline: joined | p50 | p95 | p95 ÷ floor |"
        rule += " --- | --- | --- | --- |"
    how = (
        "once the server's agent dispatcher answered at once (--wait-dispatcher)"
        if waited
        else "the moment the last person was in, as a real burst"
    )
    lines = [
        "",
        f"### Rooms at once (POST /api/dispatch-agent for every room at once, {how})",
        "",
        head,
        rule,
    ]
    for c in ours["concurrent"]:
        s = c["summary"]
        f = floor_of(result, c["concurrency"])
        srv = (c["resources"].get("livekit-server") or {}).get("cpu_percent")
        row = f"| {_at_once(c)} |"
        if waited:
            row += f" {_server_wait(c)} |"
        row += (
            f" {s['joined']}/{s['rooms']} | {_cell(s['p50_ms'])} | {_cell(s['p95_ms'])} "
            f"| {ratio(s['p50_ms'], f['p50_ms'])} | {ratio(s['p95_ms'], f['p95_ms'])} "
            f"| {_cell(_rss(c))} | {_cell(srv)} | {_cpu(c)} |"
        )
        b = _level(base["concurrent"], c["concurrency"]) if base else None
        if b:
            bs = b["summary"]
            row += f" {bs['joined']}/{bs['rooms']} | {_cell(bs['p50_ms'])} | {_cell(bs['p95_ms'])} | {ratio(bs['p95_ms'], f['p95_ms'])} |"
        lines.append(row)
    return lines


def _floor_table(result: dict[str, Any]) -> list[str]:
    runs = result.get("floor") or []
    if not runs:
        return []
    lines = [
        "",
        f"### The floor, measured in this run ({result['floor_ms']} ms affinity short-circuit + livekit.rtc alone, the rooms in one process)",
        "",
        "| rooms at once | samples | livekit.rtc alone p50 | p95 | floor p50 | floor p95 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in runs:
        lines.append(
            f"| {f['rooms']} | {f['samples']} | {_cell(f['sdk_p50_ms'])} | {_cell(f['sdk_p95_ms'])} "
            f"| {_cell(f['p50_ms'])} | {_cell(f['p95_ms'])} |"
        )
    return lines


def _sdk_floor_table(result: dict[str, Any]) -> list[str]:
    runs = result.get("sdk_floor") or []
    if not runs:
        return []
    lines = [
        "",
        "### livekit.rtc alone: rooms connecting and setting one attribute at once",
        "",
        "| rooms at once | processes | done | p50 | p95 | the stack's p95 (one worker) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        ours = (_level(result["stack"]["concurrent"], r["rooms"]) or {}).get("summary", {})
        lines.append(
            f"| {r['rooms']} | {r['processes']} | {r['done']}/{r['rooms']} | {_cell(r['p50_ms'])} "
            f"| {_cell(r['p95_ms'])} | {_cell(ours.get('p95_ms'))} |"
        )
    return lines


def _steps_table(result: dict[str, Any]) -> list[str]:
    seq = result["stack"]["sequential"].get("explicit", {}).get("steps_p50_ms") or {}
    if not seq:
        return []
    crowd = _level(result["stack"]["concurrent"], 20) or {}
    at20 = crowd.get("summary", {}).get("steps_p50_ms") or {}
    lines = [
        "",
        "### One dispatch, step by step (p50 ms; the agent stamps each step on itself)",
        "",
        "| step | one room | 20 at once | what happens |",
        "| --- | --- | --- | --- |",
    ]
    for _, step, what in STEPS:
        lines.append(f"| {step} | {_cell(seq.get(step))} | {_cell(at20.get(step))} | {what} |")
    lines.append(
        f"| floor inside the first step | {result['floor_ms']} | {result['floor_ms']} | psrpc's affinity short-circuit, not configurable |"
    )
    return lines


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
        level = _level(ours["concurrent"], count)
        if level:
            s = level["summary"]
            ok = s["lost"] == 0 and s["p95_ms"] is not None and s["p95_ms"] <= TARGETS[key]
            row(
                f"{count} rooms at once",
                f"{s['joined']}/{s['rooms']} joined{_over(level)}, p95 {_cell(s['p95_ms'])} ms",
                f"all joined, p95 ≤ {TARGETS[key]} ms",
                ok,
            )
    rss = _rss(_level(ours["concurrent"], 20))
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
        _turns().verdicts(result["turns"]) if result.get("turns") else ()
    ):
        row(measure, now, target, ok)
    return out


def _turns() -> Any:
    """bench/turns.py, imported when used: it imports the gateway's settings and the
    people's SDK, which the join figures' report does not need."""
    from bench import turns_report

    return turns_report


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.png under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md", "plot": out / "bench.png"}
    paths["json"].write_text(json.dumps(result, indent=2))
    paths["markdown"].write_text(markdown(result) + "\n")
    plot(result, paths["plot"])
    return paths
