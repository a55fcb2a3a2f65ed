"""One dispatch, step by step: the stages the agent stamps on itself and the steps
between them, as the benchmark, the debug page and the doctor show them.

The agent publishes its stamps (wall-clock ms) in one participant attribute, set in the
same call that makes it visible, so a client that sees the agent also has its timeline.
All processes run on one machine, so their clocks agree."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

TIMELINE_ATTRIBUTE = "devstack.timeline"

# livekit-server holds back news of a participant that publishes no track, and sends it in
# a batch every 3 s (pkg/rtc/room.go: PushAndDequeueUpdates sends at once only when
# `isImmediate || pi.IsPublisher`; subscriberUpdateInterval = 3 s). An attribute or
# metadata change is immediate, so the agent sets its state (and this timeline) at once.
# psrpc v0.7.2's DefaultAffinityShortCircuit: every job request waits this long for other
# workers' affinity before it picks one, and livekit-server offers no setting for it.
AFFINITY_FLOOR_MS = 200

# (stamp, the step that ends at it, what happens in it). "dispatched" (the caller's request)
# and "visible" (the person's client sees the agent) are stamped by the caller, the rest by
# the agent. Steps are taken in the order the stamps happened.
STEPS = (
    (
        "received",
        "server → job request",
        "CreateDispatch until the worker's job request; holds the 200 ms floor",
    ),
    ("accepted", "accept", "the worker runs on_request and answers available"),
    ("assigned", "assignment", "the server assigns the job to the worker"),
    ("launched", "launch", "a warm job thread (or process) takes the job"),
    ("entered", "entrypoint", "the job's entrypoint starts"),
    ("connected", "ctx.connect()", "signal join, then ICE and DTLS with the server"),
    ("visible", "visible to the person", "the state update reaches the person's client"),
)
STEP_OF = {stamp: step for stamp, step, _ in STEPS}


def encode(stamps: Mapping[str, float]) -> str:
    """Seconds since the epoch, as JSON of whole milliseconds (the attribute's value)."""
    return json.dumps(
        {k: round(v * 1000, 1) for k, v in stamps.items() if v}, separators=(",", ":")
    )


def decode(raw: str | None) -> dict[str, float]:
    """The attribute's stamps in ms; empty when the agent set none (or sent garbage)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}


def steps(
    stamps_ms: Mapping[str, float], dispatched_ms: float, visible_ms: float
) -> dict[str, float]:
    """Milliseconds spent in each step, keyed by step name, each from the stamp before it in
    time; a step whose stamp is missing (an agent that stamps nothing) is left out."""
    known = {"dispatched": dispatched_ms, **stamps_ms, "visible": visible_ms}
    ordered = sorted((t, k) for k, t in known.items() if t and (k in STEP_OF or k == "dispatched"))
    return {
        STEP_OF[key]: round(t - before, 1)
        for (before, _), (t, key) in itertools.pairwise(ordered)
        if key in STEP_OF
    }
