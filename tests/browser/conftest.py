"""Headless Debian Chromium driven by Playwright, with a fake microphone that speaks."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.support.speech import read_wav, speech_wav

CHROMIUM = "/usr/bin/chromium"
# Features to switch off on top of Playwright's own list. Chromium honours only the last
# --disable-features flag, so the two lists must be merged into one.
EXTRA_DISABLED_FEATURES = ["WebRtcHideLocalIpsWithMdns"]
FLAGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # Offline machine: no background calls home (they are refused, many at a time).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
    "--no-sandbox",
]


@pytest.fixture(scope="session")
def fake_mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech then 1.5 s of silence, 16-bit mono: Chromium loops it as the microphone, and
    the pause lets the agent's VAD close each utterance."""
    directory = tmp_path_factory.mktemp("mic")
    samples, rate = read_wav(speech_wav(directory))
    padded = np.concatenate([samples, np.zeros(int(rate * 1.5), dtype=np.int16)])
    path = directory / "mic.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(padded.tobytes())
    return path


def playwright_disabled_features(pw: Playwright) -> str | None:
    """The --disable-features flag Playwright adds by default, read from a real launch."""
    browser = pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--enable-automation"]
    )
    try:
        session = browser.new_browser_cdp_session()
        argv = session.send("Browser.getBrowserCommandLine")["arguments"]
    finally:
        browser.close()
    return next((a for a in argv if a.startswith("--disable-features=")), None)


# Module scope, not session: sync Playwright keeps an event loop running on this thread
# while it is open, and the asyncio tests that follow need the thread to themselves.
@pytest.fixture(scope="module")
def browser(fake_mic_wav: Path) -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: scripts/setup installs Debian's chromium")
    with sync_playwright() as pw:
        theirs = playwright_disabled_features(pw)
        features = [
            *(theirs.split("=", 1)[1].split(",") if theirs else []),
            *EXTRA_DISABLED_FEATURES,
        ]
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            ignore_default_args=[theirs] if theirs else None,
            args=[
                *FLAGS,
                f"--use-file-for-fake-audio-capture={fake_mic_wav}",
                f"--disable-features={','.join(features)}",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    yield p
    context.close()
