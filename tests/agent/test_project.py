"""Finding the user's agent project and building its worker's environment (pure logic on
files in a temporary folder; tests/agent/test_agent_project.py runs real projects)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.crash_lines import imported_plugins, plugin_package
from agent.project import ProjectError, find_project, project_environment
from devstack.settings import load_settings

pytestmark = pytest.mark.unit


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_uv_project_with_the_templates_layout(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "a"\nversion = "0"\n')
    write(tmp_path / "src" / "agent.py")
    project = find_project(str(tmp_path), None)
    assert (project.kind, project.shown_file) == ("uv", "src/agent.py")
    assert project.add_packages.startswith("uv add {packages}")


def test_agent_file_is_relative_to_the_project(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "livekit-agents\n")
    write(tmp_path / "bots" / "support.py")
    project = find_project(str(tmp_path), "bots/support.py")
    assert (project.kind, project.shown_file) == ("requirements", "bots/support.py")


def test_the_digest_follows_the_requirements_contents(tmp_path: Path) -> None:
    requirements = write(tmp_path / "requirements.txt", "livekit-agents==1.8.9\n")
    write(tmp_path / "agent.py")
    before = find_project(str(tmp_path), None).digest
    requirements.write_text("livekit-agents==1.8.8\n")
    assert find_project(str(tmp_path), None).digest != before


def test_a_folder_with_no_environment_is_one_line(tmp_path: Path) -> None:
    write(tmp_path / "agent.py")
    with pytest.raises(
        ProjectError, match=re.escape("no pyproject.toml with a [project] table, no .venv")
    ):
        find_project(str(tmp_path), None)
    write(tmp_path / "requirements.txt")
    with pytest.raises(ProjectError, match=re.escape("AGENT_FILE='nope.py': no such file")):
        find_project(str(tmp_path), "nope.py")


def test_the_stack_wins_and_a_cloud_key_goes_to_inference(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt")
    write(tmp_path / "agent.py")
    write(
        tmp_path / ".env.local",
        "LIVEKIT_URL=wss://p.livekit.cloud\nLIVEKIT_API_KEY=APIk\nLIVEKIT_API_SECRET=s3\n"
        "DEEPGRAM_API_KEY=dg\n",
    )
    settings = load_settings()
    env, notes = project_environment(find_project(str(tmp_path), None), settings)
    assert env["LIVEKIT_URL"] == settings.livekit_url
    assert env["LIVEKIT_API_SECRET"] == settings.livekit_api_secret
    assert (env["LIVEKIT_INFERENCE_API_KEY"], env["LIVEKIT_INFERENCE_API_SECRET"]) == ("APIk", "s3")
    assert env["DEEPGRAM_API_KEY"] == "dg"
    assert not any("s3" in note for note in notes), "a secret is never logged"


def test_without_a_cloud_key_inference_goes_to_the_gateway(tmp_path: Path) -> None:
    """DEVSTACK_INFERENCE=auto with no Cloud key: the stack's offline gateway, its keys."""
    write(tmp_path / "requirements.txt")
    write(tmp_path / "agent.py")
    settings = load_settings(devstack_inference="auto")
    env, notes = project_environment(find_project(str(tmp_path), None), settings)
    assert env["LIVEKIT_INFERENCE_URL"] == env["LIVEKIT_REMOTE_EOT_URL"] == settings.gateway_url
    assert env["LIVEKIT_INFERENCE_API_KEY"] == settings.livekit_api_key
    assert any("offline gateway" in n for n in notes)
    assert not any(settings.livekit_api_secret in n for n in notes), "a secret is never logged"


def test_with_inference_off_it_is_said_not_to_work(tmp_path: Path) -> None:
    """DEVSTACK_INFERENCE=off and no Cloud key: no Inference, as a self-hosted server."""
    write(tmp_path / "requirements.txt")
    write(tmp_path / "agent.py")
    settings = load_settings(devstack_inference="off")
    env, notes = project_environment(find_project(str(tmp_path), None), settings)
    assert "LIVEKIT_INFERENCE_API_KEY" not in env and "LIVEKIT_INFERENCE_URL" not in env
    assert any("LiveKit Inference" in n and "cannot work here" in n for n in notes)


def test_every_plugin_a_file_imports_is_named_as_its_package() -> None:
    source = (
        "from livekit.plugins import ai_coustics, noise_cancellation\n"
        "from livekit.plugins.turn_detector.multilingual import MultilingualModel\n"
        "import livekit.plugins.silero\nfrom livekit.agents import cli\n"
    )
    found = imported_plugins(source)
    assert found == [
        "livekit.plugins.ai_coustics",
        "livekit.plugins.noise_cancellation",
        "livekit.plugins.turn_detector",
        "livekit.plugins.silero",
    ]
    assert plugin_package(found[0]) == "livekit-plugins-ai-coustics"
