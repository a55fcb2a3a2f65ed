"""A real session's metric points, shown per turn where they are one turn's: the fixture
agent (tests/agent/fixtures/insights_agent.py: typed input, a test LLM, espeak-ng; no STT)
uploads livekit-agents' metrics with the rest of its session (tests/conftest.py
recorded_session), and GET /api/sessions/{job_id} puts them in their turns."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.processes import Proxy
from devstack.waiting import wait_until
from tests.support.insights import RecordedSession, session_detail

pytestmark = pytest.mark.integration

GREETING = "Hello, I am the insights agent."  # the fixture's, spoken without the LLM
ANSWER = "You said: hello there."


def values(points: list[dict[str, Any]], name: str) -> list[float]:
    return [p["value"] for p in points if p["name"] == name]


def test_a_real_sessions_turns_carry_their_metric_points(
    proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """The greeting and the answer carry their own TTS and LLM latency points (equal to the
    figures their spans carry) and the answer its LLM usage; TTS usage adds up to both."""

    def with_metrics() -> dict[str, Any] | None:
        s = session_detail(proxy.url, recorded_session.job_id)
        placed = [p for t in s["turns"] for p in t["metrics"]]
        return s if placed else None

    # livekit-agents sends its metrics at the job's end too, beside its last spans.
    s = wait_until(with_metrics, timeout=30, what="the session's metric points")
    greeting, answer = [t for t in s["turns"] if t["kind"] == "agent_turn"][:2]
    print(
        "\nper turn: "
        + "; ".join(
            ", ".join(f"{p['name']}={p['value']:.4g}" for p in t["metrics"]) or "-"
            for t in s["turns"]
        )
        + f"\nthe session's: {', '.join(p['name'] for p in s['metrics'])}"
    )
    assert values(greeting["metrics"], "lk.agents.turn.tts_ttfb") == [greeting["tts_ttfb"]]
    assert values(answer["metrics"], "lk.agents.turn.tts_ttfb") == [answer["tts_ttfb"]]
    assert values(answer["metrics"], "lk.agents.turn.llm_ttft") == [answer["llm_ttft"]]
    # The echo model counts a token a word: "hello there" in, "You said: hello there." out.
    assert values(answer["metrics"], "lk.agents.usage.llm_input_tokens") == [2]
    assert values(answer["metrics"], "lk.agents.usage.llm_output_tokens") == [4]
    assert not values(greeting["metrics"], "lk.agents.usage.llm_input_tokens")
    # Both turns spoke: one point for both, or one each when an export fell in between.
    everywhere = [p for t in s["turns"] for p in t["metrics"]] + s["metrics"]
    assert sum(values(everywhere, "lk.agents.usage.tts_characters")) == len(GREETING + ANSWER)
