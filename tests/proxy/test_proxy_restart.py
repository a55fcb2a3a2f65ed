"""The proxy survives its own crash: run by its supervisor as the Procfile runs it, killed
with -9, it answers again, and the delivery watcher resumes what it was following from
the state dir's SQLite: a dispatch held for a worker that had not registered is delivered
when that worker is started by hand after the restart, and the counters carry over."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer, choose_runtime, start_livekit_server
from devstack.processes import AgentWorker, Proxy
from devstack.waiting import free_port, http_ok, wait_until
from tests.proxy.test_delivery import dispatch, dispatch_to_a_stopped_worker
from tests.support.clients import connected, plain_token

pytestmark = pytest.mark.integration


def get(proxy: Proxy, path: str, **params: str) -> dict[str, object]:
    return httpx.get(f"{proxy.url}{path}", params=params, timeout=10).json()


async def test_proxy_killed_resumes_a_held_dispatch_and_its_counters(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """kill -9 of the proxy: it answers again within seconds, still follows the dispatch
    it held for an unregistered name, delivers it once that worker starts, and its
    counters and health show what came before and the restart."""
    name = f"by-hand-{uuid.uuid4().hex[:6]}"
    proxy = Proxy(livekit_server, name, "http://127.0.0.1:9", supervised=True)
    try:
        proxy.wait_ready()
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            await dispatch(proxy, room_name, name)
            held = get(proxy, "/api/delivery", room=room_name)
            assert [d["state"] for d in held["deliveries"]] == ["waiting_for_worker"]  # type: ignore[index]
            requested = held["counters"]["dispatches_requested"]  # type: ignore[index]

            os.kill(proxy.supervised_pid(), signal.SIGKILL)
            killed = time.monotonic()
            wait_until(
                lambda: proxy.supervised_state()["restarts"] == 1 and http_ok(f"{proxy.url}/docs"),
                timeout=30, what="the proxy to answer again",
            )  # fmt: skip
            back = time.monotonic() - killed
            after = get(proxy, "/api/delivery", room=room_name)
            assert [d["state"] for d in after["deliveries"]] == ["waiting_for_worker"], (
                proxy.output[-3000:]
            )  # type: ignore[index]
            assert after["counters"]["dispatches_requested"] == requested  # type: ignore[index]
            health = get(proxy, "/api/health")
            assert health["proxy"]["resumed_deliveries"] >= 1  # type: ignore[index]
            assert any(
                p["name"] == proxy.supervisor_name and p["restarts"] == 1
                for p in health["processes"]
            )  # type: ignore[index, union-attr]

            worker = AgentWorker(livekit_server, name)  # started by hand, after the restart
            try:
                worker.wait_registered()
                await client.wait_for_agents(1, timeout=15)
            finally:
                worker.stop()
        events = [e["kind"] for e in get(proxy, "/api/delivery", room=room_name)["events"]]  # type: ignore[index]
        assert events[:2] == ["no worker", "re-dispatched"], events
    finally:
        proxy.stop()
    print(f"\nproxy killed with -9 answered again after {back:.1f} s")


async def test_a_restarted_proxy_leaves_a_replaced_agent_alone(
    tmp_path: Path, room_name: str
) -> None:
    """A worker killed with its agent in the room is replaced; the proxy restarted after
    that reads the old worker's close again from the server's log, and must not take the
    new, healthy agent for a ghost."""
    proxy_port = free_port()
    server = start_livekit_server(
        choose_runtime(),
        state_dir=tmp_path,
        webhook_url=f"http://127.0.0.1:{proxy_port}/api/webhooks/livekit",
    )
    name = f"replaced-{uuid.uuid4().hex[:6]}"
    worker = AgentWorker(server, name, supervised=True)
    proxy = Proxy(server, name, worker.health_url, port=proxy_port, supervised=True)
    try:
        worker.wait_registered()
        proxy.wait_ready()
        async with connected(server, plain_token(server, room_name, "user")) as client:
            await dispatch(proxy, room_name, name)
            (first,) = await client.wait_for_agents(1)
            os.killpg(worker.supervised_pid(), signal.SIGKILL)
            second = await client.wait_for_new_agent(exclude={first.identity}, timeout=30)
            wait_until(
                lambda: get(proxy, "/api/delivery", room=room_name)["deliveries"][0]["state"]  # type: ignore[index]
                == "joined",
                timeout=15, what="the watcher to see the new agent joined",
            )  # fmt: skip
            lost_before = kinds_of(proxy, room_name).count("agent lost")

            os.kill(proxy.supervised_pid(), signal.SIGKILL)
            wait_until(
                lambda: proxy.supervised_state()["restarts"] == 1 and http_ok(f"{proxy.url}/docs"),
                timeout=30, what="the proxy to answer again",
            )  # fmt: skip
            # It has read the server's log again, old close included, once it lists the
            # worker registered after the kill.
            wait_until(
                lambda: any(
                    w["agent_name"] == name
                    for w in get(proxy, "/api/health")["registered"]["workers"]  # type: ignore[index]
                ),
                timeout=15, what="the restarted proxy to read the server's log",
            )  # fmt: skip
            # The replay's rescues run on the proxy's loop: two more answers from it, then
            # the server itself says whether the agent is still in the room.
            lost_after = [kinds_of(proxy, room_name).count("agent lost") for _ in range(2)]
            async with server.client() as lk:
                listing = await lk.room.list_participants(
                    api.ListParticipantsRequest(room=room_name)
                )
            assert second in {p.identity for p in listing.participants}
            assert lost_after == [lost_before, lost_before]
    finally:
        proxy.stop()
        worker.stop()
        server.stop()


async def test_a_loss_counted_without_an_event_survives_a_kill(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    """AGENT_REDISPATCH=off: the job the server gave up is counted lost, a change no event
    of its own tells. Killed with -9 at once, the proxy comes back with it: the dispatch
    lost, the counter at 1 (the state is written through at each change, not now and then)."""
    name = f"stalled-{uuid.uuid4().hex[:6]}"
    proxy = Proxy(
        livekit_server, name, "http://127.0.0.1:9", supervised=True, AGENT_REDISPATCH="off"
    )
    worker = AgentWorker(livekit_server, name)
    try:
        proxy.wait_ready()
        worker.wait_registered()
        async with connected(livekit_server, plain_token(livekit_server, room_name, "user")):
            await dispatch_to_a_stopped_worker(livekit_server, proxy, worker, room_name)
            wait_until(
                lambda: get(proxy, "/api/delivery", room=room_name)["counters"].get(  # type: ignore[union-attr]
                    "dispatches_lost"
                ),
                timeout=15, what="the loss counted",
            )  # fmt: skip
            os.kill(proxy.supervised_pid(), signal.SIGKILL)
            wait_until(
                lambda: proxy.supervised_state()["restarts"] == 1 and http_ok(f"{proxy.url}/docs"),
                timeout=30, what="the proxy to answer again",
            )  # fmt: skip
            after = get(proxy, "/api/delivery", room=room_name)
    finally:
        worker.stop()
        proxy.stop()
    assert [d["state"] for d in after["deliveries"]] == ["lost"], after  # type: ignore[index]
    assert after["counters"]["dispatches_lost"] == 1  # type: ignore[index]
    assert [e["kind"] for e in after["events"]] == ["dispatched", "not assigned"]  # type: ignore[index]


def kinds_of(proxy: Proxy, room: str) -> list[str]:
    return [e["kind"] for e in get(proxy, "/api/delivery", room=room)["events"]]  # type: ignore[index]
