"""The agent's connect runs to its end even when its job is cancelled meanwhile
(agent/announce.py `uncancellable`): a connect abandoned halfway leaves the SDK's native
side waiting for an acknowledgement that never comes, and it then ends the worker's whole
process. Pure asyncio logic; the bursts in tests/agent/test_capacity.py and `make bench`
run it against a real server."""

from __future__ import annotations

import asyncio

import pytest

from agent.announce import uncancellable

pytestmark = pytest.mark.unit


async def turns(count: int = 5) -> None:
    """A few turns of the event loop: enough for a cancel to reach the caller's task."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_cancelled_caller_still_lets_the_step_finish_then_is_cancelled() -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def connect() -> str:
        await release.wait()
        finished.append("acknowledged")
        return "room"

    caller = asyncio.create_task(uncancellable(connect()))
    await turns()
    caller.cancel()
    await turns()
    assert not caller.done()  # still waiting for the step, as the SDK needs
    caller.cancel()  # a second cancel (livekit-agents' cancel_and_wait) changes nothing
    await turns()
    assert not caller.done()

    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished == ["acknowledged"]


async def test_without_a_cancel_it_is_the_step_itself() -> None:
    async def connect() -> str:
        await asyncio.sleep(0)
        return "room"

    assert await uncancellable(connect()) == "room"

    async def refused() -> str:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        await uncancellable(refused())
