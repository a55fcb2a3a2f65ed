"""The proxy's HTTP contract, against a real proxy process and real livekit-server."""

from __future__ import annotations

import json

import httpx
import pytest

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from devstack.waiting import free_port, wait_until

pytestmark = pytest.mark.integration


def get(proxy: Proxy, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(proxy.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_health_reports_server_worker_and_name_match(
    proxy: Proxy, named_worker: AgentWorker
) -> None:
    """/api/health says the server takes our keys, the worker is up, and the names match."""
    body = get(proxy, "/api/health").json()
    assert body["livekit"]["reachable"] and body["livekit"]["keys_accepted"]
    assert body["worker"]["reachable"] and body["worker"]["healthy"]
    assert body["worker"]["agent_name"] == named_worker.agent_name
    assert body["expected_agent_name"] == named_worker.agent_name
    assert body["names_match"] is True


def test_health_reports_a_missing_worker(livekit_server: LiveKitServer) -> None:
    """With no worker on the health port, /api/health says unreachable rather than failing."""
    proxy = Proxy(livekit_server, "someone", f"http://127.0.0.1:{free_port()}")
    try:
        proxy.wait_ready()
        body = get(proxy, "/api/health").json()
    finally:
        proxy.stop()
    assert body["worker"]["reachable"] is False
    assert body["names_match"] is None
    assert body["livekit"]["keys_accepted"] is True


def test_server_down_gives_503_with_hint(livekit_server: LiveKitServer) -> None:
    """When livekit-server is down the proxy still answers: 503 and what to do."""
    dead = LiveKitServer(runtime="binary", port=free_port(), tcp_port=0, udp_port=0)
    proxy = Proxy(dead, "devstack-agent", f"http://127.0.0.1:{free_port()}")
    try:
        proxy.wait_ready()
        resp = httpx.post(proxy.url + "/api/dispatch-agent", json={"room": "r"}, timeout=20)
        health = get(proxy, "/api/health").json()
    finally:
        proxy.stop()
    assert resp.status_code == 503
    assert resp.json()["error"] == "livekit_unreachable"
    assert "make dev" in resp.json()["hint"]
    assert health["livekit"]["reachable"] is False


def test_unknown_room_is_404(proxy: Proxy) -> None:
    resp = get(proxy, "/api/rooms/no-such-room-here")
    assert resp.status_code == 404
    assert resp.json()["error"] == "room_not_found"


def test_room_listing_shows_agent_kind_and_dispatch(proxy: Proxy, room_name: str) -> None:
    """GET /api/rooms/{room} names the AGENT participant and the dispatch that brought it."""
    dispatch = httpx.post(
        proxy.url + "/api/dispatch-agent", json={"room": room_name}, timeout=10
    ).json()

    def agent_listed() -> dict[str, object] | None:
        room = get(proxy, f"/api/rooms/{room_name}").json()
        return room if room.get("agents") else None

    room = wait_until(agent_listed, timeout=20, what="the agent in /api/rooms/{room}")
    (agent,) = [p for p in room["participants"] if p["kind"] == "AGENT"]
    assert agent["attributes"]["devstack.dispatch_id"] == dispatch["dispatch_id"]
    assert dispatch["dispatch_id"] in [d["dispatch_id"] for d in room["dispatches"]]
    assert room_name in [r["name"] for r in get(proxy, "/api/rooms").json()["rooms"]]


def test_cors_allows_only_the_pages_own_origin(proxy: Proxy) -> None:
    """The page's own origin may call the API; another site may not."""
    own = get(proxy, "/api/rooms", headers={"Origin": f"http://localhost:{proxy.port}"})
    foreign = get(proxy, "/api/rooms", headers={"Origin": "http://evil.example"})
    assert own.headers.get("access-control-allow-origin") == f"http://localhost:{proxy.port}"
    assert "access-control-allow-origin" not in foreign.headers


def test_secret_never_appears_in_answers_or_logs(livekit_server: LiveKitServer) -> None:
    """A proxy with a wrong secret explains the 401 without ever echoing the secret."""
    secret = "distinctive-secret-0123456789abcdef0123456789"
    proxy = Proxy(
        livekit_server,
        "devstack-agent",
        f"http://127.0.0.1:{free_port()}",
        LIVEKIT_API_SECRET=secret,
    )
    try:
        proxy.wait_ready()
        dispatch = httpx.post(proxy.url + "/api/dispatch-agent", json={"room": "r"}, timeout=10)
        token = httpx.post(proxy.url + "/api/token", json={"room": "r"}, timeout=10)
        details = httpx.post(proxy.url + "/api/connection-details", json={}, timeout=10)
        # With an agent in a named room the proxy asks the server whether the room exists.
        refused = httpx.post(
            proxy.url + "/api/v2/sandbox/connection-details",
            json={"room_name": "r", "room_config": {"agents": [{"agent_name": "a"}]}},
            headers={"X-Sandbox-ID": secret},  # echoed nowhere either
            timeout=10,
        )
        bodies = [
            dispatch.text,
            token.text,
            details.text,
            refused.text,
            get(proxy, "/api/health").text,
            get(proxy, "/openapi.json").text,
        ]
    finally:
        proxy.stop()
    assert dispatch.status_code == 502
    assert dispatch.json()["error"] == "livekit_auth_failed"
    assert token.status_code == 200  # a token is signed with the secret, never contains it
    assert details.status_code == 201
    assert refused.status_code == 502 and refused.json()["error"] == "livekit_auth_failed"
    assert all(secret not in text for text in [*bodies, proxy.output])


def test_job_failures_of_a_room_come_from_the_worker_log_alone(
    proxy: Proxy, room_name: str
) -> None:
    """GET /api/rooms/{room}/job-failures: the crash a worker logged for this room, read
    as the log grows, with no room on the server, and a warning that is a note, not a
    failure; a bad room name is a 422 with a hint."""
    assert proxy.state_dir is not None
    log = proxy.state_dir / "logs" / f"agent-{room_name}.log"
    log.parent.mkdir(exist_ok=True)
    path = f"/api/rooms/{room_name}/job-failures"
    try:
        log.write_text("")
        assert get(proxy, path).json() == {
            "room": room_name,
            "since": 0,
            "job_failures": [],
            "notes": [],
        }
        extra = {"job_id": "AJ_api", "room": room_name, "agent_name": "crasher"}
        log.write_text(
            "2026-12-03 11:32:52,940 - ERROR livekit.agents - unhandled exception while "
            "running the job task\nTraceback (most recent call last):\n"
            f"RuntimeError: database URL is not set {json.dumps(extra)}\n"
        )
        (failure,) = get(proxy, path).json()["job_failures"]
        assert (failure["kind"], failure["job_id"]) == ("crashed", "AJ_api")
        assert failure["error"] == "RuntimeError: database URL is not set"
        later = get(proxy, path, params={"since": failure["at"] + 60}).json()
        assert later["job_failures"] == []
        # LiveKit Cloud's noise cancellation offline: the runner's warning is a note.
        with log.open("a") as f:
            f.write(
                "2026-12-03 11:32:53,000 - WARNING livekit.plugins.ai_coustics - ai-coustics "
                "noise cancellation (livekit-plugins-ai-coustics) needs LiveKit Cloud: this "
                f"server is not LiveKit Cloud. Your agent still hears the person. {json.dumps(extra)}\n"
            )
        answer = get(proxy, path).json()
        assert [f["kind"] for f in answer["job_failures"]] == ["crashed"]
        (note,) = answer["notes"]
        assert note["plugin"] == "ai-coustics noise cancellation (livekit-plugins-ai-coustics)"
    finally:
        log.unlink(missing_ok=True)
    bad = get(proxy, "/api/rooms/bad%20room/job-failures")
    assert bad.status_code == 422
    assert set(bad.json()) == {"error", "detail", "hint"}
    negative = get(proxy, path, params={"since": -1})
    assert negative.status_code == 422 and negative.json()["hint"]
