"""The pytest plugin as a user meets it: a throw-away agent project of its own (its own venv,
this checkout as a path dependency, livekit-agents of its own), whose tests use only the
public `devstack` fixture, run by its own pytest as a subprocess; once with Docker, once
with the binary. Its outcome is what is asserted: the join passes, a typo fails naming the
registered name, a crashing entrypoint fails with its exception, nothing is left running."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from agent.project import find_uv
from devstack.local_server import Runtime, docker_engine_up
from devstack.processes import ROOT
from devstack.settings import load_settings
from tests.conftest import require_docker

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent / "user_project"
DOCS = ROOT / "docs" / "pytest-plugin.md"
PYPROJECT = f"""\
[project]
name = "my-agent"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["livekit-agents==1.8.9"]

[dependency-groups]
dev = ["livekit-devstack @ file://{ROOT}"]

[tool.uv]
package = false

[tool.pytest.ini_options]
devstack_agent = "agent.py"
"""
# Beyond the docs' test: what else a user would check, through the public fixture only.
MORE_TESTS = """\
def test_a_typo_fails_naming_the_registered_name(devstack):
    result = devstack.join(agent_name="my-interviewr", timeout=5)
    assert result.agent_joined, result.diagnosis


def test_token_dispatch_joins_and_the_agent_answers(devstack):
    result = devstack.join(dispatch="token", timeout=10)
    assert result.agent_joined, result.diagnosis
    assert devstack.agent_name == "my-interviewer"
    assert devstack.url.startswith("ws://") and devstack.api_key and devstack.api_secret
    assert devstack.say("hello there") == "You said: hello there"
    print(f"join: {result.latency_s:.3f} s")
"""


def docs_example() -> str:
    """The test the docs page tells the user to copy: its first python block."""
    return re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)  # type: ignore[union-attr]


@dataclass
class Run:
    outcomes: dict[str, str]  # test name -> passed | failed
    messages: dict[str, str]  # failed test name -> its failure message
    output: str
    seconds: float


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("my-agent")
    shutil.copy(HERE / "agent.py", project / "agent.py")
    shutil.copy(HERE / "crashing_agent.py", project / "crashing_agent.py")
    (project / "pyproject.toml").write_text(PYPROJECT)
    tests = project / "tests"
    tests.mkdir()
    (tests / "test_agent_joins.py").write_text(docs_example())
    (tests / "test_more.py").write_text(MORE_TESTS)
    started = time.monotonic()
    synced = subprocess.run(
        [find_uv(load_settings().cache_dir), "sync", "--quiet"],
        cwd=project, env=user_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr[-3000:]
    print(f"\nthe user project's venv: {time.monotonic() - started:.1f} s")
    return project


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: nothing of the stack's own environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIVEKIT_", "DEVSTACK_", "AGENT_", "PYTEST_"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")
    }
    return {**env, **extra}


def run_pytest(project: Path, runtime: Runtime, *args: str) -> Run:
    report = project / f"report-{runtime}-{time.monotonic_ns()}.xml"
    started = time.monotonic()
    done = subprocess.run(
        [str(project / ".venv/bin/pytest"), "-p", "no:cacheprovider", "-s", "--durations=0",
         f"--junitxml={report}", *args],
        cwd=project, env=user_env(LIVEKIT_RUNTIME=runtime),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert report.exists(), output[-4000:]
    outcomes, messages = {}, {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        outcomes[case.get("name", "")] = "failed" if failure is not None else "passed"
        if failure is not None:
            messages[case.get("name", "")] = failure.get("message", "") + (failure.text or "")
    return Run(outcomes, messages, output, seconds)


def left_running(project: Path) -> list[str]:
    """Processes of the user's run still alive: its worker (the runner of its agent file)
    and a livekit-server binary of the plugin's (its config in a devstack-pytest- dir)."""
    left = []
    for p in psutil.process_iter(["cmdline"]):
        line = " ".join(p.info["cmdline"] or [])
        if str(project) in line or "devstack-pytest-" in line:
            left.append(line[:160])
    return left


def containers() -> set[str]:
    done = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True, check=False)
    return set(done.stdout.split())


def test_the_wheel_adds_only_the_devstack_package(user_project: Path) -> None:
    """A top-level agent, proxy or doctor in site-packages would shadow the user's own
    (agent-starter-python's tests `from agent import Assistant`)."""
    (record,) = user_project.glob(".venv/lib/python*/site-packages/livekit_devstack-*/RECORD")
    top = {line.split("/", 1)[0] for line in record.read_text().splitlines()}
    top = {t for t in top if not t.endswith(".dist-info") and not t.startswith("..")}
    assert top == {"devstack"}, top
    python = str(user_project / ".venv/bin/python")
    for name in ("agent", "proxy", "doctor", "bench", "supervisor"):
        found = subprocess.run(
            [python, "-c", f"import importlib.util as u; print(u.find_spec({name!r}))"],
            cwd="/", capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert found.stdout.strip() == "None", (name, found.stdout)


@pytest.mark.parametrize("runtime", ["docker", "binary"])
def test_the_users_own_tests_pass_and_fail_as_they_should(
    user_project: Path, runtime: Runtime
) -> None:
    if runtime == "docker":
        require_docker()
    before = containers() if docker_engine_up() else set()
    run = run_pytest(user_project, runtime, "tests")
    print(f"\n[{runtime}] {run.seconds:.1f} s for the run")
    for line in run.output.splitlines():
        if " setup " in line or "join:" in line:
            print(f"[{runtime}] {line.strip()}")
    assert run.outcomes == {
        "test_my_agent_joins": "passed",
        "test_a_typo_fails_naming_the_registered_name": "failed",
        "test_token_dispatch_joins_and_the_agent_answers": "passed",
    }, run.output[-4000:]
    typo = run.messages["test_a_typo_fails_naming_the_registered_name"]
    assert "name_mismatch" in typo and "did you mean `my-interviewer`" in typo, typo
    assert not left_running(user_project), left_running(user_project)
    if docker_engine_up():
        assert containers() <= before, "the plugin left a container running"


def test_a_crashing_entrypoint_fails_with_its_exception(user_project: Path) -> None:
    run = run_pytest(
        user_project, "binary", "--devstack-agent", "crashing_agent.py", "tests/test_agent_joins.py"
    )
    assert run.outcomes == {"test_my_agent_joins": "failed"}, run.output[-4000:]
    message = run.messages["test_my_agent_joins"]
    assert "job_crashed" in message, message
    assert "RuntimeError: INTERVIEW_DATABASE_URL is not set" in message, message
    assert not left_running(user_project), left_running(user_project)
