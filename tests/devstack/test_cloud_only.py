"""LiveKit Cloud's noise cancellation offline, as the stack reads it back (over lines of
this project's runs): the runner's warning is a note on the job in the worker log, never a
failure; the doctor shows it as a warning line that blocks nothing; the supervisor leaves
out the BVC library's own stderr lines about it, and no other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.cloud_only import NativeLines
from devstack.worker_log import WorkerLogs, failures_in
from doctor.diagnose import diagnose
from doctor.evidence import Evidence

pytestmark = pytest.mark.unit

EXTRA = {"pid": 7813, "job_id": "AJ_s4rLcgCak99m", "room": "room-n", "agent_name": "noisy"}
AIC = (
    "ai-coustics noise cancellation (livekit-plugins-ai-coustics) needs LiveKit Cloud: this "
    "server is not LiveKit Cloud and refused to authorize it (Processing failed: Unable to "
    "authorize model use: Model use unauthorized: GET /settings returned HTTP 404), as a "
    "self-hosted server without Cloud does; from here on it passes the audio through "
    "unenhanced. Your agent still hears the person."
)
BVC = (
    "LiveKit noise cancellation BVC/NC (livekit-plugins-noise-cancellation) needs LiveKit "
    "Cloud: this server is not LiveKit Cloud and refused to authorize it (failed to "
    "initialize the audio filter. it will not be enabled for this session), as a "
    "self-hosted server without Cloud does; the audio passes through unfiltered. Your agent "
    "still hears the person."
)
LINES = [
    f"2026-12-07 18:06:10,337 - \x1b[33mWARNING\x1b[0m livekit.plugins.noise_cancellation - {BVC} \x1b[90m{json.dumps(EXTRA)}\x1b[0m",
    f"2026-12-07 18:06:20,350 - WARNING livekit.plugins.ai_coustics - {AIC} {json.dumps(EXTRA)}",
]
NATIVE = [
    '[2026-12-07T17:52:46Z ERROR livekit-nc] code=203 msg="noise cancellation is not '
    'authorized for this connection" status=404 url="http://127.0.0.1:46813"',
    '[2026-12-07T17:52:46Z ERROR livekit-nc] code=205 msg="noise cancellation unavailable" '
    'url="http://127.0.0.1:46813"',
]


def test_the_warning_is_a_note_on_the_job_not_a_failure(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "agent-noisy.log"
    log.parent.mkdir()
    log.write_text("")
    logs = WorkerLogs(tmp_path)
    with log.open("a") as f:
        f.write("".join(line + "\n" for line in LINES))
    failures, notes = logs.read(room="room-n")
    assert failures == [] and failures_in(LINES) == []
    # The last record is still open (no record after it yet): it counts as it reads now.
    assert [n.plugin for n in notes] == [
        "LiveKit noise cancellation BVC/NC (livekit-plugins-noise-cancellation)",
        "ai-coustics noise cancellation (livekit-plugins-ai-coustics)",
    ]
    assert notes[1].text == AIC and notes[1].job_id == EXTRA["job_id"]
    assert logs.read(room="another-room") == ([], [])


def test_the_doctor_warns_and_blocks_nothing() -> None:
    facts = json.loads(
        (Path(__file__).parents[1] / "doctor" / "facts" / "agent_present.json").read_text()
    )
    evidence = Evidence.from_dict(facts["evidence"])
    evidence.notes = [
        {"plugin": "ai-coustics (livekit-plugins-ai-coustics)", "text": AIC},
        {"plugin": "BVC (livekit-plugins-noise-cancellation)", "text": BVC},
    ]
    d = diagnose(Evidence.from_dict(evidence.to_dict()), None)
    assert (d.cause, d.blocking) == ("agent_present", False)
    (line,) = [c for c in d.checks if c.key == "cloud_only"]
    assert line.status == "warn"
    assert line.evidence.startswith(
        "ai-coustics (livekit-plugins-ai-coustics) and BVC (livekit-plugins-noise-cancellation) "
        "need LiveKit Cloud: this server is not Cloud and refused to authorize them"
    )
    assert "Cloud" in line.fix and all(c.status != "fail" for c in d.checks)


def test_the_supervisor_leaves_out_only_the_bvc_librarys_refusal() -> None:
    lines = NativeLines()
    # "unavailable" alone keeps its meaning: no refusal came before it.
    assert not lines.told_elsewhere(NATIVE[1])
    assert [lines.told_elsewhere(line) for line in NATIVE] == [True, True]
    other = '[2026-12-07T17:52:46Z ERROR livekit-nc] code=203 msg="noise cancellation is not authorized for this connection" status=401'
    assert not lines.told_elsewhere(other)  # Cloud refusing a key is its own news
    assert not lines.told_elsewhere("2026-12-07 18:06:10,337 - ERROR livekit.agents - boom")
