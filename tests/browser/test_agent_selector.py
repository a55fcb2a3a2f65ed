"""The agent selector in a real Chromium: registered agents are offered (a worker the
stack did not start among them), one is picked and joins, a second one is added, and a
switch brings the other agent in while the person stays connected."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Process, Proxy
from tests.browser.test_debug_page import ARTIFACTS, events, expect_state
from tests.support.seed_worker import SEED_AGENT, start_seed_worker

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seed(livekit_server: LiveKitServer) -> Iterator[Process]:
    worker = start_seed_worker(livekit_server)
    yield worker
    worker.stop()


def agents_on_page(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#participants li[data-agent-name]:not([data-agent-name=''])",
        "items => items.map(li => li.dataset.agentName)",
    )


def test_pick_add_and_switch_agents(
    page: Page, proxy: Proxy, named_worker: AgentWorker, seed: Process, room_name: str
) -> None:
    """Pick `my-interviewer` from the list; add the built-in agent beside it; then switch
    to the built-in one alone: the interviewer leaves cleanly, the person never drops."""
    page.goto(f"{proxy.url}/debug?{urlencode({'room': room_name, 'mode': 'explicit'})}")
    expect(page.locator(f"#agent-list option[value='{SEED_AGENT}']")).to_have_count(1)
    page.fill("#agent-name", "my-interviewr")
    expect(page.locator("#agent-registered")).to_have_text("not registered")
    page.fill("#agent-name", SEED_AGENT)
    expect(page.locator("#agent-registered")).to_have_text("registered")
    page.click("#connect")
    expect_state(page, "joined")
    assert agents_on_page(page) == [SEED_AGENT]

    page.fill("#other-agent", named_worker.agent_name)
    page.click("#add-agent")
    page.wait_for_function(
        "document.querySelectorAll('#participants li[data-agent-name]').length >= 3"
    )
    expect(page.locator("#participants")).to_contain_text(f"{named_worker.agent_name} · ")
    expect(page.locator("#participants")).to_contain_text(f"{SEED_AGENT} · listening")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "agent-selector.png"), full_page=True)

    started = time.monotonic()
    page.click("#switch-agent")
    page.wait_for_function("window.devstack.log.some(e => e.event === 'switched')", timeout=30_000)
    page.wait_for_function(
        f"!document.querySelector(\"#participants li[data-agent-name='{SEED_AGENT}']\")",
        timeout=15_000,
    )
    switched = time.monotonic() - started
    assert agents_on_page(page) == [named_worker.agent_name]
    assert "disconnected" not in events(page)  # the person stayed in the room
    assert page.evaluate("window.devstack.room.state") == "connected"
    print(f"\nswitch: {switched * 1000:.0f} ms from the click until the old agent was gone")
    tail = "\n".join(seed.lines[-60:])
    assert "Traceback" not in tail, tail
