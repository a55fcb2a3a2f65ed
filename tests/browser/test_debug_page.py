"""The debug page in a real headless Chromium: what a user sees after clicking Connect."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from playwright.sync_api import Page, expect

from bench.stack import PLAIN_AGENT, start_plain_agent
from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
JOIN_TIMEOUT_MS = 20_000


def open_page(page: Page, proxy: Proxy, **params: str) -> None:
    page.goto(f"{proxy.url}/debug?{urlencode(params)}")
    expect(page.locator("body")).to_have_attribute("data-agent-state", "idle")
    page.click("#connect")


def events(page: Page) -> list[str]:
    return page.evaluate("window.devstack.log.map(e => e.event)")


def expect_state(page: Page, state: str, timeout: int = JOIN_TIMEOUT_MS) -> None:
    """Wait for the page's agentState; on failure, show its event log (what a user would read)."""
    try:
        expect(page.locator("body")).to_have_attribute("data-agent-state", state, timeout=timeout)
    except AssertionError:
        log = page.evaluate(
            "window.devstack.log.map(e => `+${e.t_ms} ms ${e.event}: ${e.message}`).join('\\n')"
        )
        raise AssertionError(
            f"agentState never became {state!r}; the page's event log:\n{log}"
        ) from None


def test_explicit_mode_agent_joins_and_echoes(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """Explicit dispatch: the agent joins, its audio is subscribed, and it echoes the mic."""
    open_page(page, proxy, room=room_name, mode="explicit")
    expect_state(page, "joined")
    page.wait_for_function(
        # Published with the first echo: the fake mic's speech must end first.
        "window.devstack.log.some(e => e.event === 'agent audio subscribed')",
        timeout=30_000,
    )
    # Loopback mode plays the fake mic's speech back: the agent's level leaves silence.
    page.wait_for_function("window.devstack.agentLevelPeak > 0.05", timeout=30_000)
    expect(page.locator("#transcript")).to_contain_text("heard", timeout=10_000)
    seen = events(page)
    for step in [
        "token fetched",
        "connected",
        "dispatch requested",
        "dispatch created",
        "agent joined",
        "agent timeline",
        "mic published",
    ]:
        assert step in seen, f"{step!r} missing from the event log: {seen}"
    expect(page.locator("#participants")).to_contain_text("AGENT")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "debug-joined.png"), full_page=True)


def test_token_mode_agent_joins(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """Token dispatch into a new room: the agent joins without an explicit dispatch call."""
    open_page(page, proxy, room=room_name, mode="token")
    expect_state(page, "joined")
    assert "dispatch requested" not in events(page)


def test_none_mode_times_out_with_diagnosis(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """No dispatch with a named worker: the page times out and explains."""
    open_page(page, proxy, room=room_name, mode="none", timeout="4")
    expect_state(page, "timeout")
    expect(page.locator("#diagnosis-card")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text(
        "never dispatched automatically", timeout=15_000
    )
    expect(page.locator("#checks")).to_contain_text("✗")


def test_mismatched_agent_name_diagnosis_names_both(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """Dispatching a name no worker has: timeout, and the diagnosis shows both names."""
    wrong = "interviewer-typo"
    open_page(page, proxy, room=room_name, mode="explicit", agent=wrong, timeout="4")
    expect_state(page, "timeout")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text(f"you dispatch `{wrong}`", timeout=15_000)
    expect(verdict).to_contain_text(f"registered as `{named_worker.agent_name}`")


def test_a_joined_page_asks_for_the_room_once_then_only_what_is_light(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """Joined and quiet, the page asks for the room itself once (when it was created), then
    only for the watcher's events and the room's job failures, which cost the server
    nothing; the agent list only when the workers change."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(urlparse(r.url).path))
    open_page(page, proxy, room=room_name, mode="explicit", agent=named_worker.agent_name)
    expect_state(page, "joined")
    light = f"/api/rooms/{room_name}/job-failures"
    for _ in range(3):  # each poll of the light endpoint, as it comes (every 2 s)
        with page.expect_request(lambda r: urlparse(r.url).path == light, timeout=10_000):
            pass
    assert asked.count(f"/api/rooms/{room_name}") == 1, asked
    assert asked.count("/api/delivery") >= 3, asked
    assert asked.count("/api/agents") <= 2, asked  # at load, and if a worker came meanwhile
    assert "agent job crashed" not in events(page)


def test_connect_twice_starts_one_session(
    page: Page, proxy: Proxy, named_worker: AgentWorker, room_name: str
) -> None:
    """A double click on Connect makes one connection and one dispatch."""
    page.goto(f"{proxy.url}/debug?{urlencode({'room': room_name, 'mode': 'explicit'})}")
    page.click("#connect")
    page.click("#connect", force=True)
    expect_state(page, "joined")
    assert events(page).count("connected") == 1
    assert events(page).count("dispatch requested") == 1


def test_waiting_for_worker_then_the_watcher_delivers(
    page: Page, livekit_server: LiveKitServer, room_name: str
) -> None:
    """Connect before the worker is up: the page says it waits for the worker, still asks
    for the dispatch, and the agent comes once the worker registers."""
    name = f"late-{room_name[-6:]}"
    proxy = Proxy(livekit_server, name, "http://127.0.0.1:9")
    worker: AgentWorker | None = None
    try:
        proxy.wait_ready()
        page.goto(f"{proxy.url}/debug?{urlencode({'room': room_name, 'mode': 'explicit'})}")
        expect(page.locator("#pill-worker")).to_contain_text("waiting for worker")
        page.click("#connect")
        page.wait_for_function(
            "window.devstack.log.some(e => e.event === 'dispatch created')", timeout=10_000
        )
        worker = AgentWorker(livekit_server, name)
        worker.wait_registered()
        expect_state(page, "joined")
        # The page reads the watcher's events once a second.
        page.wait_for_function(
            "window.devstack.log.some(e => e.event === 'watcher: re-dispatched')", timeout=5_000
        )
        expect(page.locator("#counters")).to_contain_text("re-dispatched")
    finally:
        if worker:
            worker.stop()
        proxy.stop()


def test_an_agent_that_announces_nothing_is_marked_late(
    page: Page, proxy: Proxy, livekit_server: LiveKitServer, room_name: str
) -> None:
    """A seed-style agent (no track, no attribute) reaches the page only with the server's
    3 s batch: the event log says so and what to change. Ours carries its timeline."""
    worker = start_plain_agent(livekit_server)
    try:
        open_page(page, proxy, room=room_name, mode="explicit", agent=PLAIN_AGENT)
        expect_state(page, "joined")
        page.wait_for_function(
            "window.devstack.log.some(e => e.event === 'agent announced late')", timeout=10_000
        )
        late = page.evaluate(
            "window.devstack.log.find(e => e.event === 'agent announced late').message"
        )
        assert "batch every 3 s" in late and "ctx.connect()" in late
        assert "agent timeline" not in events(page)
    finally:
        worker.stop()
