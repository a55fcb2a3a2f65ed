"""Why a process exited, from the last lines it printed (pure logic over real lines)."""

from __future__ import annotations

import pytest

from devstack.crash import EDIT_FIX, agent_crash, reason_of

pytestmark = pytest.mark.unit

RUNNER_LINE = (
    "agent: your agent src/agent.py (AGENT_DIR) failed to load: src/agent.py:8: ImportError: "
    "cannot import name 'ai_coustics' from 'livekit.plugins' (unknown location); not installed "
    "here: livekit-plugins-ai-coustics; fix: uv add livekit-plugins-ai-coustics (in /p)"
)


def test_the_runners_line_carries_its_own_fix() -> None:
    reason = reason_of(["[agent] environment ready in 0.2 s", RUNNER_LINE])
    assert reason is not None
    assert reason.error.endswith("not installed here: livekit-plugins-ai-coustics")
    assert reason.fix == "uv add livekit-plugins-ai-coustics (in /p)"


def test_a_traceback_gives_its_last_line_and_a_package_to_add() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "agent.py", line 3, in <module>',
        "\x1b[31mModuleNotFoundError: No module named 'livekit.plugins.noise_cancellation'\x1b[0m",
        "[supervisor] agent: exited with code 1; restart 1 in 1 s",
    ]
    reason = reason_of(lines)
    assert reason is not None
    assert (
        reason.error == "ModuleNotFoundError: No module named 'livekit.plugins.noise_cancellation'"
    )
    assert "livekit-plugins-noise-cancellation" in reason.fix


def test_an_exit_with_nothing_said_has_no_reason() -> None:
    assert reason_of(["INFO starting worker", ""]) is None
    assert reason_of(["ValueError: bad value"]).fix == EDIT_FIX  # type: ignore[union-attr]


def test_the_crash_looping_agent_is_named_before_one_restarting() -> None:
    processes = [
        {"name": "livekit", "state": "restarting", "last_error": "port taken"},
        {"name": "agent.1", "state": "restarting", "last_error": "a", "fix": "f1"},
        {"name": "agent.2", "state": "crash-looping", "last_error": "b", "fix": "f2"},
        {"name": "agent.3", "state": "running"},
    ]
    crash = agent_crash(processes)
    assert crash is not None and (crash["name"], crash["error"]) == ("agent.2", "b")
    assert agent_crash([processes[0], processes[3]]) is None
