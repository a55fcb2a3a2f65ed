"""What one stored session becomes in the API, from rows as the store keeps them: an upload
shaped in a way livekit-agents never sends still gives an answer, never a 500."""

from __future__ import annotations

import json

import pytest

from insights import otlp, view

pytestmark = pytest.mark.unit


def span(span_id: str, parent: str, name: str = "s", start: int = 1, **attrs: object) -> dict:
    return {
        "span_id": span_id,
        "parent_id": parent,
        "name": name,
        "start_ns": start,
        "end_ns": start + 1_000_000,
        "status": "",
        "attributes": json.dumps(attrs),
        "events": "[]",
    }


def row(spans: list[dict], chat: object = None) -> dict:
    report = {"chat_history": json.dumps(chat), "summary": "{}"} if chat is not None else None
    return {
        "job_id": "AJ_x", "room": "r", "room_id": "", "agent_name": "a",
        "first_ns": 1, "last_ns": 2, "spans": spans, "logs": [], "report": report,
    }  # fmt: skip


def test_a_tree_with_a_parent_loop_still_has_every_span_once() -> None:
    spans = [span("a", "b", start=1), span("b", "a", "agent_turn", 2), span("c", "c", start=3)]
    detail = view.detail(row(spans), None)
    seen: list[str] = []
    stack = list(detail["spans"])
    while stack:
        s = stack.pop()
        seen.append(s["span_id"])
        stack.extend(s["children"])
    assert sorted(seen) == ["a", "b", "c"]
    assert [t["kind"] for t in detail["turns"]] == ["agent_turn"]


def test_turn_figures_come_from_the_turns_descendants() -> None:
    spans = [
        span("t", "", "agent_turn", 1),
        span("l", "t", "llm_request", 2, **{"lk.response.ttft": 0.25}),
        span("s", "t", "tts_request", 3, **{"lk.response.ttfb": 0.05}),
    ]
    (turn,) = view.detail(row(spans), None)["turns"]
    assert turn["llm_ttft"] == 0.25 and turn["tts_ttfb"] == 0.05


@pytest.mark.parametrize(
    "chat",
    [
        {"items": "not a list"},
        {"items": [1, "x", {"type": "message", "content": "not a list", "role": 5}]},
        ["not", "an", "object"],
    ],
)
def test_a_chat_history_of_another_shape_gives_what_it_can(chat: object) -> None:
    detail = view.detail(row([], chat), None)
    assert all(isinstance(m["text"], str) for m in detail["transcript"])


def test_an_exception_is_named_where_it_was_raised_once() -> None:
    failed = [span("a", "", "agent_turn"), span("b", "a", "llm_request", 2)]
    for s in failed:
        s["status"] = "error: the model refused"
    (error,) = view.detail(row(failed), None)["errors"]
    assert error["where"] == "span llm_request" and error["message"] == "the model refused"


def test_a_timestamp_past_what_sqlite_holds_is_a_bad_body() -> None:
    with pytest.raises(otlp.BadBodyError):
        otlp.ns(2**63)
    assert otlp.ns(2**63 - 1) == 2**63 - 1


# --- metric points per turn (insights/turn_metrics.py), in the shapes livekit-agents 1.8.9
# sends: every point a sum over its export window, exported at the job's end or every 30 s.

S = 1_000_000_000  # ns
STAMP = {"job_id": "AJ_x", "room_id": "RM_x", "lk.agent_name": "a"}


def timed(
    span_id: str, parent: str, name: str, start_s: float, end_s: float, **attrs: object
) -> dict:
    return {**span(span_id, parent, name, int(start_s * S), **attrs), "end_ns": int(end_s * S)}


def request(kind: str, model: str, at_s: float, **fields: float) -> str:
    """A request's metrics as livekit-agents puts them on its span (lk.llm_metrics, ...)."""
    metadata = {"model_name": model, "model_provider": "devstack-test"}
    return json.dumps(
        {"type": f"{kind}_metrics", "timestamp": at_s, **fields, "metadata": metadata}
    )


