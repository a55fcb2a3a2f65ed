"""Bad input gets a 4xx with {error, detail, hint}; checked on the app itself, in process,
because validation runs before anything talks to livekit-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from devstack.settings import Settings
from proxy.app import create_app

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        livekit_url="ws://127.0.0.1:9",
        agent_health_url="http://127.0.0.1:9",
    )
    # The Host guard answers only the proxy's own names.
    with TestClient(create_app(settings), base_url="http://127.0.0.1:9000") as c:
        yield c


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"room": ""}, "room", "empty"),
        ({"room": "x" * 129}, "room", "limit is 128"),
        ({"room": "my room"}, "room", "characters"),
        ({"room": "r", "metadata": "{not json"}, "metadata", "not valid JSON"),
        ({"room": "r", "metadata": {"blob": "x" * 20000}}, "metadata", "limit is 16384"),
        ({"room": "r", "agent_name": "bad name!"}, "agent_name", "must start"),
        ({"room": "r", "bogus": 1}, "bogus", "Extra inputs"),
        ({}, "room", "Field required"),
    ],
)
def test_bad_dispatch_requests_are_explained(
    client: TestClient, body: dict[str, object], field: str, words: str
) -> None:
    resp = client.post("/api/dispatch-agent", json=body)
    assert resp.status_code == 422
    error = resp.json()
    assert set(error) == {"error", "detail", "hint"}
    assert error["error"] == "invalid_request"
    assert error["detail"].startswith(f"{field}:") and words in error["detail"]
    assert error["hint"]


def test_unknown_dispatch_mode_lists_the_valid_ones(client: TestClient) -> None:
    resp = client.post("/api/token", json={"room": "r", "dispatch": "auto"})
    assert resp.status_code == 422
    assert "'none' or 'token'" in resp.json()["detail"]


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    resp = client.post(
        "/api/token", content=b"{room:", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert "Content-Type: application/json" in resp.json()["hint"]


def test_empty_agent_name_cannot_be_dispatched_explicitly(client: TestClient) -> None:
    """An unnamed worker is auto-dispatched only; asking for '' explicitly is explained."""
    resp = client.post("/api/dispatch-agent", json={"room": "r", "agent_name": ""})
    assert resp.status_code == 422
    assert resp.json()["error"] == "no_agent_name"


def test_invalid_room_in_path_is_422(client: TestClient) -> None:
    resp = client.get("/api/rooms/bad%20room")
    assert resp.status_code == 422
    assert resp.json()["hint"]


def test_unknown_path_has_the_same_shape(client: TestClient) -> None:
    resp = client.get("/api/nope")
    assert resp.status_code == 404
    assert set(resp.json()) == {"error", "detail", "hint"}


def test_error_shape_is_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "ErrorBody" in schema["components"]["schemas"]
    assert "422" in schema["paths"]["/api/dispatch-agent"]["post"]["responses"]


def test_non_utf8_body_is_422_not_an_undocumented_400(client: TestClient) -> None:
    resp = client.post(
        "/api/token", content=b'{"room": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422
    assert "UTF-8" in resp.json()["hint"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/diagnose", {"probe": 0}),
        ("/api/diagnose", {"probe": "true"}),
        ("/api/token", {"room": "r", "ttl_seconds": "60"}),
        ("/api/token", {"room": "r", "ttl_seconds": True}),
        ("/api/token", {"room": " r"}),
        ("/api/token", {"room": "r", "agent_name": ""}),
        ("/api/token", {"room": "r\n"}),
    ],
)
def test_values_the_schema_calls_invalid_are_refused_not_coerced(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    """What the schema calls invalid, the proxy refuses: no 0-as-false, "60"-as-60, trimming."""
    resp = client.post(path, json=body)
    assert resp.status_code == 422, resp.text


def test_a_whole_float_is_an_integer_as_json_schema_says(client: TestClient) -> None:
    resp = client.post("/api/token", json={"room": "r", "ttl_seconds": 60.0})
    assert resp.status_code == 200, resp.text


def test_undeclared_method_is_405_with_allow(client: TestClient) -> None:
    resp = client.request("TRACE", "/api/token")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "POST"
    assert set(resp.json()) == {"error", "detail", "hint"}


def test_rules_the_validators_enforce_are_in_the_schema(client: TestClient) -> None:
    """A client generated from /openapi.json knows the room-name and agent-name rules."""
    schema = client.get("/openapi.json").json()
    props = schema["components"]["schemas"]["DispatchRequest"]["properties"]
    assert props["room"]["pattern"] == "^[A-Za-z0-9_.:@=-]+$"
    assert props["agent_name"]["pattern"].startswith("^[A-Za-z0-9]")
    (room,) = schema["paths"]["/api/rooms/{room}"]["get"]["parameters"]
    assert room["schema"]["pattern"] == props["room"]["pattern"]
