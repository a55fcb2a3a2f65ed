"""OTLP/HTTP bodies as livekit-agents posts them (protobuf, gzip or not), read into plain
rows: spans, log records and metric points, each with the job it belongs to.

livekit-agents stamps `job_id` and `room_id` on every span and log record
(telemetry/traces.py, _MetadataSpanProcessor and _MetadataLogProcessor), and on the
scope of its chat-history logger; a record without one is not a session's and is dropped.

That stamp is the job of the context that *uploads* the record, which in a worker running
several jobs in one process (the thread executor) may be another job's. A worker the stack
starts there also stamps each record with the job that *made* it (OWN_JOB, agent/
job_records.py): a record whose two stamps differ is another job's, or no job's, and is
dropped. Records of such a process without that stamp are kept but marked `unverified`."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

AGENT_NAME_ATTRIBUTE = "lk.agent_name"
OWN_JOB = "_devstack_job_id"  # agent/job_records.py ATTRIBUTE
# A job id as livekit-server makes them (AJ_...), as GET /api/sessions/{job_id} takes it.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
INT64_MAX = 2**63 - 1  # what SQLite stores; OTLP's fixed64 times can claim more


class BadBodyError(ValueError):
    """A body that is not what it claims to be (or larger than allowed unpacked)."""


@dataclass
class Span:
    job_id: str
    room_id: str
    agent_name: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    status: str  # "", "ok" or "error: <message>"
    attributes: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LogRecord:
    job_id: str
    room_id: str
    room: str  # the chat-history logger's scope names it
    at_ns: int
    severity: str
    logger: str
    body: str
    attributes: dict[str, Any]
    unverified: bool = False


@dataclass
class MetricPoint:
    job_id: str
    name: str
    at_ns: int
    value: float
    attributes: dict[str, Any]


def unpack(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The body, gunzipped when Content-Encoding says gzip, refused past `limit` bytes
    unpacked (a small gzip can unpack to gigabytes)."""
    if (encoding or "").strip().lower() != "gzip":
        return raw
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadBodyError(f"Content-Encoding is gzip but the body is not: {exc}") from None
    if len(out) > limit:
        raise BadBodyError(f"the body unpacks to more than {limit} bytes")
    return out


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def job_of(stamp: dict[str, Any]) -> str | None:
    """The record's job id, if it has one of the shape livekit-server gives."""
    job = stamp.get("job_id")
    return job if isinstance(job, str) and JOB_ID.fullmatch(job) else None


def ns(value: int) -> int:
    if value > INT64_MAX:
        raise BadBodyError(f"a timestamp of {value} ns is past the year 2262")
    return value


def _parse(message: Any, body: bytes, what: str) -> Any:
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise BadBodyError(f"not an OTLP {what} export request (protobuf): {exc}") from None
    return message


def _records(
    groups: Any, scopes: str, records: str
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], str, Any, bool]]:
    """Each record of an export that belongs to a job: (its job id, its stamp: the resource's,
    the scope's and its own attributes merged, its own attributes, its scope's name, the
    record, whether its job is unverified). `scopes` and `records` name the fields of the
    signal's messages.

    A process's resource names the job that set its pipeline up (traces.py, `_resource`):
    records of other jobs under it come from a process that ran several, and unless the
    worker stamped who made each (OWN_JOB), none of those jobs' records can be told apart."""
    for group in groups:
        resource = attributes(group.resource.attributes)
        kept: list[tuple[str, dict[str, Any], dict[str, Any], str, Any]] = []
        unstamped: set[str] = set()
        for scoped in getattr(group, scopes):
            scope = attributes(scoped.scope.attributes)
            for record in getattr(scoped, records):
                own = attributes(record.attributes)
                stamp = {**resource, **scope, **own}
                if (job := job_of(stamp)) is None:
                    continue
                made_by = own.get(OWN_JOB)
                if made_by is None:
                    unstamped.add(job)
                elif made_by != job:
                    continue  # made by another job (or none), uploaded under this one
                kept.append((job, stamp, own, scoped.scope.name, record))
        home = job_of(resource)
        shared = unstamped | {home} if home and unstamped - {home} else set()
        for job, stamp, own, scope_name, record in kept:
            yield job, stamp, own, scope_name, record, job in shared


def spans(body: bytes) -> list[Span]:
    request = _parse(ExportTraceServiceRequest(), body, "trace")
    return [
        Span(
            job_id=job,
            room_id=str(stamp.get("room_id", "")),
            agent_name=str(stamp.get(AGENT_NAME_ATTRIBUTE, "")),
            trace_id=s.trace_id.hex(),
            span_id=s.span_id.hex(),
            parent_id=s.parent_span_id.hex(),
            name=s.name,
            start_ns=ns(s.start_time_unix_nano),
            end_ns=ns(s.end_time_unix_nano),
            status=_status(s.status.code, s.status.message),
            attributes=own,
            events=[
                {
                    "name": e.name,
                    "at_ns": ns(e.time_unix_nano),
                    "attributes": attributes(e.attributes),
                }
                for e in s.events
            ],
        )
        # livekit-agents makes every span in its job's context: their stamp is right.
        for job, stamp, own, _, s, _ in _records(request.resource_spans, "scope_spans", "spans")
    ]


def _status(code: int, message: str) -> str:
    # STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2 (opentelemetry/proto/trace/v1/trace.proto)
    return {1: "ok", 2: f"error: {message}".rstrip(": ")}.get(code, "")


def logs(body: bytes) -> list[LogRecord]:
    request = _parse(ExportLogsServiceRequest(), body, "logs")
    rows: list[LogRecord] = []
    scoped = _records(request.resource_logs, "scope_logs", "log_records")
    for job, stamp, own, scope, r, unverified in scoped:
        body_value = value(r.body)
        rows.append(
            LogRecord(
                job_id=job,
                room_id=str(stamp.get("room_id", "")),
                room=str(stamp.get("room", "")),
                at_ns=ns(r.time_unix_nano or r.observed_time_unix_nano),
                severity=(r.severity_text or "").upper() or _severity(r.severity_number),
                logger=scope,
                body=body_value if isinstance(body_value, str) else str(body_value),
                attributes={k: v for k, v in own.items() if k != OWN_JOB},
                unverified=unverified,
            )
        )
    return rows


def _severity(number: int) -> str:
    # OTLP severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21+ FATAL
    for floor, name in ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG")):
        if number >= floor:
            return name
    return "TRACE" if number else ""


def metrics(body: bytes) -> list[MetricPoint]:
    request = _parse(ExportMetricsServiceRequest(), body, "metrics")
    rows: list[MetricPoint] = []
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for m in scope_metrics.metrics:
                kind = m.WhichOneof("data")
                if kind not in ("sum", "gauge", "histogram"):
                    continue
                for p in getattr(m, kind).data_points:
                    attrs = attributes(p.attributes)
                    if (job := job_of(attrs)) is None:
                        continue
                    if kind == "histogram":
                        number = p.sum
                    else:
                        number = p.as_double if p.WhichOneof("value") == "as_double" else p.as_int
                    rows.append(MetricPoint(job, m.name, ns(p.time_unix_nano), number, attrs))
    return rows