def point(name: str, at_s: float, value: float, **attrs: object) -> dict:
    return {"name": name, "at_ns": int(at_s * S), "value": value, "attributes": {**STAMP, **attrs}}


def conversation() -> list[dict]:
    """The fixture agent's session: a greeting (TTS only), an answer (LLM and TTS), a turn
    whose LLM request failed (no metrics on it)."""
    tts = "lk.tts_metrics"
    return [
        timed("g", "", "agent_turn", 10.0, 12.4, **{"lk.response.ttfb": 0.063}),
        timed("g1", "g", "tts_request", 10.0, 10.2, **{tts: request("tts", "espeak-ng", 10.2, characters_count=31, audio_duration=2.2)}),
        timed("a", "", "agent_turn", 12.5, 14.3, **{"lk.response.ttft": 0.003, "lk.response.ttfb": 0.022}),
        timed("a1", "a", "llm_request", 12.5, 12.6, **{"lk.llm_metrics": request("llm", "echo", 12.6, prompt_tokens=2, completion_tokens=4, ttft=0.002)}),
        timed("a2", "a", "tts_request", 12.6, 12.7, **{tts: request("tts", "espeak-ng", 12.7, characters_count=22, audio_duration=1.7)}),
        timed("f", "", "agent_turn", 14.4, 14.5),
        timed("f1", "f", "llm_request", 14.4, 14.45, **{"gen_ai.request.model": "echo"}),
    ]  # fmt: skip


def placed(spans: list[dict], points: list[dict]) -> tuple[dict[str, list[str]], list[str]]:
    detail = view.detail(row(spans), None, points)
    per_turn = {t["span_id"]: [p["name"] for p in t["metrics"]] for t in detail["turns"]}
    return per_turn, [p["name"] for p in detail["metrics"]]


def test_a_turn_latency_point_goes_to_the_turn_with_that_figure() -> None:
    """lk.agents.turn.* points, all exported at the end: each is the turn whose span carries
    the same figure; the greeting's ttfb has no model on it, as livekit-agents sends it."""
    points = [
        point("lk.agents.turn.tts_ttfb", 14.6, 0.063),
        point("lk.agents.turn.tts_ttfb", 14.6, 0.022, model_name="espeak-ng"),
        point("lk.agents.turn.llm_ttft", 14.6, 0.003, model_name="echo"),
        point("lk.agents.turn.e2e_latency", 14.6, 0.5),  # no turn has it: the session's
    ]
    per_turn, rest = placed(conversation(), points)
    assert per_turn == {
        "g": ["lk.agents.turn.tts_ttfb"],
        "a": ["lk.agents.turn.tts_ttfb", "lk.agents.turn.llm_ttft"],
        "f": [],
    }
    assert rest == ["lk.agents.turn.e2e_latency"]
    answer = view.detail(row(conversation()), None, points)["turns"][1]
    assert answer["metrics"][0] == {
        "name": "lk.agents.turn.tts_ttfb", "at": 14.6, "value": 0.022, "unit": "s",
        "model": "espeak-ng", "attributes": {"model_name": "espeak-ng"}, "placed_by": "value",
    }  # fmt: skip


