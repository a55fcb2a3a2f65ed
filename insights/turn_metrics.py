"""The session's metric points, each put in the turn it measured where that can be told.

livekit-agents (telemetry/otel_metrics.py) exports its metrics as sums: every 30 s and at
the job's end, one point per instrument and attribute set, summing what was measured since
the export before, with no turn or speech id on it. So a point's time says when it was
exported, not when it was measured, and a point is one turn's only when everything it sums
was measured in that turn:

- `lk.agents.turn.*` (latencies per turn, recorded from the chat history at the session's
  end): a point equal to one turn's figure, as its spans carry it, is that measurement.
- usage and request timings (`lk.agents.usage.*`, `gen_ai.client.*`): recorded as each LLM,
  TTS or realtime request ends; the spans of such a request carry its metrics (lk.llm_metrics,
  lk.tts_metrics). A point is a turn's when every request of its kind and model that could
  fall in its export window lies in that one turn, and (where the request's metrics say)
  the point's value is their sum.
- `gen_ai.invoke_agent.duration`: one per agent turn, as it ends; the same window rule.

Any other point (STT usage, which comes per audio stream rather than per request; a window
that holds several turns) stays the session's."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Collection
from typing import Any

TURN_LATENCY = "lk.agents.turn."
# The span attribute holding one request's metrics (telemetry/trace_types.py), by kind.
REQUEST_METRICS = {
    "lk.llm_metrics": "llm",
    "lk.realtime_model_metrics": "llm",
    "lk.tts_metrics": "tts",
}
INVOKE_AGENT = "gen_ai.invoke_agent.duration"
# Which request a metric sums, and the field of that request's metrics it sums (None: not
# in them). gen_ai.client.token.usage is split by its gen_ai.token.type (see _field).
REQUEST_POINTS: dict[str, tuple[str, str | None]] = {
    "lk.agents.usage.llm_input_tokens": ("llm", "prompt_tokens"),
    "lk.agents.usage.llm_input_cached_tokens": ("llm", "prompt_cached_tokens"),
    "lk.agents.usage.llm_output_tokens": ("llm", "completion_tokens"),
    "gen_ai.client.token.usage": ("llm", None),
    "gen_ai.client.operation.duration": ("llm", "duration"),
    "gen_ai.client.operation.time_to_first_chunk": ("llm", "ttft"),
    "lk.agents.usage.tts_characters": ("tts", "characters_count"),
    "lk.agents.usage.tts_audio_duration": ("tts", "audio_duration"),
}
# A figure livekit-agents stamps on two turns (a user turn's delays are on the reply's
# agent turn too) is the measurement of this kind of turn.
FIGURE_OWNER = {"end_of_turn_delay": "user_turn", "transcription_delay": "user_turn"}
# The export window is known to the export, not to the nanosecond of each measurement.
SLACK_S = 1.0
# The job's stamp, on every point: nothing a reader needs per point.
STAMP = frozenset({"job_id", "room_id", "lk.agent_name", "devstack.job_id"})


def place(
    turns: list[dict[str, Any]],
    spans: list[dict[str, Any]],
    points: list[dict[str, Any]],
    figures: Collection[str],
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The points (store rows) per turn span id, and the points that stay the session's.
    `turns` and `spans` as insights/view.py makes them; `figures` the turns' figure keys."""
    owner = _turn_of(spans, {t["span_id"] for t in turns})
    measured = _measured(spans, owner)
    measured_at = {kind: [m["at"] for m in found] for kind, found in measured.items()}
    exports = sorted({p["at_ns"] for p in points})
    by_turn: dict[str, list[dict[str, Any]]] = {}
    rest: list[dict[str, Any]] = []
    for p in points:
        turn, by = _figure_turn(p, turns, figures), "value"
        if turn is None:
            turn, by = _window_turn(p, measured, measured_at, exports), "window"
        shown = _shown(p, by if turn else None)
        (by_turn.setdefault(turn, []) if turn else rest).append(shown)
    return by_turn, rest


def _turn_of(spans: list[dict[str, Any]], turn_ids: set[str]) -> dict[str, str | None]:
    """Each span's nearest turn span (itself, for a turn), or None."""
    parent = {s["span_id"]: s["parent_id"] for s in spans}
    out: dict[str, str | None] = {}
    for s in spans:
        at, seen = s["span_id"], set()
        while at in parent and at not in turn_ids and at not in seen:
            seen.add(at)
            at = parent[at]
        out[s["span_id"]] = at if at in turn_ids else None
    return out


