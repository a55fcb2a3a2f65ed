"""The proxy survives its own crash: run by its supervisor as the Procfile runs it, killed
with -9, it answers again, and the delivery watcher resumes what it was following from
the state dir's SQLite: a dispatch held for a worker that had not registered is delivered
when that worker is started by hand after the restart, and the counters carry over."""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from devstack.waiting import http_ok, wait_until
from tests.proxy.test_delivery import dispatch
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
