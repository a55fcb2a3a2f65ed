"""A spoken conversation as a user's test (`devstack.converse()`, livekit-devstack[voice]):
a throw-away voice agent project of its own (its own venv with the extra, this checkout as
a path dependency), whose agent names its models as Inference strings and greets. Its test
file is the docs page's spoken example, read from the page, run by the project's own
pytest, once with Docker and once with the binary. Also: an agent that never answers fails
naming why, and nothing is left running."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from agent.project import find_uv
from devstack.local_server import Runtime, docker_engine_up
from devstack.processes import ROOT
from devstack.settings import load_settings
from tests.conftest import require_docker
from tests.devstack.test_pytest_plugin import containers, left_running, run_pytest, user_env

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent / "voice_project"
DOCS = ROOT / "docs" / "pytest-plugin.md"
PYPROJECT = f"""\
[project]
name = "my-voice-agent"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["livekit-agents==1.8.9", "livekit-plugins-silero==1.8.9"]

[dependency-groups]
dev = ["livekit-devstack[voice] @ file://{ROOT}"]

[tool.uv]
package = false

[tool.pytest.ini_options]
devstack_agent = "agent.py"
"""
# Beyond the docs' test, through the public fixture only.
MORE_TESTS = """\
import sys
import time


def test_talk_answers_and_the_engines_stay_out_of_this_process(devstack):
    started = time.monotonic()
    turn = devstack.talk("Please book a table for two at eight.")
    assert "table" in turn.heard.lower(), turn
    assert "table" in turn.reply.text.lower() and turn.reply.audio_s > 0, turn
    assert turn.session.agent_identity and turn.session.errors == [], turn
    engines = {"faster_whisper", "ctranslate2", "onnxruntime", "piper", "fastapi"}
    assert not engines & set(sys.modules), engines & set(sys.modules)
    print(f"talk: {time.monotonic() - started:.2f} s, latency {turn.latency_s:.2f} s")


def test_a_typo_fails_naming_the_registered_name(devstack):
    with devstack.converse(agent_name="my-voice-agnet", timeout=5) as call:
        call.say("Hello?")
"""
NEVER_ANSWERS = """\
def test_an_agent_that_never_answers(devstack):
    with devstack.converse() as call:
        call.say("Hello, can you hear me?", timeout=15)
"""


def docs_example() -> str:
    """The spoken test the docs page tells the user to copy: its python block that
    converses."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    (spoken,) = [b for b in blocks if "devstack.converse(" in b]
    return spoken


@pytest.fixture(scope="module")
def voice_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("my-voice-agent")
    for name in ("agent.py", "deaf_agent.py"):
        shutil.copy(HERE / name, project / name)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "tests").mkdir()
    (project / "tests" / "test_my_agent_talks.py").write_text(docs_example())
    (project / "tests" / "test_more.py").write_text(MORE_TESTS)
    (project / "deaf").mkdir()
    (project / "deaf" / "test_never_answers.py").write_text(NEVER_ANSWERS)
    started = time.monotonic()
    synced = subprocess.run(
        [find_uv(load_settings().cache_dir), "sync", "--quiet"],
        cwd=project, env=user_env(), capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr[-3000:]
    print(f"\nthe voice project's venv: {time.monotonic() - started:.1f} s")
    return project


def test_the_wheel_carries_the_gateway_inside_devstack(voice_project: Path) -> None:
    (record,) = voice_project.glob(".venv/lib/python*/site-packages/livekit_devstack-*/RECORD")
    files = {line.split(",", 1)[0] for line in record.read_text().splitlines()}
    assert "devstack/_stack/gateway/__main__.py" in files, sorted(files)[:20]
    assert not any(f.startswith("gateway/") for f in files)


@pytest.mark.parametrize("runtime", ["docker", "binary"])
def test_the_docs_spoken_example_passes(voice_project: Path, runtime: Runtime) -> None:
    if runtime == "docker":
        require_docker()
    before = containers() if docker_engine_up() else set()
    run = run_pytest(voice_project, runtime, "tests")
    print(f"\n[{runtime}] {run.seconds:.1f} s for the run")
    for line in run.output.splitlines():
        if " setup " in line or " call " in line or "talk:" in line:
            print(f"[{runtime}] {line.strip()}")
    assert run.outcomes == {
        "test_my_agent_talks": "passed",
        "test_talk_answers_and_the_engines_stay_out_of_this_process": "passed",
        "test_a_typo_fails_naming_the_registered_name": "failed",
    }, run.output[-6000:]
    typo = run.messages["test_a_typo_fails_naming_the_registered_name"]
    assert "name_mismatch" in typo and "registered as `my-voice-agent`" in typo, typo
    assert not left_running(voice_project), left_running(voice_project)
    if docker_engine_up():
        assert containers() <= before, "the plugin left a container running"


def test_an_agent_that_never_answers_fails_naming_why(voice_project: Path) -> None:
    run = run_pytest(voice_project, "binary", "--devstack-agent", "deaf_agent.py", "deaf")
    assert run.outcomes == {"test_an_agent_that_never_answers": "failed"}, run.output[-6000:]
    message = run.messages["test_an_agent_that_never_answers"]
    assert "the agent heard nothing" in message, message
    assert "session_failed" in message and "401 Unauthorized" in message, message
    assert not left_running(voice_project), left_running(voice_project)
