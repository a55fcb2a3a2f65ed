"""The runner's filter for LiveKit Cloud's noise cancellation offline, over the records the
plugins made in this project's runs (livekit-plugins-ai-coustics 0.3.5,
livekit-plugins-noise-cancellation 0.3.2, livekit 1.1.21): each plugin's failure becomes
one WARNING per process, anything else passes as it was, and the setup function that
carries the filter into job processes pickles by a name they can import."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agent.user_worker import JOB_PATH
from devstack.cloud_only import NEEDS_CLOUD, cloud_note

if JOB_PATH not in sys.path:
    sys.path.append(JOB_PATH)  # as the runner does
import devstack_offline_plugins as notes

pytestmark = pytest.mark.unit

AIC_REFUSED = (
    "Processing failed: Unable to authorize model use: Model use unauthorized: "
    "GET /settings returned HTTP 404"
)
# livekit-rtc's form of an FFI record: target, line, module path, message.
FFI_FORMAT = "%s:%s:%s - %s"
FILTER_FAILED = (
    "livekit_ffi::server::audio_stream",
    132,
    "livekit_ffi::server::audio_stream",
    "failed to initialize the audio filter. it will not be enabled for this session.",
)


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[Kept]:
    """The records the plugins' loggers let through, with fresh filters installed."""
    handler = Kept()
    loggers = [logging.getLogger(p.logger) for p in notes.PLUGINS]
    saved = [(lg.filters[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.filters = [f for f in lg.filters if not isinstance(f, notes.CloudOnlyFilter)]
        lg.addHandler(handler)
        lg.propagate = False
    assert notes.install() and not notes.install()  # once per process
    yield handler
    for lg, (filters, propagate) in zip(loggers, saved, strict=True):
        lg.removeHandler(handler)
        lg.filters, lg.propagate = filters, propagate


def said(records: list[logging.LogRecord]) -> list[tuple[str, str, str]]:
    return [(r.levelname, r.name, r.getMessage()) for r in records]


def test_each_plugins_offline_error_is_one_warning(kept: Kept) -> None:
    aic, ffi = logging.getLogger("livekit.plugins.ai_coustics"), logging.getLogger("livekit")
    for _ in range(3):  # a stream each, in one job process
        aic.error(AIC_REFUSED)
        ffi.error(FFI_FORMAT, *FILTER_FAILED)
    (first, second) = said(kept.records)
    assert first[:2] == ("WARNING", "livekit.plugins.ai_coustics")
    assert first[2].startswith(
        f"ai-coustics noise cancellation (livekit-plugins-ai-coustics) {NEEDS_CLOUD}"
    )
    assert "GET /settings returned HTTP 404" in first[2] and "unenhanced" in first[2]
    assert second[:2] == ("WARNING", "livekit.plugins.noise_cancellation")
    assert "failed to initialize the audio filter" in second[2]
    assert "livekit_ffi::server" not in second[2]  # the message, not the Rust location
    for _, _, text in (first, second):
        assert text.endswith("Your agent still hears the person.")
        # The doctor and the page read it back as a note (devstack/cloud_only.py).
        note = cloud_note("WARNING", 0.0, text, {"job_id": "AJ_x", "room": "r"})
        assert note is not None and "livekit-plugins" in note.plugin


def test_anything_else_passes_as_it_was(kept: Kept) -> None:
    aic, ffi = logging.getLogger("livekit.plugins.ai_coustics"), logging.getLogger("livekit")
    aic.error("Processing failed: Audio block configuration differs")
    aic.warning("update_model_parameters: Native core not yet initialized, skipping.")
    ffi.error(FFI_FORMAT, "livekit_ffi::server::room", 1, "livekit_ffi::server::room", "x")
    ffi.error("failed to initialize the audio filter, but not an FFI record")
    assert [level for level, _, _ in said(kept.records)] == ["ERROR", "WARNING", "ERROR", "ERROR"]
    assert said(kept.records)[0][2] == "Processing failed: Audio block configuration differs"


def test_the_setup_function_pickles_by_a_name_job_processes_import() -> None:
    """A job process unpickles the worker's setup function: the wrapper names this module,
    which the runner's JOB_PATH folder (inherited on sys.path) holds alone."""
    wrapped = notes.with_cloud_notes(None)
    assert notes.with_cloud_notes(wrapped) is wrapped
    data = pickle.dumps(notes.with_cloud_notes(len))
    assert b"devstack_offline_plugins" in data
    child = (
        "import pickle, sys, logging; sys.path.append(sys.argv[1]); "
        "setup = pickle.loads(bytes.fromhex(sys.argv[2])); "
        "print(setup('abc'), [type(f).__name__ for f in logging.getLogger('livekit').filters])"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, JOB_PATH, data.hex()],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["3", "['CloudOnlyFilter']"]


def test_the_runner_wraps_either_kind_of_setup_function() -> None:
    from agent.user_worker import _note_cloud_only_plugins

    class Server:  # an AgentServer's private field
        _setup_fnc: Any = None

    class Options:  # a WorkerOptions' public one
        def prewarm_fnc(self, proc: object) -> str:
            return "warm"

    server, options = Server(), Options()
    _note_cloud_only_plugins(server)
    _note_cloud_only_plugins(options)
    assert isinstance(server._setup_fnc, notes.WithCloudNotes)
    assert server._setup_fnc(object()) is None
    assert options.prewarm_fnc(object()) == "warm"  # type: ignore[call-arg]
