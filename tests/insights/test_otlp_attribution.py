"""Which session a log record belongs to, when jobs share a worker process (unit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from insights import otlp, view
from insights.store import InsightStore

pytestmark = pytest.mark.unit


def pairs(**values: str) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in values.items()]


def export(home: str, records: list[dict[str, str]]) -> bytes:
    """One process's upload: its resource names the job `home`, each record its stamps."""
    request = ExportLogsServiceRequest()
    group = request.resource_logs.add()
    group.resource.attributes.extend(pairs(job_id=home, room_id="RM_home"))
    scoped = group.scope_logs.add()
    for i, stamps in enumerate(records):
        record = scoped.log_records.add(time_unix_nano=1 + i)
        record.body.string_value = f"line {i}"
        record.attributes.extend(pairs(**stamps))
    return request.SerializeToString()


def test_a_record_made_by_another_job_is_not_this_sessions() -> None:
    """A record replayed or stamped under job A but made by job B (or by no job) is dropped."""
    own = otlp.OWN_JOB
    rows = otlp.logs(
        export(
            "AJ_a",
            [
                {"job_id": "AJ_a", own: "AJ_a"},
                {"job_id": "AJ_a", own: "AJ_b"},
                {"job_id": "AJ_a", own: ""},
                {"job_id": "AJ_b", own: "AJ_b"},
            ],
        )
    )
    assert [(r.job_id, r.body) for r in rows] == [("AJ_a", "line 0"), ("AJ_b", "line 3")]
    assert not any(r.unverified for r in rows)
    assert all(own not in r.attributes for r in rows)


def test_unstamped_records_of_a_shared_process_are_unverified() -> None:
    """Without the stack's stamp, jobs that share a process are marked: none can be trusted."""
    rows = otlp.logs(export("AJ_a", [{"job_id": "AJ_a"}, {"job_id": "AJ_b"}]))
    assert [(r.job_id, r.unverified) for r in rows] == [("AJ_a", True), ("AJ_b", True)]


def test_a_process_of_one_job_is_trusted_as_it_is() -> None:
    """The process executor: one job per process, livekit-agents' own stamp is right."""
    rows = otlp.logs(export("AJ_a", [{"job_id": "AJ_a"}, {"job_id": "AJ_a"}]))
    assert [(r.job_id, r.unverified) for r in rows] == [("AJ_a", False), ("AJ_a", False)]


def test_a_session_of_unstamped_shared_jobs_says_why(tmp_path: Path) -> None:
    """Stored and read back, such a session carries the warning the page shows."""
    store = InsightStore(tmp_path)
    store.add_logs(otlp.logs(export("AJ_a", [{"job_id": "AJ_a"}, {"job_id": "AJ_b"}])))
    store.add_logs(otlp.logs(export("AJ_c", [{"job_id": "AJ_c"}])))
    shown = {j: view.detail(store.session(j), None)["warnings"] for j in ("AJ_a", "AJ_b", "AJ_c")}
    assert shown["AJ_a"] == shown["AJ_b"] == [view.SHARED_PROCESS]
    assert shown["AJ_c"] == []
