"""download-files' environment: the hub library's offline mode only when the hub's host
does not resolve (this machine: huggingface.co does not), so an offline start does not
spend minutes in retries; a reachable mirror, or the project's own choice, is left as is."""

from __future__ import annotations

import pytest

from agent.model_hub import offline_env

pytestmark = pytest.mark.unit


def test_an_unresolvable_hub_runs_the_step_offline_and_says_why() -> None:
    env, note = offline_env({"HF_ENDPOINT": "https://hub.invalid", "KEEP": "1"})
    assert env == {"HF_ENDPOINT": "https://hub.invalid", "KEEP": "1", "HF_HUB_OFFLINE": "1"}
    assert "hub.invalid" in note and "HF_HUB_OFFLINE=1" in note


def test_a_reachable_mirror_or_the_projects_own_choice_is_left_alone() -> None:
    assert offline_env({"HF_ENDPOINT": "http://localhost:8080"}) == (
        {"HF_ENDPOINT": "http://localhost:8080"},
        "",
    )
    chosen = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "https://hub.invalid"}
    assert offline_env(chosen) == (chosen, "")
