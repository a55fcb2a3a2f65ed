"""Request and response bodies. Validators reject bad input with a message and a hint,
so a mistake is explained at the proxy instead of surfacing later as a silent no-agent."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_CHARS = re.compile(r"^[A-Za-z0-9_.:@=-]+$")
AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_ROOM = 128
MAX_IDENTITY = 128
MAX_AGENT_NAME = 64
MAX_METADATA_BYTES = 16 * 1024


class InputError(ValueError):
    """A rejected value, with what to do about it (rendered as the error's `hint`)."""

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.hint = hint


def _check_name(value: str, what: str, limit: int, example: str, required: bool) -> str:
    """Room names and identities: the characters LiveKit and URLs both take unchanged."""
    value = value.strip()
    if required and not value:
        raise InputError(f"{what} is empty", f"Give a {what}, e.g. {example}.")
    if len(value) > limit:
        raise InputError(
            f"{what} has {len(value)} characters, the limit is {limit}", f"Use a shorter {what}."
        )
    if value and not NAME_CHARS.match(value):
        raise InputError(
            f"{what} {value!r} has characters other than letters, digits and - _ . : @ =",
            f"Use e.g. {example}.",
        )
    return value


def check_room(value: str) -> str:
    return _check_name(value, "room name", MAX_ROOM, "'test-room' or 'support_42'", required=True)


def check_identity(value: str) -> str:
    return _check_name(value, "identity", MAX_IDENTITY, "'user-1'", required=False)


def check_agent_name(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_AGENT_NAME:
        raise InputError(
            f"agent_name has {len(value)} characters, the limit is {MAX_AGENT_NAME}",
            "Use a shorter name.",
        )
    if value and not AGENT_NAME.match(value):
        raise InputError(
            f"agent_name {value!r} must start with a letter or digit"
            " and use only letters, digits and - _ .",
            "It must equal the worker's LIVEKIT_AGENT_NAME exactly.",
        )
    return value


def check_metadata(value: Any) -> str:
    """Metadata travels as a string; require JSON so the agent can parse what it gets."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise InputError(
                f"metadata is not valid JSON ({exc.msg} at position {exc.pos})",
                'Send a JSON object, e.g. {"user": "ada"}, or a string holding one.',
            ) from None
        text = value
    else:
        text = json.dumps(value, separators=(",", ":"))
    size = len(text.encode())
    if size > MAX_METADATA_BYTES:
        raise InputError(
            f"metadata is {size} bytes, the limit is {MAX_METADATA_BYTES}",
            "Pass an id and look the rest up in the agent.",
        )
    return text


class _Request(BaseModel):
    """The checks every request body shares: unknown fields, room, agent name, metadata."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("room", check_fields=False)
    @classmethod
    def _room(cls, value: str | None) -> str | None:
        return None if value is None else check_room(value)

    @field_validator("agent_name", check_fields=False)
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return None if value is None else check_agent_name(value)

    @field_validator("metadata", mode="before", check_fields=False)
    @classmethod
    def _metadata(cls, value: Any) -> str:
        return check_metadata(value)


class TokenRequest(_Request):
    room: str = Field(description="Room to join", examples=["test-room"])
    identity: str = Field("", description="Participant identity; generated when empty")
    name: str = Field("", max_length=128, description="Display name")
    dispatch: Literal["none", "token"] = Field(
        "none",
        description="'token' puts RoomConfiguration(agents=[...]) in the token: honoured only "
        "if this join creates the room",
    )
    agent_name: str | None = Field(
        None, description="Defaults to the configured LIVEKIT_AGENT_NAME"
    )
    metadata: Any = Field(
        None, description="Dispatch metadata: a JSON value or a string holding JSON"
    )
    ttl_seconds: int = Field(3600, ge=10, le=86400, description="Token lifetime")

    @field_validator("identity")
    @classmethod
    def _identity(cls, value: str) -> str:
        return check_identity(value)


class TokenResponse(BaseModel):
    server_url: str
    token: str
    room: str
    identity: str
    dispatch: Literal["none", "token"]
    agent_name: str | None = None
    warning: str | None = Field(
        None,
        description="Set when dispatch='token' but the room exists: the dispatch will be ignored",
    )


class DispatchRequest(_Request):
    room: str = Field(
        description="Room to dispatch into; created if it does not exist", examples=["test-room"]
    )
    agent_name: str | None = Field(
        None, description="Defaults to the configured LIVEKIT_AGENT_NAME"
    )
    metadata: Any = Field(None, description="Job metadata: a JSON value or a string holding JSON")


class DispatchResponse(BaseModel):
    success: bool
    room: str
    dispatch_id: str
    agent_name: str
    room_existed: bool
    already_dispatched: bool
    message: str
    replaced_dispatch_id: str | None = Field(
        None, description="Set when an earlier dispatch had no agent left in the room"
    )
    warning: str | None = Field(
        None,
        description="Why no agent may come although the server accepted the dispatch (worker down, other name)",
    )


class DiagnoseRequest(_Request):
    room: str | None = Field(
        None, description="The room the agent should have joined", examples=["test-room"]
    )
    agent_name: str | None = Field(
        None, description="Defaults to the configured LIVEKIT_AGENT_NAME; '' for an unnamed worker"
    )
    token: str | None = Field(
        None,
        max_length=8192,
        description="The client's token: decoded, verified, its room config checked",
    )
    probe: bool = Field(
        False,
        description="Dispatch into a throw-away room and time the join (launches one short-lived agent)",
    )
