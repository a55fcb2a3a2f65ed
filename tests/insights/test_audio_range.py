"""A session's audio answers HTTP Range requests, so the sessions page's player seeks before
the file has loaded: against the audio of a real recorded conversation (tests/conftest.py
recorded_session), served by a real proxy process."""

from __future__ import annotations

import httpx
import pytest

from devstack.processes import Proxy
from tests.support.insights import RecordedSession

pytestmark = pytest.mark.integration


def audio(proxy: Proxy, session: RecordedSession, **headers: str) -> httpx.Response:
    url = f"{proxy.url}/api/sessions/{session.job_id}/audio"
    return httpx.get(url, headers=headers, timeout=10)


def test_a_range_of_the_audio_is_those_bytes(
    proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """bytes=1000-1999 of a session's audio: 206 with exactly those bytes."""
    whole = audio(proxy, recorded_session)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    assert size > 2000, size
    part = audio(proxy, recorded_session, Range="bytes=1000-1999")
    assert part.status_code == 206, part.text
    assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
    assert part.headers["accept-ranges"] == "bytes"
    assert part.headers["content-type"] == "audio/ogg"
    assert part.content == whole.content[1000:2000]
    tail = audio(proxy, recorded_session, Range="bytes=-100")
    assert tail.status_code == 206 and tail.content == whole.content[-100:]


def test_a_range_past_the_end_is_416_with_the_size(
    proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """A range that starts past the end: 416, `Content-Range: bytes */size`, the one error
    shape."""
    size = len(audio(proxy, recorded_session).content)
    resp = audio(proxy, recorded_session, Range=f"bytes={size}-")
    assert resp.status_code == 416
    assert resp.headers["content-range"] == f"bytes */{size}"
    body = resp.json()
    assert body["error"] == "range_not_satisfiable" and str(size) in body["detail"]
    assert body["hint"]
