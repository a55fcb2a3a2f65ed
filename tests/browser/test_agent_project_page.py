"""A project whose agent imports plugins it does not install: the debug page, /api/health
and the doctor name the import and the packages, the supervisor stops restarting it, and
saving the fixed file brings the agent, in a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Proxy
from tests.browser.test_debug_page import ARTIFACTS, expect_state, open_page
from tests.support.agent_project import (
    copy_project,
    registered_after,
    start_project_worker,
    wait_for_state,
)
from tests.support.doctor_cli import doctor, stack_state_env

pytestmark = pytest.mark.browser

AGENT = "my-project-agent"
PACKAGES = "livekit-plugins-ai-coustics livekit-plugins-noise-cancellation"
BROKEN_IMPORT = "from livekit.plugins import ai_coustics, noise_cancellation\n"
# The runner's one line per failed start.
FAILED_TO_LOAD = "agent: your agent src/agent.py (AGENT_DIR) failed to load: src/agent.py:8:"


@pytest.fixture
def broken_project(tmp_path: Path) -> Path:
    """The fixture project with two plugins imported and neither in its dependencies, as
    agent-starter-python is when its noise cancellation is not installed."""
    project = copy_project(tmp_path / "my-agent")
    agent = project / "src" / "agent.py"
    source = agent.read_text()
    agent.write_text(source.replace("import humanize\n", "import humanize\n" + BROKEN_IMPORT))
    return project


@pytest.fixture
def project_stack(
    livekit_server: LiveKitServer, broken_project: Path
) -> Iterator[tuple[AgentWorker, Proxy]]:
    worker = start_project_worker(livekit_server, broken_project, AGENT)
    proxy = Proxy(livekit_server, AGENT, worker.health_url)
    try:
        proxy.wait_ready()
        yield worker, proxy
    finally:
        proxy.stop()
        worker.stop()


def test_missing_plugins_are_named_and_fixing_the_file_brings_the_agent(
    page: Page,
    livekit_server: LiveKitServer,
    broken_project: Path,
    project_stack: tuple[AgentWorker, Proxy],
    room_name: str,
) -> None:
    """Crash-looping with both packages named on the page, in /api/health and by the
    doctor; no endless restart; the fix restarts the worker and the agent joins."""
    worker, proxy = project_stack
    looping = wait_for_state(worker, "crash-looping")
    error, fix = str(looping["last_error"]), str(looping["fix"])
    assert "cannot import name 'ai_coustics' from 'livekit.plugins'" in error
    assert "livekit-plugins-ai-coustics, livekit-plugins-noise-cancellation" in error
    assert f"uv add {PACKAGES}" in fix

    health = httpx.get(f"{proxy.url}/api/health", timeout=10).json()
    assert health["agent_crash"]["state"] == "crash-looping"
    assert health["agent_crash"]["error"] == error and health["agent_crash"]["fix"] == fix

    code, result = doctor(
        livekit_server,
        *("--agent-name", AGENT, "--worker-url", worker.health_url),
        env=stack_state_env(livekit_server),
    )
    assert code == 1
    assert result["cause"] == "worker_crashing", result["verdict"]
    assert "livekit-plugins-noise-cancellation" in result["verdict"]
    assert "start the worker" not in result["verdict"]

    page.goto(f"{proxy.url}/debug?agent={AGENT}")
    expect(page.locator("#pill-worker")).to_contain_text("crash-looping", timeout=10_000)
    expect(page.locator("#pill-worker")).to_contain_text("livekit-plugins-ai-coustics")
    expect(page.locator("#crash")).to_contain_text(f"uv add {PACKAGES}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "project-crash-looping.png"), full_page=True)

    # Not restarted again while nothing changed: still the same two failed starts.
    starts = [line for line in worker.lines if line.startswith(FAILED_TO_LOAD)]
    assert len(starts) == 2, worker.output[-3000:]
    assert worker.supervised_state()["since"] == looping["since"]

    agent_file = broken_project / "src" / "agent.py"
    agent_file.write_text(agent_file.read_text().replace(BROKEN_IMPORT, ""))
    registered_after(worker, 0.0)
    expect(page.locator("#pill-worker")).to_contain_text("registered", timeout=15_000)
    expect(page.locator("#crash")).to_be_hidden()
    open_page(page, proxy, room=room_name, mode="explicit", agent=AGENT)
    expect_state(page, "joined")


@pytest.mark.parametrize(
    ("agent_file", "agent", "event", "verdict"),
    [
        (
            "src/inference_agent.py",
            "my-inference-agent",
            "agent session failing",
            "LiveKit Inference",
        ),
        (
            "src/crash_before_connect.py",
            "my-crashing-agent",
            "agent job crashed",
            "FIXTURE_DATABASE_URL",
        ),
    ],
    ids=["session-failed", "job-crashed"],
)
def test_a_failure_after_dispatch_shows_on_the_page(
    page: Page,
    livekit_server: LiveKitServer,
    tmp_path: Path,
    room_name: str,
    agent_file: str,
    agent: str,
    event: str,
    verdict: str,
) -> None:
    """The page logs what the worker's own log says of the room's job, and shows the
    doctor's verdict with its fix, whether the agent joined first (its session fails) or
    never did (its job crashed), without waiting for the join timeout."""
    project = copy_project(tmp_path / "my-agent")
    worker = start_project_worker(livekit_server, project, agent, agent_file)
    proxy = Proxy(livekit_server, agent, worker.health_url)
    try:
        proxy.wait_ready()
        registered_after(worker, 0.0)
        open_page(page, proxy, room=room_name, mode="explicit", agent=agent, timeout="60")
        page.wait_for_function(
            f"window.devstack.log.some(e => e.event === {event!r})", timeout=60_000
        )
        expect(page.locator("#verdict")).to_contain_text(verdict, timeout=15_000)
        expect(page.locator("#checks")).to_contain_text("agent's jobs")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"project-{event.replace(' ', '-')}.png"))
    finally:
        proxy.stop()
        worker.stop()
