"""What the proxy refuses at livekit-agents' upload paths, against a real proxy process: no
token, a token signed with another secret, a token without the observability grant (401),
a body that is not what the path takes (400), one past the size limit (413). None of them
stores anything; a real upload is in tests/agent/test_insights_session.py."""

from __future__ import annotations

import gzip
import uuid
from datetime import timedelta

import httpx
import pytest
from livekit import api
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.local_server import LiveKitServer
from devstack.processes import Proxy

pytestmark = pytest.mark.integration

TRACES = "/observability/traces/otlp/v0"
RECORDINGS = "/observability/recordings/v0"


def upload_token(key: str, secret: str, *, grant: bool = True) -> str:
    token = api.AccessToken(key, secret).with_ttl(timedelta(minutes=5))
    if grant:
        token = token.with_observability_grants(api.ObservabilityGrants(write=True))
    else:
        token = token.with_identity("someone").with_grants(
            api.VideoGrants(room_join=True, room="r")
        )
    return token.to_jwt()


def one_span(job_id: str, start_ns: int = 1) -> bytes:
    """A real OTLP trace export with one span of `job_id`, as livekit-agents stamps it."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name, span.trace_id, span.span_id = "forged", b"\x01" * 16, b"\x02" * 8
    span.start_time_unix_nano, span.end_time_unix_nano = start_ns, start_ns
    attribute = span.attributes.add()
    attribute.key, attribute.value.string_value = "job_id", job_id
    return gzip.compress(request.SerializeToString())


def post(proxy: Proxy, path: str, body: bytes, token: str | None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.post(proxy.url + path, content=body, headers=sent, timeout=15)


def stored(proxy: Proxy, job_id: str) -> int:
    return httpx.get(f"{proxy.url}/api/sessions/{job_id}", timeout=10).status_code


def sessions(proxy: Proxy) -> set[str]:
    """The job ids of every stored session."""
    return {
        s["job_id"] for s in httpx.get(f"{proxy.url}/api/sessions", timeout=10).json()["sessions"]
    }


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("no token", lambda s: None),
        ("another secret", lambda s: upload_token(s.api_key, "not-the-secret-at-all-0123456789")),
        ("another key", lambda s: upload_token("otherkey", s.api_secret)),
        ("no observability grant", lambda s: upload_token(s.api_key, s.api_secret, grant=False)),
        ("not a JWT", lambda s: "garbage"),
    ],
)
def test_an_upload_without_a_valid_token_is_refused_and_stores_nothing(
    livekit_server: LiveKitServer, proxy: Proxy, case: str, token: object
) -> None:
    job_id = f"AJ_forged{uuid.uuid4().hex[:8]}"
    resp = post(proxy, TRACES, one_span(job_id), token(livekit_server))  # type: ignore[operator]
    assert resp.status_code == 401, (case, resp.text)
    body = resp.json()
    assert body["error"] == "upload_unauthorized" and body["hint"], body
    assert stored(proxy, job_id) == 404


def test_a_valid_upload_is_stored_and_a_malformed_one_is_not(
    livekit_server: LiveKitServer, proxy: Proxy
) -> None:
    """The same token: a real span is stored (so the refusals above are the token's doing);
    garbage, a false gzip and a recording without its header are 400 and store nothing."""
    token = upload_token(livekit_server.api_key, livekit_server.api_secret)
    good = f"AJ_good{uuid.uuid4().hex[:8]}"
    assert post(proxy, TRACES, one_span(good), token).status_code == 200
    assert stored(proxy, good) == 200
    session = httpx.get(f"{proxy.url}/api/sessions/{good}", timeout=10).json()
    assert [s["name"] for s in session["spans"]] == ["forged"]

    before = sessions(proxy)
    bad = f"AJ_bad{uuid.uuid4().hex[:8]}"
    cases = [
        (TRACES, b"\xff\x00 not protobuf at all" + bad.encode(), {"Content-Encoding": ""}),
        (TRACES, b"not gzip" + bad.encode(), {}),
        (TRACES, one_span(bad, start_ns=2**64 - 1), {}),
        (
            RECORDINGS,
            b"--b\r\nContent-Disposition: form-data; name=chat_history\r\n\r\n{}\r\n--b--\r\n",
            {"Content-Type": "multipart/form-data; boundary=b", "Content-Encoding": ""},
        ),
        (RECORDINGS, one_span(bad), {"Content-Encoding": ""}),
    ]
    for path, body, headers in cases:
        resp = post(proxy, path, body, token, **headers)
        assert resp.status_code == 400, (path, body[:20], resp.text)
        assert resp.json()["error"] == "bad_upload"
    assert stored(proxy, bad) == 404
    assert sessions(proxy) == before


def test_an_upload_from_a_web_page_is_refused(livekit_server: LiveKitServer, proxy: Proxy) -> None:
    """The dev secret is well known: what stops a page the user visits from writing sessions
    is the Origin check, which uploads pass like every other write."""
    token = upload_token(livekit_server.api_key, livekit_server.api_secret)
    job_id = f"AJ_page{uuid.uuid4().hex[:8]}"
    resp = post(proxy, TRACES, one_span(job_id), token, Origin="https://evil.example")
    assert resp.status_code == 403 and resp.json()["error"] == "origin_not_allowed"
    assert stored(proxy, job_id) == 404


def test_an_upload_past_the_limits_is_refused(livekit_server: LiveKitServer, proxy: Proxy) -> None:
    """A body past 16 MB is refused by its Content-Length, before it is read; a small gzip
    that unpacks past 64 MB is refused as it unpacks. Neither stores anything."""
    token = upload_token(livekit_server.api_key, livekit_server.api_secret)
    before = sessions(proxy)
    bomb = gzip.compress(b"\0" * (65 * 1024 * 1024))
    resp = post(proxy, TRACES, bomb, token)
    assert resp.status_code == 400 and "unpacks to more than" in resp.json()["detail"]
    big = post(proxy, TRACES, b"\0" * (17 * 1024 * 1024), token, **{"Content-Encoding": ""})
    assert big.status_code == 413, big.text
    assert big.json()["error"] == "upload_too_large"
    assert sessions(proxy) == before
