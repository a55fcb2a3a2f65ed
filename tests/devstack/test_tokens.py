"""Pure token logic: what a minted token contains, and reading room config back out."""

from __future__ import annotations

import json

import pytest
from livekit import api

from devstack.tokens import TokenFormatError, mint_token, room_config_agents, unverified_claims

pytestmark = pytest.mark.unit


def test_plain_token_has_no_room_config() -> None:
    """dispatch='none': the token only grants joining the room."""
    claims = unverified_claims(
        mint_token(api_key="devkey", api_secret="secret", room="r1", identity="u1")
    )
    assert claims["video"]["roomJoin"] is True and claims["video"]["room"] == "r1"
    assert claims["sub"] == "u1"
    assert room_config_agents(claims) == []


def test_token_dispatch_carries_agent_and_metadata() -> None:
    """dispatch='token': RoomConfiguration.agents names the agent with its metadata."""
    token = mint_token(
        api_key="devkey",
        api_secret="secret",
        room="r1",
        identity="u1",
        agent_name="my-agent",
        metadata='{"a":1}',
    )
    assert room_config_agents(unverified_claims(token)) == [
        {"agent_name": "my-agent", "metadata": '{"a":1}'}
    ]


def test_livekit_verifier_reads_the_same_room_config() -> None:
    """The SDK's own verifier agrees with our decoder (so the server will too)."""
    token = mint_token(
        api_key="devkey", api_secret="secret", room="r1", identity="u1", agent_name="x"
    )
    claims = api.TokenVerifier("devkey", "secret").verify(token)
    assert [a.agent_name for a in claims.room_config.agents] == ["x"]


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.!!!.c", "a." + "bm90IGpzb24" + ".c"])
def test_garbage_is_a_clear_format_error(garbage: str) -> None:
    """Anything that is not a JWT raises TokenFormatError with a reason, not a traceback."""
    with pytest.raises(TokenFormatError):
        unverified_claims(garbage)


def test_room_config_tolerates_odd_shapes() -> None:
    assert room_config_agents({"roomConfig": {"agents": [{"agentName": "a"}, "junk"]}}) == [
        {"agent_name": "a", "metadata": ""}
    ]
    assert room_config_agents({"roomConfig": "junk"}) == []
    assert json.dumps(room_config_agents({})) == "[]"


def test_room_config_goes_into_the_token_as_given() -> None:
    """LiveKit's token endpoint: the request's RoomConfiguration, verbatim, and the
    participant's own metadata and attributes."""
    config = api.RoomConfiguration(
        agents=[
            api.RoomAgentDispatch(agent_name="a", metadata="m"),
            api.RoomAgentDispatch(agent_name="b"),
        ]
    )
    token = mint_token(
        api_key="devkey",
        api_secret="secret",
        room="r1",
        identity="u1",
        room_config=config,
        participant_metadata="plain",
        attributes={"team": "x"},
    )
    claims = api.TokenVerifier("devkey", "secret").verify(token)
    assert claims.room_config == config
    assert (claims.metadata, claims.attributes) == ("plain", {"team": "x"})


def test_agent_name_and_room_config_together_are_a_mistake() -> None:
    with pytest.raises(ValueError, match="not both"):
        mint_token(
            api_key="devkey",
            api_secret="secret",
            room="r1",
            identity="u1",
            agent_name="a",
            room_config=api.RoomConfiguration(),
        )
