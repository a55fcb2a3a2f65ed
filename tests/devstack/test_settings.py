"""One settings object for every process: the same defaults as .env.example, derived
values that follow their source, and one line naming the variable for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from devstack.processes import OWN_PREFIXES, ROOT
from devstack.settings import Settings, SettingsError, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of ours from the shell, and no env file unless a test writes one."""
    import os

    for key in list(os.environ):
        if key.startswith(OWN_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DEVSTACK_ENV_FILE", "")


def test_defaults_are_the_values_of_env_example() -> None:
    """With no .env and no variables, every process runs on what .env.example lists."""
    example = dotenv_values(ROOT / ".env.example")
    settings = load_settings()
    for var, value in example.items():
        field = var.lower()
        assert field in Settings.model_fields, f"{var} in .env.example is not a setting"
        default = getattr(settings, field)
        shown = "" if default is None else str(default)
        assert shown == (value or ""), f"{var}: .env.example says {value!r}, default is {shown!r}"


def test_every_setting_is_documented_in_env_example() -> None:
    example = {k.lower() for k in dotenv_values(ROOT / ".env.example")}
    text = (ROOT / ".env.example").read_text()
    for field in Settings.model_fields:
        if field == "env_file_values":
            continue
        assert field in example or f"# {field.upper()}=" in text, f"{field.upper()} undocumented"


def test_health_url_follows_the_agent_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing only AGENT_HTTP_PORT moves the health URL the proxy and doctor read."""
    monkeypatch.setenv("AGENT_HTTP_PORT", "8099")
    assert load_settings().worker_health_url == "http://127.0.0.1:8099"
    monkeypatch.setenv("AGENT_HEALTH_URL", "http://10.0.0.5:8081")
    assert load_settings().worker_health_url == "http://10.0.0.5:8081"


def test_empty_agent_name_means_unnamed_but_other_empties_mean_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVEKIT_AGENT_NAME", "")
    monkeypatch.setenv("AGENT_LOAD_THRESHOLD", "")
    monkeypatch.setenv("AGENT_HTTP_PORT", "")
    settings = load_settings()
    assert settings.livekit_agent_name == ""
    assert settings.agent_load_threshold is None
    assert settings.agent_http_port == 8081


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [
        ("AGENT_HTTP_PORT", "abc", "valid integer"),
        ("AGENT_LOAD_THRESHOLD", "2", "less than or equal to 1"),
        ("AGENT_JOB_EXECUTOR", "fork", "'auto', 'process', 'thread' or 'loop'"),
        ("LIVEKIT_URL", "localhost:7880", "ws://"),
        ("AGENT_MODE", "cloud", "'loopback', 'openai', 'inference' or 'auto'"),
        ("PROXY_PORT", "70000", "less than or equal to 65535"),
    ],
)
def test_bad_value_is_one_line_with_variable_value_and_example(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, words: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{var}={value!r}:") and words in message
    assert f"(example: {var}=" in message


def test_a_shell_openai_key_does_not_leave_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stray OPENAI_API_KEY in the shell keeps the offline conversation (the default), and
    the reason says so; so does loopback."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-shell")
    mode, why = load_settings().mode_and_reason()
    assert mode == "inference" and "set AGENT_MODE=openai" in why
    monkeypatch.setenv("AGENT_MODE", "auto")
    assert load_settings().mode == "inference"
    monkeypatch.setenv("AGENT_MODE", "loopback")
    mode, why = load_settings().mode_and_reason()
    assert mode == "loopback" and "set AGENT_MODE=openai" in why


def test_auto_mode_follows_a_key_in_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text("AGENT_MODE=auto\nOPENAI_API_KEY=sk-in-the-file\n")
    monkeypatch.setenv("DEVSTACK_ENV_FILE", str(env))
    mode, why = load_settings().mode_and_reason()
    assert mode == "openai" and "env file" in why


def test_openai_mode_needs_a_key_unless_a_local_server_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENT_MODE", "openai")
    with pytest.raises(SettingsError, match="OPENAI_BASE_URL"):
        load_settings().require_openai()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    load_settings().require_openai()  # a local OpenAI-compatible server needs no key


def test_the_secret_is_never_in_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_SECRET", "very-distinctive-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-distinctive")
    text = repr(load_settings())
    assert "very-distinctive-secret" not in text and "sk-distinctive" not in text


@pytest.mark.parametrize(
    ("env", "executor", "idle"),
    [
        ({"AGENT_MODE": "loopback"}, "loop", 4),
        ({}, "process", 1),  # the default: a conversation through Inference
        ({"AGENT_MODE": "openai"}, "process", 1),
        ({"AGENT_FILE": "my_agent.py"}, "process", 1),
        ({"AGENT_JOB_EXECUTOR": "process"}, "process", 1),
        ({"AGENT_JOB_EXECUTOR": "thread", "AGENT_IDLE_PROCESSES": "0"}, "thread", 0),
        ({"AGENT_JOB_EXECUTOR": "loop", "AGENT_MODE": "openai"}, "loop", 4),
    ],
)
def test_jobs_share_the_worker_only_for_the_loopback_agent(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], executor: str, idle: int
) -> None:
    """`auto`: loopback jobs share one process and one loop; a conversation (Inference or
    the OpenAI pipeline) and your own file get a process each, as livekit-agents does; an explicit value always wins."""
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    settings = load_settings()
    assert (settings.job_executor, settings.idle_processes) == (executor, idle)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("localhost", "http://localhost:9000"),
    ],
)
def test_workers_upload_sessions_to_the_proxy_where_it_listens(host: str, url: str) -> None:
    assert Settings(proxy_host=host, proxy_port=9000).observability_url == url
