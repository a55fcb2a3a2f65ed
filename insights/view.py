"""One stored session as the API and the sessions page show it: the spans as a tree, the
turns with their latencies and metric points (turn_metrics.py), the logs, the transcript,
the errors where they happened."""

from __future__ import annotations

import json
from typing import Any

from insights import turn_metrics

# Per-turn figures livekit-agents puts on its spans (telemetry/trace_types.py), seconds.
TURN_FIGURES = {
    "end_of_turn_delay": "lk.end_of_turn_delay",
    "transcription_delay": "lk.transcription_delay",
    "llm_ttft": "lk.response.ttft",
    "tts_ttfb": "lk.response.ttfb",
    "e2e_latency": "lk.e2e_latency",
}
ERROR_SEVERITIES = {"ERROR", "FATAL", "CRITICAL"}
REPORT_LOGGERS = ("chat_history", "evaluations")
# The dispatch steps livekit-agents stamps on its job_entrypoint span, on the worker's clock
# (the same machine's): the job request as the worker saw it, up to the entrypoint.
WORKER_STEPS = {
    "job_received": "job request",
    "job_accepted": "accepted",
    "job_assigned": "assigned",
    "process_assigned": "job process taken",
    "entrypoint_started": "entrypoint started",
}


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """One line of GET /api/sessions."""
    transcript = _messages(json.loads(row["chat_history"])) if row.get("chat_history") else []
    return {
        "job_id": row["job_id"],
        "room": row["room"],
        "agent_name": row["agent_name"],
        "started_at": _s(row["first_ns"]),
        "duration_s": _duration(row),
        "spans": row["spans"],
        "logs": row["logs"],
        "transcript_items": len(transcript),
        "has_audio": bool(row["audio_bytes"]),
        "reported": bool(row["reported"]),
    }


