"""LiveKit Cloud's noise cancellation offline, on the debug page, in a real Chromium whose
fake microphone speaks to an AGENT_DIR agent with ai-coustics and BVC on its input: each
plugin is one warning in the page's log, once, and nothing on the page calls it a failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from tests.browser.test_debug_page import events, expect_state, open_page
from tests.support.agent_project import (
    PROJECT_NOISE,
    REGISTERED,
    copy_project,
    start_project_worker,
)

pytestmark = pytest.mark.browser

AGENT = "my-noise-agent"
WARNED = "needs LiveKit Cloud"  # the page's event for a note (static/debug.js)


@pytest.fixture
def noise_stack(livekit_server: LiveKitServer, tmp_path: Path) -> Iterator[Proxy]:
    project = copy_project(tmp_path / "noise-agent", PROJECT_NOISE)
    worker: AgentWorker = start_project_worker(livekit_server, project, AGENT)
    proxy = Proxy(livekit_server, AGENT, worker.health_url)
    try:
        worker.wait_for_line(REGISTERED, timeout=300)
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()
        worker.stop()


def test_each_cloud_only_canceller_is_one_warning_on_the_page(
    page: Page, noise_stack: Proxy, room_name: str
) -> None:
    open_page(page, noise_stack, room=room_name, mode="explicit", agent=AGENT)
    expect_state(page, "joined")
    # BVC says it as its stream starts; ai-coustics after it asked Cloud (about 10 s).
    page.wait_for_function(
        f"window.devstack.log.filter(e => e.event === '{WARNED}').length >= 2", timeout=45_000
    )
    light = f"/api/rooms/{room_name}/job-failures"
    for _ in range(2):  # two more polls: still said once each
        with page.expect_request(lambda r: urlparse(r.url).path == light, timeout=10_000):
            pass
    warned = page.evaluate(
        f"window.devstack.log.filter(e => e.event === '{WARNED}').map(e => [e.level, e.message])"
    )
    assert [level for level, _ in warned] == ["warn", "warn"], warned
    said = " ".join(message for _, message in warned)
    assert "livekit-plugins-ai-coustics" in said and "livekit-plugins-noise-cancellation" in said
    assert "Your agent still hears the person." in said
    seen = events(page)
    assert not {"agent job crashed", "agent session failing", "diagnosis"} & set(seen), seen
    expect_state(page, "joined")
