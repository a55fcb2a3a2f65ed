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