def _measured(
    spans: list[dict[str, Any]], owner: dict[str, str | None]
) -> dict[str, list[dict[str, Any]]]:
    """Every request whose metrics the spans carry, and every agent turn (the measured
    things a window point sums), by kind in time order: model, when measured, its metrics,
    its turn."""
    out = []
    for s in spans:
        end = s["start"] + s["duration_ms"] / 1000
        if s["name"] == "agent_turn":
            turn = s["span_id"]
            out.append(
                {"kind": "agent_turn", "model": None, "at": end, "metrics": {}, "turn": turn}
            )
        for attribute, kind in REQUEST_METRICS.items():
            if attribute not in s["attributes"]:
                continue
            metrics = _json_object(s["attributes"][attribute])
            meta = metrics.get("metadata")
            model = (meta.get("model_name") if isinstance(meta, dict) else None) or s[
                "attributes"
            ].get("gen_ai.request.model")
            stamp = metrics.get("timestamp")  # when the request's metrics were made
            at = float(stamp) if isinstance(stamp, (int, float)) else end
            turn = owner.get(s["span_id"])
            out.append({"kind": kind, "model": model, "at": at, "metrics": metrics, "turn": turn})
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for m in sorted(out, key=lambda m: m["at"]):
        by_kind.setdefault(m["kind"], []).append(m)
    return by_kind


def _json_object(raw: Any) -> dict[str, Any]:
    """A span attribute holding a JSON object; {} for anything else (an upload is checked
    for its shape, not for every attribute)."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _figure_turn(
    p: dict[str, Any], turns: list[dict[str, Any]], figures: Collection[str]
) -> str | None:
    """The turn whose figure this `lk.agents.turn.*` point is, if exactly one."""
    figure = p["name"].removeprefix(TURN_LATENCY)
    if not p["name"].startswith(TURN_LATENCY) or figure not in figures:
        return None
    found = [t for t in turns if isinstance(t.get(figure), float) and _same(t[figure], p["value"])]
    if len(found) > 1:
        found = [t for t in found if t["kind"] == FIGURE_OWNER.get(figure, "agent_turn")]
    return found[0]["span_id"] if len(found) == 1 else None


def _model(attributes: dict[str, Any]) -> str | None:
    model = attributes.get("model_name") or attributes.get("gen_ai.request.model")
    return model if isinstance(model, str) else None


def _field(p: dict[str, Any], field: str | None) -> str | None:
    if p["name"] == "gen_ai.client.token.usage":
        kind = p["attributes"].get("gen_ai.token.type")
        return {"input": "prompt_tokens", "output": "completion_tokens"}.get(str(kind))
    return field


def _window_turn(
    p: dict[str, Any],
    measured: dict[str, list[dict[str, Any]]],
    measured_at: dict[str, list[float]],
    exports: list[int],
) -> str | None:
    """The one turn every measurement this point can sum belongs to, if there is one."""
    if p["name"] == INVOKE_AGENT:
        kind, field = "agent_turn", None
    elif p["name"] in REQUEST_POINTS:
        kind, field = REQUEST_POINTS[p["name"]]
        field = _field(p, field)
    else:
        return None
    before = bisect.bisect_left(exports, p["at_ns"])
    # From the export before this one (or the session's start) to this one, with slack.
    since = exports[before - 1] / 1e9 - SLACK_S if before else -math.inf
    until = p["at_ns"] / 1e9 + SLACK_S
    model = _model(p["attributes"])
    of_kind, times = measured.get(kind, []), measured_at.get(kind, [])
    window = of_kind[bisect.bisect_right(times, since) : bisect.bisect_right(times, until)]
    summed = [m for m in window if model is None or m["model"] in (None, model)]
    turns = {m["turn"] for m in summed}
    if len(turns) != 1 or None in turns:
        return None
    if field is not None:
        values = [m["metrics"].get(field) for m in summed]
        if not all(isinstance(v, (int, float)) for v in values) or not _same(
            float(sum(values)), float(p["value"])
        ):
            return None  # the point holds a measurement no span of the turn shows
    return turns.pop()


def _shown(p: dict[str, Any], by: str | None) -> dict[str, Any]:
    name = p["name"]
    seconds = any(w in name for w in ("duration", "latency", "ttft", "ttfb", "delay", "time"))
    out = {
        "name": name,
        "at": p["at_ns"] / 1e9,
        "value": p["value"],
        "unit": "s" if seconds else "1",
        "model": _model(p["attributes"]),
        "attributes": {k: v for k, v in p["attributes"].items() if k not in STAMP},
    }
    if by is not None:
        out["placed_by"] = by
    return out
