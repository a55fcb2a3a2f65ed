"""One dispatch's steps, from the stamps the agent sets on itself: taken in the order they
happened, whichever path the agent took, and nothing invented for an agent that stamps
nothing."""

from __future__ import annotations

import pytest

from devstack.timeline import decode, encode, steps

pytestmark = pytest.mark.unit

AGENT = {"received": 1200, "accepted": 1201, "assigned": 1202, "launched": 1202.5, "entered": 1204}


def test_announced_before_connected() -> None:
    got = steps({**AGENT, "announced": 1240, "connected": 1290}, 1000, 1250)
    assert got == {
        "server → job request": 200,
        "accept": 1,
        "assignment": 1,
        "launch": 0.5,
        "entrypoint": 1.5,
        "signal join + state": 36,
        "visible to the person": 10,
        "ctx.connect() returns": 40,
    }


def test_visible_only_after_connecting_when_the_early_update_did_not_land() -> None:
    got = steps({**AGENT, "connected": 1280}, 1000, 1290)
    assert got["ctx.connect() returns"] == 76 and got["visible to the person"] == 10
    assert "signal join + state" not in got


def test_an_agent_that_stamps_nothing_has_only_its_total() -> None:
    assert steps(decode(None), 1000, 3900) == {"visible to the person": 2900}


def test_the_attribute_round_trips_in_milliseconds_and_ignores_garbage() -> None:
    assert decode(encode({"received": 1.2345, "entered": 0.0})) == {"received": 1234.5}
    assert decode("not json") == {} and decode("[1, 2]") == {}
