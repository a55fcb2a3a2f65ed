"""Headless Debian Chromium driven by Playwright, with a fake microphone that speaks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from devstack.chromium import CHROMIUM, launch_chromium
from tests.support.speech import read_wav, speech_wav, write_wav


@pytest.fixture(scope="session")
def fake_mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech then 1.5 s of silence, 16-bit mono: Chromium loops it as the microphone, and
    the pause lets the agent's VAD close each utterance."""
    directory = tmp_path_factory.mktemp("mic")
    samples, rate = read_wav(speech_wav(directory))
    padded = np.concatenate([samples, np.zeros(int(rate * 1.5), dtype=np.int16)])
    return write_wav(directory / "mic.wav", padded, rate)


# Module scope, not session: sync Playwright keeps an event loop running on this thread
# while it is open, and the asyncio tests that follow need the thread to themselves.
@pytest.fixture(scope="module")
def browser(fake_mic_wav: Path) -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: scripts/setup installs Debian's chromium")
    with sync_playwright() as pw:
        b = launch_chromium(pw, fake_mic_wav)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    yield p
    context.close()
