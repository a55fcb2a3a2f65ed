"""Each turn's figures from the sessions the conversation benchmark's agents uploaded to the
proxy (Agent Insights offline): the stages of a turn off its user and reply spans, and the
end-of-turn decision off livekit-agents' eou spans. bench/turns.py breaks turns down with
them (bench/turn_figures.py)."""

from __future__ import annotations

import sys
from typing import Any

import httpx

from devstack.waiting import wait_until

# What each turn's spans time (insights/view.py reads them off the agent's *_turn spans):
# a user turn's, then a reply's (the greeting has no e2e_latency: nobody spoke before it).
USER_FIGURES = {"end_of_turn_delay", "transcription_delay"}
REPLY_FIGURES = {"llm_ttft", "tts_ttfb", "e2e_latency"}
# And what the end-of-turn decision was, on livekit-agents' own eou spans.
EOU_ATTRIBUTES = {
    "lk.eou.endpointing_delay": "endpointing_delay",
    "lk.eou.probability": "eou_probability",
    "lk.eou.unlikely_threshold": "eou_unlikely_threshold",
}


def session_figures(proxy_url: str, rooms: list[str], timeout: float) -> list[dict[str, float]]:
    """Each turn's figures from the sessions the agents in `rooms` uploaded to the proxy
    (GET /api/sessions/{job}), once every one is reported; [] if they never all are."""

    def reported() -> list[str] | None:
        listed = httpx.get(f"{proxy_url}/api/sessions", timeout=10).json()["sessions"]
        jobs = [s["job_id"] for s in listed if s["room"] in rooms and s["reported"]]
        return jobs if len(jobs) >= len(rooms) else None

    try:
        jobs = wait_until(reported, timeout=timeout, what="the sessions' reports", interval=0.5)
    except TimeoutError as exc:
        print(f"bench: {exc}; the breakdown goes without them", file=sys.stderr)
        return []
    figures: list[dict[str, float]] = []
    for job in jobs:
        detail = httpx.get(f"{proxy_url}/api/sessions/{job}", timeout=10).json()
        for turn in detail["turns"]:
            keep = USER_FIGURES if turn["kind"] == "user_turn" else REPLY_FIGURES
            if turn["kind"] == "user_turn" or "e2e_latency" in turn:
                figures.append({k: float(turn[k]) for k in keep & turn.keys()})
        figures.extend(_eou(detail["spans"]))
    return figures


def _eou(spans: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The endpointing delay each end of turn waited for, and the turn detector's verdict."""
    out = []
    for span in spans:
        found = {
            name: float(span["attributes"][attribute])
            for attribute, name in EOU_ATTRIBUTES.items()
            if span["name"] in ("eou_wait", "eou_detection")
            and isinstance(span["attributes"].get(attribute), int | float)
        }
        if found:
            # Both spans carry the delay: the wait's is the one applied.
            if span["name"] == "eou_detection":
                found.pop("endpointing_delay", None)
            out.append(found)
        out.extend(_eou(span["children"]))
    return out
