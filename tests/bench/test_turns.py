"""The conversation benchmark's arithmetic (pure logic; `python -m bench.turns` and `make
bench` run it on real turns): percentiles, the breakdown of a turn, when a level of
conversations at once holds, and what is read off the agent's spans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.session_figures import _eou
from bench.speech import trim
from bench.summary import percentile
from bench.turn_figures import breakdown, level_holds, level_summary


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 10.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_the_breakdown_splits_a_turn_into_the_agents_stages_and_transport() -> None:
    figures = [
        {"end_of_turn_delay": 0.6, "transcription_delay": 0.4},
        {"llm_ttft": 0.03, "tts_ttfb": 0.2, "e2e_latency": 0.85},
        {"endpointing_delay": 0.5},
        {"eou_probability": 0.9, "eou_unlikely_threshold": 0.36},
    ]
    out = breakdown([1.0, 1.1, 1.2], figures)
    assert out["end_of_turn_delay"] == 0.6 and out["tts_ttfb"] == 0.2
    # e2e less the end of turn and the voice: the LLM ran ahead, inside the end of turn.
    assert out["agent_other"] == pytest.approx(0.05)
    # The turn at the person (p50 1.1 s) less what the agent timed itself.
    assert out["transport"] == pytest.approx(0.25)
    assert out["endpointing_delay"] == 0.5 and out["eou_probability"] == 0.9


def test_a_breakdown_without_spans_says_so_instead_of_guessing() -> None:
    out = breakdown([1.0], [])
    assert out["transport"] is None and out["agent_other"] is None


def person(*turns: tuple[float | None, float | None], error: str | None = None) -> dict[str, Any]:
    """(latency_s, final_s) per turn: the answer, and the final transcript, at the person."""
    rows = [{"latency_s": v, "thinking_s": None, "final_s": f} for v, f in turns]
    return {"turns": rows, "error": error, "cycle_s": 8.0}


def test_a_level_holds_when_every_turn_is_answered_in_time_and_stt_keeps_up() -> None:
    level = level_summary(2, [person((1.0, 0.9)), person((1.5, 1.2))], [], shortest_s=2.0)
    assert level["stt_kept_up"] and level["p95_s"] == 1.5 and level["stt_max_s"] == 1.2
    assert level_holds(level, alone_p50=1.0)
    assert not level_holds(level, alone_p50=0.7)  # p95 over twice the p50 alone


def test_stt_behind_real_time_or_a_lost_turn_fails_the_level() -> None:
    slow = level_summary(1, [person((1.0, 2.5))], [], shortest_s=2.0)
    assert not slow["stt_kept_up"] and not level_holds(slow, 1.0)
    lost = level_summary(1, [person((1.0, 1.0), (None, 1.0))], [], 2.0)
    assert lost["answered"] == 1 and not level_holds(lost, 1.0)
    # A turn whose final transcript never came back cannot be said to have kept up.
    unknown = level_summary(1, [person((1.0, 1.0), (1.0, None))], [], 2.0)
    assert not unknown["stt_kept_up"]


def test_the_eou_spans_give_the_applied_delay_and_the_detectors_verdict() -> None:
    def span(name: str, children: list[dict[str, Any]], **attributes: Any) -> dict[str, Any]:
        return {"name": name, "attributes": attributes, "children": children}

    detection = span(
        "eou_detection",
        [],
        **{"lk.eou.endpointing_delay": 2.5, "lk.eou.probability": 0.16},
        **{"lk.eou.unlikely_threshold": 0.36},
    )
    wait = span("eou_wait", [detection], **{"lk.eou.endpointing_delay": 2.5})
    turn = span("user_turn", [wait], **{"lk.end_of_turn_delay": 2.5})
    assert _eou([span("agent_session", [turn])]) == [
        {"endpointing_delay": 2.5},
        {"eou_probability": 0.16, "eou_unlikely_threshold": 0.36},
    ]


def test_speech_is_trimmed_to_its_loud_frames() -> None:
    rate = 1000  # 10 samples a frame
    voice = np.full(50, 3000, dtype=np.int16)
    samples = np.concatenate([np.zeros(30, np.int16), voice, np.zeros(40, np.int16)])
    assert len(trim(samples, rate)) == 50
    assert len(trim(np.zeros(100, np.int16), rate)) == 100  # nothing loud: left as it is
