"""A job livekit-server dropped because no worker had room for it: the worker of the name
read its load as 1.0 (its machine saturated), the server gave the job up at once ("no
workers with sufficient capacity"), never retries it, and no webhook says so. The watcher
reads that in the server's log and re-issues the dispatch, with its backoff (5 times over
15 s at most), and the agent comes once the load is down."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import Proxy
from devstack.server_log import NO_CAPACITY, NO_WORKER
from tests.support.clients import connected, plain_token
from tests.support.saturation import start_saturated_worker, until_the_server_gives_no_job
from tests.support.server_log import wait_for_job_given_up

pytestmark = pytest.mark.integration


async def test_job_dropped_for_a_saturated_worker_is_re_issued_once_it_calms_down(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str, tmp_path: Path
) -> None:
    name = f"saturated-{uuid.uuid4().hex[:6]}"
    flag = tmp_path / "saturated"
    worker = start_saturated_worker(livekit_server, name, flag)
    try:
        await until_the_server_gives_no_job(livekit_server, name, worker.health_url)
        async with connected(
            livekit_server, plain_token(livekit_server, room_name, "user")
        ) as client:
            async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
                resp = await http.post(
                    "/api/dispatch-agent", json={"room": room_name, "agent_name": name}
                )
            assert resp.status_code == 200, resp.text
            await wait_for_job_given_up(livekit_server, room_name, NO_WORKER)
            flag.unlink()  # the machine calms down
            (agent,) = await client.wait_for_agents(1, timeout=30)
    finally:
        worker.stop()
    report = httpx.get(f"{proxy.url}/api/delivery", params={"room": room_name}, timeout=10).json()
    events = [e["kind"] for e in report["events"]]
    assert events[:2] == ["dispatched", "not assigned"], events
    assert events[-2:] == ["re-dispatched", "agent joined"], events
    assert NO_CAPACITY in json.dumps(report["events"])
    (d,) = report["deliveries"]
    assert d["dispatch_id"] != resp.json()["dispatch_id"]  # a re-issued dispatch brought it
    assert agent.identity.startswith("agent-")
    metrics = httpx.get(f"{proxy.url}/metrics", timeout=10).text
    assert 'devstack_redispatches_total{reason="no_capacity"}' in metrics
