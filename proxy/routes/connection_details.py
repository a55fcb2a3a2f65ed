"""POST /api/connection-details and POST /api/v2/sandbox/connection-details: LiveKit's
standard token endpoint and LiveKit Cloud's token-server path, so an app built on
livekit-client's TokenSource (TokenSource.endpoint, or .sandboxTokenServer /
.developmentTokenServer with baseUrl set to the proxy) runs against the stack unchanged.

Both answer 201 with server_url and participant_token, minted by the stack's one minter
with room_config as given. What would make the token's agent dispatch come to nothing (the
room exists; the worker is down or named otherwise) is logged and put in `warning`."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Request
from livekit import api

from devstack.settings import Settings
from devstack.tokens import mint_token, new_identity
from proxy.deps import LiveKit
from proxy.models_connection import ConnectionDetailsRequest, ConnectionDetailsResponse
from proxy.warnings import agent_warning, room_exists_warning

logger = logging.getLogger("devstack.proxy")
router = APIRouter(prefix="/api", tags=["connection details"])


def new_room_name() -> str:
    return f"room-{secrets.token_hex(4)}"


def room_config_of(body: ConnectionDetailsRequest) -> api.RoomConfiguration | None:
    """The request's room_config as the proto the token carries (only `agents` is accepted)."""
    if body.room_config is None:
        return None
    return api.RoomConfiguration(
        agents=[
            api.RoomAgentDispatch(agent_name=a.agent_name, metadata=a.metadata)
            for a in body.room_config.agents
        ]
    )


async def dispatch_warnings(
    body: ConnectionDetailsRequest, room: str, lk: api.LiveKitAPI, request: Request
) -> list[str]:
    """Why the agents in the token's room_config may not come, as far as the proxy can tell;
    when nothing stands in the way, the delivery watcher follows their dispatches."""
    agents = {a.agent_name: a.metadata for a in body.agents}
    if not agents:
        return []
    warnings = []
    # A generated name is new, so only a room the client named can exist already.
    if body.room_name and (exists := await room_exists_warning(lk, room)):
        warnings.append(exists)
    else:
        identity = body.participant_identity
        request.app.state.watcher.expect_token(room, identity, list(agents.items()))
    settings = request.app.state.settings
    for name in agents:
        if warning := await agent_warning(request.app.state.registry, settings, name):
            warnings.append(warning)
    return warnings


async def connection_details(
    body: ConnectionDetailsRequest, lk: api.LiveKitAPI, request: Request, path: str
) -> ConnectionDetailsResponse:
    settings: Settings = request.app.state.settings
    room = body.room_name or new_room_name()
    identity = body.participant_identity or new_identity()
    body.participant_identity = identity
    name = body.participant_name or identity
    token = mint_token(
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        room=room,
        identity=identity,
        name=name,
        room_config=room_config_of(body),
        participant_metadata=body.participant_metadata or "",
        attributes=body.participant_attributes,
    )
    warnings = await dispatch_warnings(body, room, lk, request)
    logger.info(
        "connection details (%s): room=%s identity=%s agents=%s",
        path,
        room,
        identity,
        ",".join(a.agent_name for a in body.agents) or "-",
    )
    for warning in warnings:
        logger.warning("connection details for room %s: %s", room, warning)
    return ConnectionDetailsResponse(
        server_url=settings.livekit_url,
        participant_token=token,
        room_name=room,
        participant_name=name,
        participant_identity=identity,
        warning="; ".join(warnings) or None,
    )


@router.post("/connection-details", status_code=201, response_model=ConnectionDetailsResponse)
async def standard_endpoint(
    body: ConnectionDetailsRequest, lk: LiveKit, request: Request
) -> ConnectionDetailsResponse:
    """LiveKit's standard token endpoint (TokenSource.endpoint): a join token for the room,
    carrying room_config.agents, so the server dispatches them when the join creates it."""
    return await connection_details(body, lk, request, "connection-details")


@router.post(
    "/v2/sandbox/connection-details", status_code=201, response_model=ConnectionDetailsResponse
)
async def sandbox_endpoint(
    body: ConnectionDetailsRequest,
    lk: LiveKit,
    request: Request,
    x_sandbox_id: Annotated[
        str | None,
        Header(
            alias="X-Sandbox-ID",
            description="LiveKit Cloud's sandbox id; any value (or none) is accepted here",
        ),
    ] = None,
) -> ConnectionDetailsResponse:
    """LiveKit Cloud's token-server path (TokenSource.sandboxTokenServer with baseUrl set
    to the proxy): the same token as /api/connection-details, whatever the sandbox id."""
    return await connection_details(body, lk, request, "sandbox")
