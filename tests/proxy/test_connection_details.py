"""LiveKit's standard token endpoint (POST /api/connection-details) and Cloud's token-server
path (POST /api/v2/sandbox/connection-details), against a real proxy and livekit-server:
the request comes from livekit-client's own TokenSource, the token joins with livekit.rtc,
and the token's room config brings the shared worker's agent."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from livekit import api

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy
from devstack.tokens import unverified_claims
from tests.support.clients import connected

pytestmark = pytest.mark.integration

CLIENT_ESM = ROOT / "static/node_modules/livekit-client/dist/livekit-client.esm.mjs"
TOKEN_SOURCE = ROOT / "tests/proxy/token_source.mjs"


def token_source(request: dict[str, Any]) -> dict[str, Any]:
    """What livekit-client's TokenSource.fetch() returns for `request` (see token_source.mjs)."""
    node = shutil.which("node")
    if node is None or not CLIENT_ESM.exists():
        pytest.skip("needs Node.js and static/node_modules (scripts/setup installs them)")
    done = subprocess.run(
        [node, str(TOKEN_SOURCE), str(CLIENT_ESM), json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def post(proxy: Proxy, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(proxy.url + path, json=body, headers=headers, timeout=15)


async def test_livekit_client_token_source_joins_and_its_agent_comes(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """TokenSource.endpoint with agentName: the token joins a new room and the agent comes."""
    details = token_source(
        {
            "endpoint": f"{proxy.url}/api/connection-details",
            "options": {
                "roomName": room_name,
                "participantName": "Ada",
                "agentName": named_worker.agent_name,
                "agentMetadata": '{"topic": "billing"}',
            },
        }
    )
    assert "error" not in details, details
    assert details["serverUrl"] == livekit_server.url
    async with connected(livekit_server, details["participantToken"]) as client:
        assert client.room.name == room_name
        assert client.room.local_participant.name == "Ada"
        (agent,) = await client.wait_for_agents(1)
    assert agent.attributes["devstack.metadata"] == '{"topic": "billing"}'


async def test_sandbox_path_gives_livekit_client_a_token_that_joins(
    livekit_server: LiveKitServer, proxy: Proxy
) -> None:
    """TokenSource.sandboxTokenServer with baseUrl set to the proxy: any sandbox id works."""
    details = token_source(
        {"sandbox": {"id": "any-sandbox-id", "baseUrl": proxy.url}, "options": {}}
    )
    assert "error" not in details, details
    async with connected(livekit_server, details["participantToken"]) as client:
        assert client.room.name.startswith("room-")  # generated
        assert client.room.local_participant.identity.startswith("user-")


async def test_participant_fields_reach_the_room(
    livekit_server: LiveKitServer, proxy: Proxy, room_name: str
) -> None:
    """Identity, name, metadata and attributes from the request are the participant's."""
    resp = post(
        proxy,
        "/api/connection-details",
        {
            "room_name": room_name,
            "participant_identity": "ada-1",
            "participant_name": "Ada Lovelace",
            "participant_metadata": "plain text is fine",
            "participant_attributes": {"team": "billing"},
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["room_name"], body["participant_name"]) == (room_name, "Ada Lovelace")
    assert body["warning"] is None
    async with connected(livekit_server, body["participant_token"]), livekit_server.client() as lk:
        listing = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
    (me,) = listing.participants
    assert (me.identity, me.name, me.metadata) == ("ada-1", "Ada Lovelace", "plain text is fine")
    assert dict(me.attributes) == {"team": "billing"}


def test_missing_room_and_identity_are_generated(proxy: Proxy) -> None:
    """An empty request still gets a token: a new room name and identity, named in the answer."""
    for body in ({}, {"room_name": "", "participant_identity": ""}):
        resp = post(proxy, "/api/connection-details", body)
        assert resp.status_code == 201, resp.text
        answer = resp.json()
        claims = unverified_claims(answer["participant_token"])
        assert claims["video"]["room"] == answer["room_name"] != ""
        assert claims["sub"] == answer["participant_identity"] == answer["participant_name"]
        assert "roomConfig" not in claims


async def test_existing_room_warns_that_the_token_dispatch_is_ignored(
    livekit_server: LiveKitServer, named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A room that exists already: still 201, with a warning in the answer and the log."""
    async with livekit_server.client() as lk:
        await lk.room.create_room(api.CreateRoomRequest(name=room_name))
    resp = post(
        proxy,
        "/api/connection-details",
        {
            "room_name": room_name,
            "room_config": {"agents": [{"agent_name": "devstack-test-agent"}]},
        },
    )
    assert resp.status_code == 201, resp.text
    warning = resp.json()["warning"]
    assert warning and "already exists" in warning and "ignored" in warning
    proxy.wait_for_line(f"connection details for room {room_name}: room {room_name}", 5)


def test_agent_name_the_worker_does_not_report_is_warned(
    named_worker: AgentWorker, proxy: Proxy, room_name: str
) -> None:
    """A name no worker registered: 201, and the warning names the worker that is there."""
    resp = post(
        proxy,
        "/api/v2/sandbox/connection-details",
        {"room_name": room_name, "room_config": {"agents": [{"agent_name": "nobody-here"}]}},
        **{"X-Sandbox-ID": "s1"},
    )
    assert resp.status_code == 201, resp.text
    warning = resp.json()["warning"]
    assert "'nobody-here'" in warning and repr(named_worker.agent_name) in warning
    proxy.wait_for_line("not 'nobody-here', and no other worker named 'nobody-here'", 5)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bogus": 1}, "'bogus'"),
        ({"roomName": "r"}, "'room_name'"),
        ({"room_config": {"name": "r"}}, "livekit.yaml"),
        ({"room_config": {"empty_timeout": 5}}, "livekit.yaml"),
        ({"room_config": {"agents": [{"agent_name": "a", "deployment": "d"}]}}, "Cloud"),
        ({"room_config": {"agents": [{"agentName": "a"}]}}, "'agent_name'"),
    ],
)
def test_fields_the_stack_will_not_set_are_refused(
    proxy: Proxy, body: dict[str, object], field: str
) -> None:
    """Dropping a field silently would hide why the app behaves differently: 422 and a hint."""
    resp = post(proxy, "/api/connection-details", body)
    assert resp.status_code == 422, resp.text
    error = resp.json()
    assert error["error"] == "unsupported_field"
    assert field in error["detail"] + error["hint"], error


@pytest.mark.parametrize(
    "body",
    [
        {"room_name": "my room"},
        {"participant_identity": "a b"},
        {"room_config": {"agents": [{"metadata": "x"}]}},  # agentMetadata without agentName
        {"room_config": {"agents": [{"agent_name": ""}]}},
        {"participant_attributes": {"k": 1}},
        {"room_config": []},
    ],
)
def test_bad_values_are_422_with_a_hint(proxy: Proxy, body: dict[str, object]) -> None:
    resp = post(proxy, "/api/connection-details", body)
    assert resp.status_code == 422, resp.text
    assert set(resp.json()) == {"error", "detail", "hint"}
