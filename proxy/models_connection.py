"""The body of LiveKit's standard token endpoint, exactly as livekit-client 2.23 sends it:
a TokenSourceRequest serialized with `useProtoFieldName`, so every key, also inside
room_config, is the proto's snake_case name, and empty values are left out.

The stack puts into the token what a local server honours: the participant's fields and
room_config.agents (agent_name, metadata). Any other field is refused with a 4xx that says
what to do, because dropping it silently would hide why the app behaves differently."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from proxy.models import (
    AGENT_NAME_SCHEMA,
    IDENTITY_SCHEMA,
    MAX_METADATA,
    MAX_ROOM,
    NAME_OR_EMPTY_PATTERN,
    InputError,
    check_agent_name,
    check_identity,
    check_room,
)

MAX_NAME = 128
MAX_AGENTS = 8
MAX_ATTRIBUTES = 64
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
AttributeValue = Annotated[str, StringConstraints(max_length=4096)]

# What a client may mean by a field the stack does not take, by name.
SNAKE_CASE = {
    "roomName": "room_name",
    "participantName": "participant_name",
    "participantIdentity": "participant_identity",
    "participantMetadata": "participant_metadata",
    "participantAttributes": "participant_attributes",
    "roomConfig": "room_config",
    "agentName": "agent_name",
}
ROOM_SETTINGS_HINT = (
    "The stack puts only room_config.agents into the token; the local server's livekit.yaml "
    "decides the room's other settings. Remove this field."
)
UNSUPPORTED_HINTS = {
    "deployment": "deployment picks a LiveKit Cloud agent deployment, which a local "
    "livekit-server does not have; remove it (agent_name alone dispatches the local worker).",
    "restart_policy": "The stack dispatches with agent_name and metadata only; remove it.",
    "attributes": "The stack dispatches with agent_name and metadata only; put what the "
    "agent needs in metadata.",
    **dict.fromkeys(
        (
            "name",
            "empty_timeout",
            "departure_timeout",
            "max_participants",
            "egress",
            "min_playout_delay",
            "max_playout_delay",
            "sync_streams",
            "tags",
        ),
        ROOM_SETTINGS_HINT,
    ),
}


class _TokenSourceMessage(BaseModel):
    """A TokenSourceRequest part: strict types, and an unknown key explained by name."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # Keys that mean something in LiveKit's proto but that this part refuses, with why.
    refused: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _explain_unknown_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # the type error is pydantic's to report
        for key in data:
            if key in cls.model_fields:
                continue
            if key in SNAKE_CASE:
                hint = (
                    f"livekit-client sends proto field names (snake_case): use {SNAKE_CASE[key]!r}."
                )
            else:
                hint = cls.refused.get(
                    str(key), "Remove it; the fields are LiveKit's TokenSourceRequest, see /docs."
                )
            raise InputError(
                f"{key!r} is not a field the stack accepts", hint, error="unsupported_field"
            )
        return data


class AgentDispatchSpec(_TokenSourceMessage):
    """One entry of room_config.agents (livekit.RoomAgentDispatch)."""

    refused: ClassVar[dict[str, str]] = UNSUPPORTED_HINTS

    agent_name: str = Field(
        description="The worker's agent name (its LIVEKIT_AGENT_NAME)",
        examples=["devstack-agent"],
        json_schema_extra=AGENT_NAME_SCHEMA,
    )
    metadata: str = Field(
        "", max_length=MAX_METADATA, description="Job metadata, passed to the agent as given"
    )

    @field_validator("agent_name")
    @classmethod
    def _agent(cls, value: str) -> str:
        return check_agent_name(value)


class RoomConfigSpec(_TokenSourceMessage):
    """livekit.RoomConfiguration, of which the stack takes the agent dispatches."""

    refused: ClassVar[dict[str, str]] = {**UNSUPPORTED_HINTS, "metadata": ROOM_SETTINGS_HINT}

    agents: list[AgentDispatchSpec] = Field(
        default_factory=list,
        max_length=MAX_AGENTS,
        description="Agents the server dispatches when this join creates the room",
    )


class ConnectionDetailsRequest(_TokenSourceMessage):
    """livekit.TokenSourceRequest. Every field is optional; a missing or empty room name or
    identity is generated."""

    room_name: str | None = Field(
        None,
        description="Room to join; generated when missing or empty",
        examples=["test-room"],
        json_schema_extra={"pattern": NAME_OR_EMPTY_PATTERN, "maxLength": MAX_ROOM},
    )
    participant_identity: str | None = Field(
        None,
        description="Participant identity; generated when missing or empty",
        json_schema_extra=IDENTITY_SCHEMA,
    )
    participant_name: str | None = Field(
        None, max_length=MAX_NAME, description="Display name; the identity when empty"
    )
    participant_metadata: str | None = Field(
        None, max_length=MAX_METADATA, description="Participant metadata, as given"
    )
    participant_attributes: dict[AttributeKey, AttributeValue] | None = Field(
        None, max_length=MAX_ATTRIBUTES, description="Participant attributes, as given"
    )
    room_config: RoomConfigSpec | None = Field(
        None,
        description="Only `agents` is accepted: it dispatches them when this join creates the room",
    )

    @field_validator("room_name")
    @classmethod
    def _room(cls, value: str | None) -> str | None:
        return value and check_room(value)

    @field_validator("participant_identity")
    @classmethod
    def _identity(cls, value: str | None) -> str | None:
        return value and check_identity(value)

    @property
    def agents(self) -> list[AgentDispatchSpec]:
        return self.room_config.agents if self.room_config else []


class ConnectionDetailsResponse(BaseModel):
    """livekit.TokenSourceResponse (server_url, participant_token) plus what was chosen;
    livekit-client ignores the extra fields."""

    server_url: str = Field(description="The livekit-server URL to connect to")
    participant_token: str = Field(description="The join token")
    room_name: str
    participant_name: str
    participant_identity: str
    warning: str | None = Field(
        None,
        description="Why the agent in room_config may not come: the room exists already (the "
        "dispatch is ignored), or the worker is down or registered under another name",
    )
