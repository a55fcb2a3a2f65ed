"""Request and response bodies. Validators reject bad input with a message and a hint,
so a mistake is explained at the proxy instead of surfacing later as a silent no-agent.
Every rule a validator enforces is also in the OpenAPI schema (pattern, maxLength, ...),
so a client generated from /openapi.json never sends what the proxy then refuses."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

# JSON Schema (ECMA-262) patterns; the validators use the same text with fullmatch, which
# agrees with ECMA's `$` (Python's `$` alone would also accept a trailing newline).
NAME_PATTERN = r"^[A-Za-z0-9_.:@=-]+$"
NAME_OR_EMPTY_PATTERN = r"^[A-Za-z0-9_.:@=-]*$"  # '' asks the proxy to generate one
AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_ROOM = 128
MAX_IDENTITY = 128
MAX_AGENT_NAME = 64
MAX_METADATA = 16 * 1024  # characters of JSON text

ROOM_SCHEMA: dict[str, Any] = {"pattern": NAME_PATTERN, "maxLength": MAX_ROOM}
IDENTITY_SCHEMA: dict[str, Any] = {"pattern": NAME_OR_EMPTY_PATTERN, "maxLength": MAX_IDENTITY}
AGENT_NAME_SCHEMA: dict[str, Any] = {"pattern": AGENT_NAME_PATTERN, "maxLength": MAX_AGENT_NAME}
# A JSON value, or a string holding JSON. JSON Schema 2020-12 has no assertion for "holds
# JSON" (contentMediaType only annotates), so the string form names a format, `json`,
# which the validators that know it enforce: the proxy's, and schemathesis's with
# tests/proxy/schemathesis_hooks.py.
METADATA_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "json", "maxLength": MAX_METADATA},
        {"type": ["object", "array", "number", "boolean", "null"]},
    ]
}
NO_AGENT_NAME = (
    "agent_name is empty: an unnamed worker is dispatched automatically into every "
    "new room and can never be dispatched explicitly"
)


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 60.0 as an integer; strict pydantic would not. Everything else
    ("60", true) stays for strict validation to refuse."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer as JSON Schema defines it: 60 or 60.0, never "60" or true.
JsonInt = Annotated[int, BeforeValidator(_whole_number)]


class InputError(ValueError):
    """A rejected value, with what to do about it (rendered as the error's `hint`) and,
    when it has one of its own, the error code (else `invalid_request`)."""

    def __init__(self, detail: str, hint: str, error: str | None = None) -> None:
        super().__init__(detail)
        self.hint = hint
        self.error = error


def _check_name(value: str, what: str, pattern: str, limit: int, example: str) -> str:
    """Room names and identities: the characters LiveKit and URLs both take unchanged.
    No trimming: the schema's pattern refuses spaces, so the proxy does too."""
    if not value and not re.fullmatch(pattern, value):  # required (room), not '' = generate
        raise InputError(f"{what} is empty", f"Give a {what}, e.g. {example}.")
    if len(value) > limit:
        raise InputError(
            f"{what} has {len(value)} characters, the limit is {limit}", f"Use a shorter {what}."
        )
    if not re.fullmatch(pattern, value):
        raise InputError(
            f"{what} {value!r} has characters other than letters, digits and - _ . : @ =",
            f"Use e.g. {example}.",
        )
    return value


def check_room(value: str) -> str:
    return _check_name(value, "room name", NAME_PATTERN, MAX_ROOM, "'test-room' or 'support_42'")


def check_identity(value: str) -> str:
    """An identity, or '' for one the proxy generates."""
    return _check_name(value, "identity", NAME_OR_EMPTY_PATTERN, MAX_IDENTITY, "'user-1'")


def check_agent_name(value: str, allow_unnamed: bool = False) -> str:
    """A worker's agent name; '' (the unnamed worker) only where the caller allows it."""
    if not value:
        if allow_unnamed:
            return value
        raise InputError(
            NO_AGENT_NAME,
            "Pass agent_name, or leave it out to use LIVEKIT_AGENT_NAME from .env.",
            error="no_agent_name",
        )
    if len(value) > MAX_AGENT_NAME:
        raise InputError(
            f"agent_name has {len(value)} characters, the limit is {MAX_AGENT_NAME}",
            "Use a shorter name.",
        )
    if not re.fullmatch(AGENT_NAME_PATTERN, value):
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
    if len(text) > MAX_METADATA:
        raise InputError(
            f"metadata is {len(text)} characters of JSON, the limit is {MAX_METADATA}",
            "Pass an id and look the rest up in the agent.",
        )
    return text


class _Request(BaseModel):
    """The checks every request body shares: unknown fields, room, agent name, metadata.
    Strict: `"probe": 0` or `"ttl_seconds": "60"` is a mistake, not a value to coerce."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # Only the doctor asks about the unnamed worker (agent_name '').
    allow_unnamed_agent: ClassVar[bool] = False

    @field_validator("room", check_fields=False)
    @classmethod
    def _room(cls, value: str | None) -> str | None:
        return None if value is None else check_room(value)

    @field_validator("agent_name", check_fields=False)
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return None if value is None else check_agent_name(value, cls.allow_unnamed_agent)

    @field_validator("metadata", mode="before", check_fields=False)
    @classmethod
    def _metadata(cls, value: Any) -> str:
        return check_metadata(value)


AGENT_NAME_DEFAULT = "Defaults to the configured LIVEKIT_AGENT_NAME"


class _AgentRequest(_Request):
    """A request that dispatches an agent: which one, and the metadata its job gets."""

    agent_name: str | None = Field(
        None, description=AGENT_NAME_DEFAULT, json_schema_extra=AGENT_NAME_SCHEMA
    )
    metadata: Any = Field(
        None,
        description="Dispatch metadata for the job: a JSON value or a string holding JSON",
        json_schema_extra=METADATA_SCHEMA,
    )


class TokenRequest(_AgentRequest):
    room: str = Field(
        description="Room to join", examples=["test-room"], json_schema_extra=ROOM_SCHEMA
    )
    identity: str = Field(
        "",
        description="Participant identity; generated when empty",
        json_schema_extra=IDENTITY_SCHEMA,
    )
    name: str = Field("", max_length=128, description="Display name")
    dispatch: Literal["none", "token"] = Field(
        "none",
        description="'token' puts RoomConfiguration(agents=[...]) in the token: honoured only "
        "if this join creates the room",
    )
    ttl_seconds: JsonInt = Field(3600, ge=10, le=86400, description="Token lifetime")

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


class DispatchRequest(_AgentRequest):
    room: str = Field(
        description="Room to dispatch into; created if it does not exist",
        examples=["test-room"],
        json_schema_extra=ROOM_SCHEMA,
    )


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
    allow_unnamed_agent: ClassVar[bool] = True

    room: str | None = Field(
        None,
        description="The room the agent should have joined",
        examples=["test-room"],
        json_schema_extra=ROOM_SCHEMA,
    )
    agent_name: str | None = Field(
        None,
        description=f"{AGENT_NAME_DEFAULT}; '' for an unnamed worker",
        # The unnamed worker's name, '', is a name to ask about here.
        json_schema_extra={**AGENT_NAME_SCHEMA, "pattern": f"^({AGENT_NAME_PATTERN[1:-1]})?$"},
    )
    token: str | None = Field(
        None,
        max_length=8192,
        description="The client's token: decoded, verified, its room config checked",
    )
    probe: StrictBool = Field(
        False,
        description="Dispatch into a throw-away room and time the join (launches one short-lived agent)",
    )


class SwitchRequest(_Request):
    room: str = Field(
        description="The live room", examples=["test-room"], json_schema_extra=ROOM_SCHEMA
    )
    agent_name: str = Field(
        description="The agent to bring in: a name a worker has registered",
        json_schema_extra=AGENT_NAME_SCHEMA,
    )
    from_agent_name: str | None = Field(
        None,
        description="The agent to let go; default every other agent in the room",
        json_schema_extra=AGENT_NAME_SCHEMA,
    )

    @field_validator("from_agent_name")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return None if value is None else check_agent_name(value)
