"""The delivery watcher's state goes to disk through one write-through path, at each change
and only then: what a proxy killed with -9 resumes is what it had at its last step. Pure
logic on a real SQLite file; the steps here touch no server (one is told there is none)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit import api

from devstack.server_log import WorkerRegistry
from proxy.delivery import DeliveryWatcher
from proxy.delivery_upkeep import STALE_SECONDS, purge
from proxy.durable import DurableState, dump, restore, save_on_change
from proxy.metrics import DeliveryMetrics

pytestmark = pytest.mark.unit

ROOM, AGENT = "room-1", "my-agent"


@pytest.fixture
async def watcher() -> AsyncIterator[DeliveryWatcher]:
    """AGENT_REDISPATCH=off: its rescues count a loss instead of calling the server. Its
    server is a closed port, for the one step that asks it something."""
    lk = api.LiveKitAPI("http://127.0.0.1:9", "key", "secret-of-at-least-32-characters!")
    yield DeliveryWatcher(lk, WorkerRegistry(), DeliveryMetrics(), enabled=False)
    await lk.aclose()


def on_disk(store: DurableState) -> object:
    return store.load()


def now_of(watcher: DeliveryWatcher) -> object:
    return json.loads(json.dumps(dump(watcher)))


def dispatch_of(dispatch_id: str) -> api.AgentDispatch:
    return api.AgentDispatch(id=dispatch_id, agent_name=AGENT, room=ROOM)


async def test_every_change_is_on_disk_at_once(watcher: DeliveryWatcher, tmp_path: Path) -> None:
    """A dispatch, its loss counted without an event of its own, a token minted and used, a
    token forgotten, a room finished: each is on disk right after it happened."""
    store = DurableState(tmp_path, "9000")
    save_on_change(watcher, store)

    watcher.track(ROOM, AGENT, dispatch_of("AD_1"), "", "explicit")
    assert on_disk(store) == now_of(watcher)
    (d,) = watcher.deliveries.values()
    watcher.rescue(d, "job not assigned", "not_assigned")
    assert on_disk(store) == now_of(watcher)
    assert watcher.metrics.totals()["dispatches_lost"] == 1

    watcher.expect_token(ROOM, "alice", [(AGENT, "")])
    watcher.expect_token(ROOM, "bob", [(AGENT, "")])
    assert on_disk(store) == now_of(watcher)
    joined = api.WebhookEvent(
        event="participant_joined",
        room=api.Room(name=ROOM),
        participant=api.ParticipantInfo(identity="alice"),
    )
    await watcher.on_webhook(joined)  # its dispatch cannot be listed: no server
    assert (ROOM, "alice") not in watcher.tokens
    assert on_disk(store) == now_of(watcher)
    watcher.token_times[(ROOM, "bob")] -= STALE_SECONDS + 1
    purge(watcher, watcher.token_times[(ROOM, "bob")] + STALE_SECONDS + 2)
    assert watcher.tokens == {}
    assert on_disk(store) == now_of(watcher)

    await watcher.on_webhook(api.WebhookEvent(event="room_finished", room=api.Room(name=ROOM)))
    assert watcher.deliveries == {}
    assert on_disk(store) == now_of(watcher)


def test_a_resumed_watcher_has_the_counters_and_events(
    watcher: DeliveryWatcher, tmp_path: Path
) -> None:
    """What was saved comes back in a fresh watcher: the lost dispatch, its count, its
    events."""
    store = DurableState(tmp_path, "9000")
    save_on_change(watcher, store)
    watcher.track(ROOM, AGENT, dispatch_of("AD_2"), "", "explicit")
    (d,) = watcher.deliveries.values()
    watcher.rescue(d, "job not assigned", "not_assigned")

    fresh = DeliveryWatcher(watcher.lk, WorkerRegistry(), DeliveryMetrics(), enabled=False)
    saved = store.load()
    assert saved is not None
    assert restore(fresh, saved) == 1
    assert fresh.deliveries[(ROOM, AGENT)].state == "lost"
    assert fresh.metrics.totals() == watcher.metrics.totals()
    assert [e["kind"] for e in fresh.events.dump()] == ["dispatched"]


def test_nothing_is_written_while_nothing_changes(watcher: DeliveryWatcher, tmp_path: Path) -> None:
    """A step that changes nothing kept (an agent seen again) writes nothing."""
    store = DurableState(tmp_path, "9000")
    save = save_on_change(watcher, store)
    watcher.track(ROOM, AGENT, dispatch_of("AD_3"), "", "explicit")
    watcher.agent_joined(ROOM, AGENT, "agent-1")
    written = store.path.stat().st_mtime_ns
    watcher.agent_joined(ROOM, AGENT, "agent-1")  # already joined
    watcher.changed()
    save()  # the clean stop's
    assert store.path.stat().st_mtime_ns == written
