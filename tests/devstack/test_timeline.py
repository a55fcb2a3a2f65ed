"""One dispatch's steps, from the stamps the agent sets on itself: taken in the order they
happened, whichever path the agent took, and nothing invented for an agent that stamps
nothing."""

from __future__ import annotations

import pytest

from devstack.timeline import decode, encode, steps

pytestmark = pytest.mark.unit

AGENT = {"received": 1200, "accepted": 1201, "assigned": 1202, "launched": 1202.5, "entered": 1204}


def test_every_step_of_a_dispatch() -> None:
    got = steps({**AGENT, "connected": 1280}, 1000, 1290)
    assert got == {
        "server → job request": 200,
        "accept": 1,
        "assignment": 1,
        "launch": 0.5,
        "entrypoint": 1.5,
        "ctx.connect()": 76,
        "visible to the person": 10,
    }


def test_steps_follow_the_order_the_stamps_happened() -> None:
    """An agent that announced itself before its connection was up (an extra stamp)."""
    got = steps({**AGENT, "connected": 1290}, 1000, 1250)
    assert got["visible to the person"] == 46 and got["ctx.connect()"] == 40


def test_an_agent_that_stamps_nothing_has_only_its_total() -> None:
    assert steps(decode(None), 1000, 3900) == {"visible to the person": 2900}


def test_the_attribute_round_trips_in_milliseconds_and_ignores_garbage() -> None:
    assert decode(encode({"received": 1.2345, "entered": 0.0})) == {"received": 1234.5}
    assert decode("not json") == {} and decode("[1, 2]") == {}
