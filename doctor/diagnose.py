"""The diagnosis: check lines and the verdict, from one rule table (rules.py). Pure logic
over Evidence, shared by POST /api/diagnose and `devstack doctor`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.checks import Check, run_checks
from doctor.evidence import Evidence
from doctor.facts import Facts
from doctor.rules import applying


@dataclass
class Diagnosis:
    cause: str
    verdict: str
    blocking: bool
    checks: list[Check] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "checks": [asdict(c) for c in self.checks],
            "evidence": self.evidence,
        }


def diagnose(ev: Evidence, load_threshold: float | None = None) -> Diagnosis:
    """Checks and the verdict for `ev`. `load_threshold` is the worker's (AGENT_LOAD_THRESHOLD;
    livekit-agents' own production default is 0.7); None means it is never full."""
    facts = Facts(ev, load_threshold)
    rules = applying(facts)
    first = rules[0]  # the table ends with a rule that always applies
    return Diagnosis(
        first.cause, first.say(facts), first.blocking, run_checks(facts, rules), ev.to_dict()
    )
