"""README's tour, as `make dev` runs it by default: the built-in agent in a spoken
conversation through the offline gateway. Chromium's fake microphone speaks, and the debug
page shows the person's words, the agent's answer, and the agent's audio."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from devstack.local_server import LiveKitServer
from devstack.processes import AgentWorker, Gateway, Proxy
from devstack.settings import load_settings
from tests.browser.test_debug_page import ARTIFACTS, expect_state, open_page
from tests.support.speech import read_wav, speech_wav, write_wav

pytestmark = pytest.mark.browser

SENTENCE = "What is the weather like in Paris today?"


@pytest.fixture(scope="module")
def fake_mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A person who listens to the greeting, says one sentence and waits for the answer:
    Chromium plays its fake microphone from the moment the page publishes it and loops it,
    and the default one's 1.5 s pauses are too short for any answer before the person
    speaks again (and interrupts it)."""
    directory = tmp_path_factory.mktemp("tour-mic")
    samples, rate = read_wav(speech_wav(directory, SENTENCE))
    greeting = np.zeros(rate * 12, dtype=np.int16)  # the greeting takes about 6 s
    padded = np.concatenate([greeting, samples, np.zeros(rate * 40, dtype=np.int16)])
    return write_wav(directory / "mic.wav", padded, rate)


@pytest.fixture(scope="module")
def tour(livekit_server: LiveKitServer, gateway: Gateway) -> Iterator[Proxy]:
    """The built-in worker in the default mode (no AGENT_MODE given to it) and a proxy."""
    assert load_settings().agent_mode == "inference", "the tour runs the default mode"
    worker = AgentWorker(
        livekit_server,
        f"tour-{uuid.uuid4().hex[:4]}",
        **{"AGENT_MODE": "inference", **gateway.env_for_workers()},
    )
    proxy = Proxy(livekit_server, worker.agent_name, worker.health_url)
    try:
        worker.wait_registered(timeout=120)
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()
        worker.stop()


def test_the_tour_is_a_conversation(page: Page, tour: Proxy, room_name: str) -> None:
    open_page(page, tour, room=room_name, mode="explicit")
    expect_state(page, "joined")
    transcript = page.locator("#transcript")
    # The greeting, said by the agent and shown as the agent's.
    expect(transcript.locator(".from.agent").first).to_be_visible(timeout=60_000)
    expect(transcript).to_contain_text("stand-in model", timeout=60_000)
    # The fake microphone's sentence, heard by the gateway's Whisper, then said back.
    expect(transcript).to_contain_text("You said:", timeout=90_000)
    page.wait_for_function("window.devstack.agentLevelPeak > 0.05", timeout=30_000)
    answer = transcript.locator("li", has_text="You said:").first.inner_text().lower()
    assert "weather" in answer and "paris" in answer, answer
    # The person's words: one line per utterance, interim guesses replaced by the final.
    said = transcript.locator("li", has_text="Paris").all_inner_texts()
    assert len(said) == 2, said  # the person's line and the agent's answer
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "debug-conversation.png"), full_page=True)