def detail(
    row: dict[str, Any],
    dispatch: dict[str, Any] | None,
    metrics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """GET /api/sessions/{job_id}; `metrics` the store's metric points of the session."""
    report = row["report"] or {}
    chat = json.loads(report["chat_history"]) if report.get("chat_history") else None
    report_summary = json.loads(report["summary"]) if report.get("summary") else {}
    spans = [_span(s) for s in row["spans"]]
    every_log = [_log(r) for r in row["logs"]]
    # The transcript and the evaluations come as log records too: shown as the transcript,
    # but a failed tool call or a failed evaluation (logged as errors) is still an error.
    logs = [r for r in every_log if r["logger"] not in REPORT_LOGGERS]
    transcript = _messages(chat) if chat else _messages_from_logs(row["logs"])
    turn_rows = turns(spans)
    per_turn, session_points = turn_metrics.place(turn_rows, spans, metrics or [], TURN_FIGURES)
    for turn in turn_rows:
        turn["metrics"] = per_turn.get(turn["span_id"], [])
    return {
        "job_id": row["job_id"],
        "room": row["room"],
        "room_id": row["room_id"],
        "agent_name": row["agent_name"],
        "started_at": _s(row["first_ns"]),
        "ended_at": _s(row["last_ns"]),
        "duration_s": _duration({**row, "duration_ms": report.get("duration_ms")}),
        "dispatch": with_worker_steps(dispatch, spans),
        "spans": tree(spans),
        "turns": turn_rows,
        "metrics": session_points,
        "logs": logs,
        "transcript": transcript,
        "errors": errors(spans, every_log),
        "warnings": [SHARED_PROCESS] if row.get("unverified") else [],
        "usage": report_summary.get("usage") or report_summary.get("model_usage"),
        "audio": {
            "bytes": report.get("audio_bytes", 0),
            "started_at": (report.get("audio_started_ms") or 0) / 1000 or None,
        },
        "reported": bool(report),
    }


# Why a session of a worker that runs several jobs in one process, not started by the stack,
# cannot be trusted line by line (insights/otlp.py marks it).
SHARED_PROCESS = (
    "This job ran in a worker process shared with other jobs (livekit-agents' thread "
    "executor), and the worker was not started by the stack, so its log lines could not be "
    "told apart: a line made outside this job's context may be another job's, and some of "
    "this job's may be in another session. Run the worker through the stack (AGENT_FILE or "
    "AGENT_DIR), which stamps each line with its job, or use the process executor."
)


def with_worker_steps(
    dispatch: dict[str, Any] | None, spans: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The dispatch's steps from the stack (watcher, server log) and the worker's own."""
    steps = [
        {"at": e["at_ns"] / 1e9, "step": WORKER_STEPS[e["name"]], "detail": "the worker's stamp"}
        for s in spans
        if s["name"] == "job_entrypoint"
        for e in s["events"]
        if e["name"] in WORKER_STEPS
    ]
    if dispatch is None:
        return {"steps": steps} if steps else None
    return {**dispatch, "steps": sorted([*dispatch["steps"], *steps], key=lambda x: x["at"])}


def _s(ns: int | None) -> float | None:
    return ns / 1e9 if ns else None


def _duration(row: dict[str, Any]) -> float | None:
    if row.get("duration_ms"):
        return row["duration_ms"] / 1000
    if row.get("first_ns") and row.get("last_ns"):
        return (row["last_ns"] - row["first_ns"]) / 1e9
    return None


def _span(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "span_id": s["span_id"],
        "parent_id": s["parent_id"],
        "name": s["name"],
        "start": s["start_ns"] / 1e9,
        "duration_ms": max(0.0, (s["end_ns"] - s["start_ns"]) / 1e6),
        "status": s["status"],
        "attributes": json.loads(s["attributes"] or "{}"),
        "events": json.loads(s["events"] or "[]"),
    }


def _log(r: dict[str, Any]) -> dict[str, Any]:
    attributes = json.loads(r["attributes"] or "{}")
    message = r["body"]
    # OpenTelemetry's logging handler keeps a logged exception in attributes; the line a
    # user needs is the exception itself (its stack trace stays in `attributes`).
    if kind := attributes.get("exception.type"):
        message = f"{message}: {kind}: {attributes.get('exception.message', '')}".rstrip(": ")
    return {
        "at": r["at_ns"] / 1e9,
        "severity": r["severity"],
        "logger": r["logger"],
        "message": message,
        "attributes": attributes,
    }


def tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Roots with their `children`, each level in start order; a span whose parent never
    arrived (still open, or in a batch that was lost), or that names itself, is a root."""
    by_id = {s["span_id"]: {**s, "children": []} for s in spans}
    roots: list[dict[str, Any]] = []
    for s in sorted(by_id.values(), key=lambda s: s["start"]):
        parent = by_id.get(s["parent_id"]) if s["parent_id"] != s["span_id"] else None
        (parent["children"] if parent and not _below(parent, s, by_id) else roots).append(s)
    return roots


def _below(span: dict[str, Any], ancestor: dict[str, Any], by_id: dict[str, Any]) -> bool:
    """Whether `ancestor` is already among `span`'s ancestors (a forged parent loop)."""
    seen: set[str] = set()
    while span is not None and span["span_id"] not in seen:
        if span["span_id"] == ancestor["span_id"]:
            return True
        seen.add(span["span_id"])
        span = by_id.get(span["parent_id"])
    return False


def turns(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each user or agent turn span, with the figures found on it or on its descendants."""
    children: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        if s["parent_id"] != s["span_id"]:
            children.setdefault(s["parent_id"], []).append(s)

    def figures(span: dict[str, Any], out: dict[str, float], seen: set[str]) -> dict[str, float]:
        seen.add(span["span_id"])
        for key, attribute in TURN_FIGURES.items():
            found = span["attributes"].get(attribute)
            if isinstance(found, (int, float)) and key not in out:
                out[key] = float(found)
        for child in children.get(span["span_id"], []):
            if child["span_id"] not in seen:
                figures(child, out, seen)
        return out

    return [
        {
            "span_id": s["span_id"],
            "kind": s["name"],
            "start": s["start"],
            "duration_ms": s["duration_ms"],
            **figures(s, {}, set()),
        }
        for s in sorted(spans, key=lambda s: s["start"])
        if s["name"].endswith("_turn")
    ]


def errors(spans: list[dict[str, Any]], logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed spans and error log lines, in time order: where the session went wrong."""
    failed = [s for s in spans if s["status"].startswith("error")]
    # An exception fails every span it passes through on its way up: name the one it was
    # raised in, not each of its callers with the same message.
    status = {s["span_id"]: s["status"] for s in failed}
    passed_through = {c["parent_id"] for c in failed if status.get(c["parent_id"]) == c["status"]}
    out = [
        {"at": s["start"], "where": f"span {s['name']}", "message": s["status"][7:] or "failed"}
        for s in failed
        if s["span_id"] not in passed_through
    ]
    out += [
        {"at": r["at"], "where": f"log {r['logger']}", "message": r["message"]}
        for r in logs
        if r["severity"] in ERROR_SEVERITIES
    ]
    return sorted(out, key=lambda e: e["at"])


def _messages(chat: Any) -> list[dict[str, Any]]:
    """The messages of a chat history as livekit-agents writes it; anything else is skipped
    (the upload is checked for its shape, not for every field)."""
    items = chat.get("items") if isinstance(chat, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        content = item.get("content")
        parts = content if isinstance(content, list) else []
        at = item.get("created_at")
        out.append(
            {
                "at": at if isinstance(at, (int, float)) else None,
                "role": str(item.get("role", "")),
                "text": " ".join(c for c in parts if isinstance(c, str)),
                "interrupted": bool(item.get("interrupted")),
            }
        )
    return out


def _messages_from_logs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Before the report arrives: the chat items livekit-agents logs (chat_history)."""
    items = []
    for r in rows:
        if r["logger"] == "chat_history" and r["body"] == "chat item":
            item = json.loads(r["attributes"] or "{}").get("chat.item")
            if isinstance(item, dict):
                items.append(item)
    return _messages({"items": items})
