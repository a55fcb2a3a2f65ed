"""Debian's Chromium, headless, as the browser tests and the idle benchmark drive it: a fake
microphone that plays a WAV file, offline, no sandbox. Never a downloaded browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"  # installed by scripts/setup
# Off on top of Playwright's own list: with mDNS names for its local addresses, WebRTC
# cannot reach the server.
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


def launch_chromium(pw: Playwright, microphone: Path) -> Browser:
    """Chromium with `microphone` as its fake capture device. Chromium honours only the last
    --disable-features flag, so Playwright's list and ours are merged into one."""
    theirs = playwright_disabled_features(pw)
    features = [*(theirs.split("=", 1)[1].split(",") if theirs else []), *EXTRA_DISABLED_FEATURES]
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        ignore_default_args=[theirs] if theirs else None,
        args=[
            *FLAGS,
            f"--use-file-for-fake-audio-capture={microphone}",
            f"--disable-features={','.join(features)}",
        ],
    )
