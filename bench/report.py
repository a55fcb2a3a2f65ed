"""A run's report: the markdown tables (printed, and pasted into the README), with the
targets table first (bench/verdicts.py), then bench.json, bench.md and bench.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import idle, turns_report
from bench.plot import plot
from bench.result_cells import cell, floor_of, level_at, over, ratio, worker_rss
from bench.verdicts import verdicts
from devstack.timeline import STEPS


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
    return f"{level['concurrency']}{over(level, '({} bursts)')}"


def _server_wait(level: dict[str, Any]) -> str:
    """How long, after the last person was in, the server's agent dispatcher took to answer
    at once (bench/settle.py), for each burst ("-" where its log could not tell): most
    bursts wait nothing, the few that meet a refresh of its cache wait seconds."""
    waits = level.get("server_wait_s") or [None]
    return " / ".join("-" if w is None else f"{w:.1f}" for w in waits)


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
        f"Floor measured in this run: p50 {cell(one['p50_ms'])} ms, p95 {cell(one['p95_ms'])} ms "
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
            f"| {who} | {mode} | {s['rooms']} | {s['joined']} | {cell(s['p50_ms'])} | {cell(s['p95_ms'])} "
            f"| {cell(s['max_ms'])} | {ratio(s['p50_ms'], one['p50_ms'])} | {ratio(s['p95_ms'], one['p95_ms'])} |"
        )
    lines += _bursts_table(result, ours, base)
    if result.get("idle"):
        lines += idle.markdown(result["idle"])
    if result.get("turns"):
        lines += turns_report.markdown(result["turns"])
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
                f"| {c['concurrency']} | {s['joined']}/{s['rooms']} | {s['lost']} | {cell(s['p50_ms'])} | {cell(s['p95_ms'])} |"
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
                f"| {k['setting']} | {cell(s['p50_ms'])} | {cell(s['p95_ms'])} | {cs.get('joined', 0)}/{c['concurrency']} "
                f"| {cell(cs.get('p50_ms'))} | {cell(cs.get('p95_ms'))} | {cell(worker_rss(c))} |"
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
            f" {s['joined']}/{s['rooms']} | {cell(s['p50_ms'])} | {cell(s['p95_ms'])} "
            f"| {ratio(s['p50_ms'], f['p50_ms'])} | {ratio(s['p95_ms'], f['p95_ms'])} "
            f"| {cell(worker_rss(c))} | {cell(srv)} | {_cpu(c)} |"
        )
        b = level_at(base["concurrent"], c["concurrency"]) if base else None
        if b:
            bs = b["summary"]
            row += f" {bs['joined']}/{bs['rooms']} | {cell(bs['p50_ms'])} | {cell(bs['p95_ms'])} | {ratio(bs['p95_ms'], f['p95_ms'])} |"
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
            f"| {f['rooms']} | {f['samples']} | {cell(f['sdk_p50_ms'])} | {cell(f['sdk_p95_ms'])} "
            f"| {cell(f['p50_ms'])} | {cell(f['p95_ms'])} |"
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
        ours = (level_at(result["stack"]["concurrent"], r["rooms"]) or {}).get("summary", {})
        lines.append(
            f"| {r['rooms']} | {r['processes']} | {r['done']}/{r['rooms']} | {cell(r['p50_ms'])} "
            f"| {cell(r['p95_ms'])} | {cell(ours.get('p95_ms'))} |"
        )
    return lines


def _steps_table(result: dict[str, Any]) -> list[str]:
    seq = result["stack"]["sequential"].get("explicit", {}).get("steps_p50_ms") or {}
    if not seq:
        return []
    crowd = level_at(result["stack"]["concurrent"], 20) or {}
    at20 = crowd.get("summary", {}).get("steps_p50_ms") or {}
    lines = [
        "",
        "### One dispatch, step by step (p50 ms; the agent stamps each step on itself)",
        "",
        "| step | one room | 20 at once | what happens |",
        "| --- | --- | --- | --- |",
    ]
    for _, step, what in STEPS:
        lines.append(f"| {step} | {cell(seq.get(step))} | {cell(at20.get(step))} | {what} |")
    lines.append(
        f"| floor inside the first step | {result['floor_ms']} | {result['floor_ms']} | psrpc's affinity short-circuit, not configurable |"
    )
    return lines


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.png under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md", "plot": out / "bench.png"}
    paths["json"].write_text(json.dumps(result, indent=2))
    paths["markdown"].write_text(markdown(result) + "\n")
    plot(result, paths["plot"])
    return paths
