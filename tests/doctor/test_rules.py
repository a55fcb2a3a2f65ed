"""The rule table over recorded facts: every cause the doctor can name has the facts of
a real run in tests/doctor/facts/ (recorded with DEVSTACK_RECORD_FACTS by the doctor's
integration tests), and judging them again gives the same cause, verdict and checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from doctor.diagnose import diagnose
from doctor.evidence import Evidence
from doctor.rules import CAUSES, RULES

pytestmark = pytest.mark.unit

FACTS = Path(__file__).resolve().parent / "facts"
NON_BLOCKING = {
    "agent_unannounced",
    "agent_present",
    "probe_unannounced",
    "dispatch_pending",
    "no_room",
    "ok",
}


def recorded(cause: str) -> dict[str, Any]:
    return json.loads((FACTS / f"{cause}.json").read_text())


def test_every_cause_has_recorded_facts() -> None:
    assert sorted(p.stem for p in FACTS.glob("*.json")) == sorted(CAUSES)


def test_causes_are_unique_and_the_table_ends_with_a_catch_all() -> None:
    assert len(set(CAUSES)) == len(CAUSES)
    assert RULES[-1].cause == "ok"


@pytest.mark.parametrize("cause", CAUSES)
def test_recorded_facts_give_their_cause(cause: str) -> None:
    """The verdict names the cause; a blocking cause fails its own check line with a fix."""
    facts = recorded(cause)
    d = diagnose(Evidence.from_dict(facts["evidence"]), facts.get("load_threshold"))
    assert d.cause == cause, d.verdict
    assert d.blocking == (cause not in NON_BLOCKING)
    rule = next(r for r in RULES if r.cause == cause)
    if d.blocking:
        line = next(c for c in d.checks if c.key == rule.check)
        assert line.status == "fail" and line.fix == rule.fix
    else:
        assert all(c.status != "fail" for c in d.checks), d.checks


@pytest.mark.parametrize("cause", CAUSES)
def test_evidence_survives_a_round_trip(cause: str) -> None:
    evidence = recorded(cause)["evidence"]
    assert Evidence.from_dict(evidence).to_dict() == evidence


def test_a_name_mismatch_outranks_a_failed_probe() -> None:
    """With the wrong name, the probe fails too; the verdict is the name, not 'not registered'."""
    facts = recorded("name_mismatch")["evidence"]
    facts["probe"] = {"room": "devstack-probe-x", "joined": False, "latency_ms": None, "detail": ""}
    d = diagnose(Evidence.from_dict(facts))
    assert d.cause == "name_mismatch"
    assert {c.key for c in d.checks if c.status == "fail"} >= {"names", "probe"}


def test_a_full_worker_is_judged_only_against_a_known_threshold() -> None:
    facts = recorded("worker_full")
    assert diagnose(Evidence.from_dict(facts["evidence"]), None).cause != "worker_full"


UPSTREAM_401 = (
    "failed to generate LLM completion after 1 attempts (caused by APIStatusError: message="
    "'Error code: 401 - the upstream LLM at llm.example.test answered 401: bad key')"
)


@pytest.mark.parametrize(
    ("inference", "error", "says"),
    [
        ({"mode": "off", "url": None, "up": None}, None, "DEVSTACK_INFERENCE=off"),
        (
            {"mode": "local", "url": "http://127.0.0.1:9100", "up": False},
            None,
            "gateway at http://127.0.0.1:9100 does not answer",
        ),
        (
            {"mode": "local", "url": "http://127.0.0.1:9100", "up": True},
            UPSTREAM_401,
            "at llm.example.test (DEVSTACK_LLM_URL) refused with 401 (not retried",
        ),
    ],
    ids=["off", "gateway-down", "upstream-refused"],
)
def test_a_failing_inference_session_says_which_part_failed(
    inference: dict[str, Any], error: str | None, says: str
) -> None:
    """session_failed tells Inference off, the gateway down and an upstream LLM's refusal
    apart, naming the host and never a key."""
    facts = recorded("session_failed")["evidence"]
    if error:
        facts["job_failures"][-1]["error"] = error
    d = diagnose(Evidence.from_dict({**facts, "inference": inference}))
    assert d.cause == "session_failed"
    assert says in d.verdict, d.verdict
