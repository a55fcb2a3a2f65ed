"""Minting tokens, and reading what a token asks the server to do. The one minter of the
stack: the proxy, the doctor, the benchmark and the tests all sign here."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from livekit import api


def mint_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str = "",
    agent_name: str | None = None,
    metadata: str = "",
    ttl: timedelta = timedelta(hours=1),
    room_config: api.RoomConfiguration | None = None,
    participant_metadata: str = "",
    attributes: Mapping[str, str] | None = None,
) -> str:
    """A join token for `room`. With `agent_name` (and its dispatch `metadata`), the token
    carries a RoomConfiguration that dispatches that agent, the way agent-starter-react
    does; `room_config` puts a whole RoomConfiguration in as given instead (LiveKit's token
    endpoint). Either way the server honours it only when this join creates the room.
    `participant_metadata` and `attributes` are the participant's own."""
    if agent_name is not None and room_config is not None:
        raise ValueError("pass agent_name or room_config, not both")
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_ttl(ttl)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
    )
    if participant_metadata:
        token = token.with_metadata(participant_metadata)
    if attributes:
        token = token.with_attributes(dict(attributes))
    if agent_name is not None:
        dispatch = api.RoomAgentDispatch(agent_name=agent_name, metadata=metadata)
        room_config = api.RoomConfiguration(agents=[dispatch])
    if room_config is not None:
        token = token.with_room_config(room_config)
    return token.to_jwt()


def admin_token(api_key: str, api_secret: str) -> str:
    """A short server-API token that may list and manage rooms."""
    return (
        api.AccessToken(api_key, api_secret)
        .with_ttl(timedelta(minutes=5))
        .with_grants(api.VideoGrants(room_list=True, room_admin=True))
        .to_jwt()
    )


def new_identity() -> str:
    return f"user-{secrets.token_hex(3)}"


class TokenFormatError(ValueError):
    """The text is not a JWT at all."""


def _b64_json(part: str, what: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError as exc:
        raise TokenFormatError(f"the {what} is not base64url-encoded JSON ({exc})") from None


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, without checking its signature: for explaining, never trusting."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenFormatError(f"a JWT has 3 dot-separated parts, this has {len(parts)}")
    header = _b64_json(parts[0], "header")
    if not isinstance(header, dict) or "alg" not in header:
        raise TokenFormatError("the header is not a JWT header (no 'alg')")
    claims = _b64_json(parts[1], "payload")
    if not isinstance(claims, dict):
        raise TokenFormatError("the payload is not a JSON object")
    return claims


def room_config_agents(claims: dict[str, Any]) -> list[dict[str, str]]:
    """The agents a token's roomConfig dispatches: [{agent_name, metadata}]."""
    config = claims.get("roomConfig")
    agents = (config.get("agents") or []) if isinstance(config, dict) else []
    return [
        {"agent_name": a.get("agentName", ""), "metadata": a.get("metadata", "")}
        for a in agents
        if isinstance(a, dict)
    ]
