"""A real React front end in headless Chromium: @livekit/components-react's useSession,
fetching its token from the proxy's standard endpoint (POST /api/connection-details) from
another origin, as a user's app does. The app is built from npm by scripts/build-react-app."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from devstack.local_server import LiveKitServer
from devstack.processes import ROOT, AgentWorker, Proxy
from devstack.waiting import free_port
from tests.support.doctor_cli import doctor

pytestmark = pytest.mark.browser

APP = ROOT / "tests" / "browser" / "react_app"
ARTIFACTS = ROOT / "test-artifacts"
JOIN_TIMEOUT_MS = 20_000
# components-react's agentConnectTimeoutMilliseconds (default 20 s), shortened for the test.
AGENT_TIMEOUT_MS = 5_000


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the built app; keeps its request log out of the test output."""

    def log_message(self, fmt: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def react_app_dist() -> Path:
    """The bundle, built (or found up to date) by scripts/build-react-app."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-react-app")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/build-react-app failed:\n{done.stdout}\n{done.stderr}")
    return APP / "dist"


@pytest.fixture(scope="module")
def app_origin(react_app_dist: Path) -> Iterator[str]:
    """The app on its own origin (a static server on a free port), not the proxy's."""
    handler = functools.partial(QuietHandler, directory=str(react_app_dist))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def cors_proxy(
    livekit_server: LiveKitServer, named_worker: AgentWorker, app_origin: str
) -> Iterator[Proxy]:
    """A real proxy that lets the app's origin call it (PROXY_CORS_ORIGINS)."""
    server = Proxy(
        livekit_server,
        named_worker.agent_name,
        named_worker.health_url,
        PROXY_CORS_ORIGINS=app_origin,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def start_call(page: Page, origin: str, **params: str) -> list[str]:
    """Open the app with `params`, click Start call; returns the page's console, as it grows."""
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        console.append(f"{message.type}: {message.text}")

    page.on("console", keep)
    page.goto(f"{origin}/?{urlencode(params)}")
    expect(status(page)).to_have_attribute("data-connection-state", "disconnected")
    page.get_by_role("button", name="Start call").click()
    return console


def status(page: Page) -> Locator:
    """The element that shows the session's state (and carries it as data attributes)."""
    return page.locator("#status")


def expect_status(
    page: Page, console: list[str], name: str, value: str, timeout: int = JOIN_TIMEOUT_MS
) -> None:
    """Wait for one data attribute of #status (or an error the app shows, which ends the
    wait at once); on failure, show all of them and the page's console."""
    key = "".join(w if i == 0 else w.title() for i, w in enumerate(name.split("-")))
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "([key, value]) => { const d = document.querySelector('#status').dataset;"
            " return d[key] === value || d.error; }",
            arg=[key, value],
            timeout=timeout,
        )
    shown: dict[str, str] = page.evaluate("({...document.querySelector('#status').dataset})")
    if shown.get(key) != value:
        tail = "\n".join(console[-30:])
        raise AssertionError(
            f"data-{name} is not {value!r}; the app shows {shown}\nits console:\n{tail}"
        )


def test_session_shows_the_agent_joined(
    page: Page, cors_proxy: Proxy, app_origin: str, named_worker: AgentWorker, room_name: str
) -> None:
    """useSession with the worker's agent name: connected, and the agent joins and listens."""
    console = start_call(
        page, app_origin, proxy=cors_proxy.url, agentName=named_worker.agent_name, room=room_name
    )
    expect_status(page, console, "connection-state", "connected")
    expect_status(page, console, "agent-joined", "true")
    expect_status(page, console, "agent-state", "listening")
    expect(page.locator("#agent")).to_have_text("listening")
    expect(page.locator("#participants")).to_contain_text("AGENT")
    expect(status(page)).to_have_attribute("data-room", room_name)
    expect(page.locator("#failure")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "react-app-joined.png"), full_page=True)


def test_wrong_agent_name_session_fails_and_doctor_names_the_mismatch(
    page: Page,
    cors_proxy: Proxy,
    app_origin: str,
    livekit_server: LiveKitServer,
    named_worker: AgentWorker,
    room_name: str,
) -> None:
    """A name no worker has: the session says the agent did not join, the doctor says why."""
    wrong = "interviewer-typo"
    console = start_call(
        page,
        app_origin,
        proxy=cors_proxy.url,
        agentName=wrong,
        room=room_name,
        timeout=str(AGENT_TIMEOUT_MS),
    )
    expect_status(page, console, "connection-state", "connected")
    expect_status(page, console, "agent-state", "failed", timeout=AGENT_TIMEOUT_MS + 10_000)
    expect(page.locator("#failure")).to_have_text("Agent did not join the room.")
    expect(status(page)).to_have_attribute("data-agent-joined", "false")

    # The user is still in the room, as they would be when they run the doctor.
    code, d = doctor(
        livekit_server,
        "--room",
        room_name,
        "--agent-name",
        wrong,
        "--worker-url",
        named_worker.health_url,
    )
    assert code == 1, d
    assert d["cause"] == "name_mismatch", d
    assert wrong in d["verdict"] and named_worker.agent_name in d["verdict"], d["verdict"]


def test_proxy_without_the_apps_origin_session_never_connects(
    page: Page, proxy: Proxy, app_origin: str, named_worker: AgentWorker, room_name: str
) -> None:
    """A proxy that does not allow the app's origin: the token fetch fails, no connection."""
    console = start_call(
        page, app_origin, proxy=proxy.url, agentName=named_worker.agent_name, room=room_name
    )
    expect(page.locator("#error")).to_have_text("Failed to fetch", timeout=10_000)
    expect_status(page, console, "connection-state", "disconnected")
    assert any("CORS policy" in line for line in console), console
