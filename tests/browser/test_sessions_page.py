"""The sessions page in a real headless Chromium: one recorded conversation's timeline,
transcript, errors and audio, as a user opens it from the debug page's link."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devstack.processes import Proxy
from tests.support.insights import FAILURE, RecordedSession

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_the_debug_pages_link_opens_the_rooms_session(
    page: Page, proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """Connected to a room, the debug page's `sessions` link opens that room's session."""
    page.goto(f"{proxy.url}/debug")
    page.fill("#room", recorded_session.room)
    page.select_option("#mode", "none")
    page.click("#connect")
    link = page.locator("#sessions-link")
    expect(link).to_have_attribute("href", f"/sessions?room={recorded_session.room}")
    page.click("#disconnect")
    link.click()
    expect(page.locator("body")).to_have_attribute("data-session", recorded_session.job_id)
    expect(page.locator("#sessions li.current")).to_contain_text(recorded_session.room)


def test_a_session_shows_its_timeline_transcript_errors_and_audio(
    page: Page, proxy: Proxy, recorded_session: RecordedSession
) -> None:
    """The timeline, the turns with their metric points, the failed turn where it failed,
    the transcript, and the audio played through range requests (so it seeks at once)."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    audio_answers: list[int] = []
    page.on(
        "response",
        lambda r: audio_answers.append(r.status) if r.url.endswith("/audio") else None,
    )
    page.goto(f"{proxy.url}/sessions#{recorded_session.job_id}")
    expect(page.locator("body")).to_have_attribute("data-session", recorded_session.job_id)
    facts = page.locator("#session-facts")
    expect(facts).to_contain_text(f"explicit {recorded_session.dispatch_id}")
    timeline = page.locator("#timeline")
    # The dispatch steps, the turns as bars, the agent's own log line, both sides of the talk.
    for text in ("job assigned", "agent joined", "agent_turn", "llm_request", "tts_request"):
        expect(timeline).to_contain_text(text)
    expect(timeline).to_contain_text(f"insights agent started in room {recorded_session.room}")
    expect(timeline.locator(".row.message")).to_have_count(4)
    assert timeline.locator(".bar.turn").count() >= 3
    # The failed turn is marked where it happened: after the last answer.
    error_rows = timeline.locator(".row.error")
    expect(error_rows.filter(has_text=FAILURE).first).to_be_visible()
    rows = timeline.locator(".row").all_inner_texts()
    answered = max(i for i, r in enumerate(rows) if "You said: hello there." in r)
    failed = min(i for i, r in enumerate(rows) if FAILURE in r)
    assert answered < failed, rows
    expect(page.locator("#session-errors")).to_contain_text(FAILURE)
    expect(page.locator("#session-transcript")).to_contain_text("You said: hello there.")
    expect(page.locator("#turns tbody tr.turn")).to_have_count(3)
    # The answer's own metric points under it: the echo model's tokens, its first token.
    answer_points = page.locator("#turns tbody tr.turn-metrics").nth(1)
    expect(answer_points).to_contain_text("llm input tokens 2 (echo)")
    expect(answer_points).to_contain_text("llm ttft")
    # The recording plays: Chromium decodes the Ogg Opus and knows its length.
    expect(page.locator("#player")).to_be_visible()
    page.wait_for_function("document.getElementById('player').duration > 2", timeout=10_000)
    # Chromium's player asks for byte ranges, and gets them: it can seek before it has all.
    assert 206 in audio_answers, audio_answers
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sessions.png"), full_page=False)
