"""The session report livekit-agents posts at a session's end to
/observability/recordings/v0 (telemetry/traces.py, _upload_session_report): a multipart
form with `header` (a MetricsRecordingHeader protobuf), `chat_history` (the transcript as
JSON) and `audio` (recording.ogg), the last two each only when recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from google.protobuf.message import DecodeError
from livekit.protocol.metrics import MetricsRecordingHeader

from insights.otlp import INT64_MAX, JOB_ID, BadBodyError


@dataclass
class Recording:
    job_id: str
    room_id: str
    duration_ms: int
    audio_started_ms: int
    summary: dict[str, Any]  # the report without its chat history and events
    chat_history: dict[str, Any] | None
    audio: bytes


def parse(content_type: str, body: bytes) -> Recording:
    """Raises BadBodyError for anything that is not such a form, or whose parts are malformed."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadBodyError(f"expected multipart/form-data, got {content_type!r}")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadBodyError("the multipart body has no parts (wrong boundary?)")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = _field_name(part)
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            parts[name] = payload
    if "header" not in parts:
        raise BadBodyError("the form has no `header` part (MetricsRecordingHeader)")
    header = MetricsRecordingHeader()
    try:
        header.ParseFromString(parts["header"])
    except DecodeError as exc:
        raise BadBodyError(f"`header` is not a MetricsRecordingHeader: {exc}") from None
    if not JOB_ID.fullmatch(header.job_id):
        raise BadBodyError(f"`header` names no job id of the server's shape: {header.job_id!r}")
    if header.duration > INT64_MAX // 1_000_000:
        raise BadBodyError(f"`header` claims a duration of {header.duration} ms")
    return Recording(
        job_id=header.job_id,
        room_id=header.room_id,
        duration_ms=int(header.duration),
        audio_started_ms=_start_ms(header),
        summary=_json(header.session_summary.encode(), "session_summary") or {},
        chat_history=_json(parts["chat_history"], "chat_history")
        if "chat_history" in parts
        else None,
        audio=parts.get("audio", b""),
    )


def _start_ms(header: MetricsRecordingHeader) -> int:
    started = header.start_time.ToMilliseconds() if header.HasField("start_time") else 0
    if not 0 <= started <= INT64_MAX // 1_000_000:
        raise BadBodyError(f"`header` claims a start time of {started} ms")
    return started


def _field_name(part: Message) -> str | None:
    params = dict(part.get_params(header="content-disposition") or [])
    name = params.get("name")
    return str(name) if name else None


def _json(raw: bytes, what: str) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadBodyError(f"`{what}` is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadBodyError(f"`{what}` is not a JSON object")
    return data