def test_usage_goes_to_a_turn_only_when_it_sums_that_turn_alone() -> None:
    """One export at the end: the LLM usage is the answer's (the failed turn's request made
    no metrics), and equals its request's; the TTS usage sums two turns: the session's."""
    llm = {"model_name": "echo", "model_provider": "devstack-test"}
    points = [
        point("lk.agents.usage.llm_input_tokens", 14.6, 2, **llm),
        point("lk.agents.usage.llm_output_tokens", 14.6, 4, **llm),
        point("gen_ai.client.token.usage", 14.6, 4, **{"gen_ai.request.model": "echo", "gen_ai.token.type": "output"}),
        point("gen_ai.client.operation.time_to_first_chunk", 14.6, 0.002, **{"gen_ai.request.model": "echo"}),
        point("lk.agents.usage.tts_characters", 14.6, 53, model_name="espeak-ng"),
        point("gen_ai.invoke_agent.duration", 14.6, 4.3),  # three agent turns summed
        point("lk.agents.usage.stt_audio_duration", 14.6, 3.0),  # per stream, never a turn's
    ]  # fmt: skip
    per_turn, rest = placed(conversation(), points)
    assert per_turn["a"] == [
        "lk.agents.usage.llm_input_tokens",
        "lk.agents.usage.llm_output_tokens",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
    ]
    assert per_turn["g"] == per_turn["f"] == []
    assert rest == [
        "lk.agents.usage.tts_characters",
        "gen_ai.invoke_agent.duration",
        "lk.agents.usage.stt_audio_duration",
    ]


def test_exports_that_each_hold_one_turn_put_each_point_in_its_turn() -> None:
    """A long session: an export between the greeting and the answer splits the TTS usage."""
    points = [
        point("lk.agents.usage.tts_characters", 11.0, 31, model_name="espeak-ng"),
        point("gen_ai.invoke_agent.duration", 13.0, 2.4),  # the greeting ended at 12.4
        point("lk.agents.usage.tts_characters", 20.0, 22, model_name="espeak-ng"),
    ]
    per_turn, rest = placed(conversation(), points)
    assert per_turn["g"] == ["lk.agents.usage.tts_characters", "gen_ai.invoke_agent.duration"]
    assert per_turn["a"] == ["lk.agents.usage.tts_characters"]
    assert rest == []


def test_a_point_holding_what_no_turn_shows_stays_the_sessions() -> None:
    """Usage larger than the turn's requests (a request outside any turn, or spans that
    never arrived) is never put in that turn."""
    points = [point("lk.agents.usage.llm_input_tokens", 14.6, 9, model_name="echo")]
    assert placed(conversation(), points) == ({"g": [], "a": [], "f": []}, [points[0]["name"]])
    outside = [*conversation(), timed("x", "", "llm_request", 13.0, 13.1, **{"lk.llm_metrics": request("llm", "echo", 13.1, prompt_tokens=7)})]  # fmt: skip
    points = [point("lk.agents.usage.llm_input_tokens", 14.6, 9, model_name="echo")]
    assert placed(outside, points)[1] == ["lk.agents.usage.llm_input_tokens"]


def test_a_user_turns_delay_is_the_user_turns_though_the_reply_carries_it_too() -> None:
    """livekit-agents stamps end_of_turn_delay on the user turn and on the reply's turn."""
    spans = [
        timed("u", "", "user_turn", 1.0, 2.0, **{"lk.end_of_turn_delay": 0.41}),
        timed("r", "", "agent_turn", 2.0, 3.0, **{"lk.end_of_turn_delay": 0.41}),
    ]
    points = [point("lk.agents.turn.end_of_turn_delay", 4.0, 0.41)]
    assert placed(spans, points) == ({"u": ["lk.agents.turn.end_of_turn_delay"], "r": []}, [])


def test_request_metrics_of_another_shape_give_what_they_can() -> None:
    """A metrics attribute that is not a JSON object is a request with no known figures."""
    spans = [
        timed("t", "", "agent_turn", 1.0, 2.0),
        timed("l", "t", "llm_request", 1.0, 1.5, **{"lk.llm_metrics": "not json"}),
        timed("m", "t", "llm_request", 1.5, 1.6, **{"lk.llm_metrics": "[1, 2]"}),
    ]
    points = [
        point("lk.agents.usage.llm_input_tokens", 3.0, 2, model_name="echo"),
        point("gen_ai.client.token.usage", 3.0, 2, **{"gen_ai.token.type": "input"}),
    ]
    per_turn, rest = placed(spans, points)
    assert per_turn == {"t": []} and len(rest) == 2
