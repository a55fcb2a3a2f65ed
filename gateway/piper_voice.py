"""Piper (piper-tts, GPL-3.0) in its own process, talked to through pipes and never imported:
`python -m piper -m <voice> --output-raw --debug` reads one line of text at a time on stdin
and writes raw s16le mono PCM on stdout, flushed after each sentence.

The raw stream has no delimiter, so each line is followed by a line with no phonemes
(SENTINEL). Piper logs `text=_|_, phonemes=[]` on stderr when it starts that line, which is
after every byte of the line before has been written: the parent then drains stdout, and
what it read is exactly that line's audio.

Lines go through the child one at a time, in the order asked for: on two cores a second
synthesis at once only slows both down, and one line in flight is what ties each byte to
the line it belongs to. A line whose socket has gone is skipped before it is written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.engines import EngineError

logger = logging.getLogger("devstack.gateway.tts")
SENTINEL = "_|_"
MARK = f"text={SENTINEL}, phonemes=[]".encode()
WARMUP = "Hello, the voice is ready."  # onnxruntime's first run is several times slower
STALL_SECONDS = 60.0  # no audio and no end for this long: the child is stuck, kill it
READ_BYTES = 1 << 16
MAX_STDERR_BYTES = 1 << 20  # a line of piper's log is a few kB; bound a runaway one


def clean(text: str) -> str:
    """One line of text: no line breaks (a line is an utterance) and no sentinel."""
    return " ".join(text.replace(SENTINEL, " ").split())


@dataclass(eq=False)
class Line:
    """Some text to speak; its audio (s16le mono at the voice's rate) arrives in `chunks`
    as the engine writes it, then None, or an EngineError."""

    text: str
    chunks: asyncio.Queue[bytes | EngineError | None] = field(default_factory=asyncio.Queue)
    cancelled: bool = False  # its socket is gone: not worth synthesizing

    async def audio(self) -> AsyncIterator[bytes]:
        while (item := await self.chunks.get()) is not None:
            if isinstance(item, EngineError):
                raise item
            yield item


class Voice:
    """An engine that speaks lines one at a time (a queue and one worker task)."""

    description = ""
    sample_rate = 22050

    def __init__(self) -> None:
        self._pending: asyncio.Queue[Line] | None = None
        self._worker: asyncio.Task[None] | None = None

    def submit(self, text: str) -> Line:
        """Queue `text` (at most ~40 kB, so it fits in a pipe's buffer in one write)."""
        line = Line(clean(text))
        if self._pending is None:  # the event loop is uvicorn's, which load() precedes
            self._pending = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._serve())
        self._pending.put_nowait(line)
        return line

    async def _serve(self) -> None:
        assert self._pending is not None
        while True:
            line = await self._pending.get()
            if line.cancelled:
                continue
            try:
                await self.speak(line)
            except EngineError as exc:
                line.chunks.put_nowait(exc)
            except Exception as exc:  # a bug here must not stop every later line
                logger.exception("the voice failed on a line")
                line.chunks.put_nowait(EngineError(f"the voice failed: {exc}"))

    async def speak(self, line: Line) -> None:
        raise NotImplementedError


class PiperVoice(Voice):
    def __init__(self, model: Path, config: Path) -> None:
        super().__init__()
        self.sample_rate = int(json.loads(config.read_text())["audio"]["sample_rate"])
        self.name = model.name.removesuffix(".onnx")
        self.description = f"Piper {self.name} (piper-tts, GPL-3.0, in its own process)"
        self._command = [sys.executable, "-m", "piper", "-m", str(model), "-c", str(config)]
        self._command += ["--output-raw", "--debug"]
        self._child: subprocess.Popen[bytes] | None = None
        self._attached: subprocess.Popen[bytes] | None = None  # whose pipes the loop reads
        self._ready = False  # warmed up: a death from now on is worth a restart
        self._lock = asyncio.Lock()  # one user of the child at a time: a line or a restart
        self._current: Line | None = None
        self._finished = asyncio.Event()
        self._stderr = bytearray()
        self._last_words = ""  # its last line on stderr but debug ones: why it died
        self._last_output = 0.0
        self._tasks: set[asyncio.Task[None]] = set()  # referenced, so not collected early

    def start(self) -> float:
        """At load, before uvicorn's loop runs: start the child and wait until it has
        spoken (seconds it took); EngineError when it does not."""

        async def launch() -> float:
            try:
                return await self._launch()
            finally:
                self._detach()  # uvicorn's loop reads its pipes from now on

        return asyncio.run(launch())

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._stderr.clear()
        self._last_words = ""
        try:
            self._child = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},  # whatever the locale
            )
        except OSError as exc:
            raise EngineError(f"piper could not be run: {exc}") from None
        assert self._child.stdout and self._child.stderr
        os.set_blocking(self._child.stdout.fileno(), False)
        os.set_blocking(self._child.stderr.fileno(), False)
        return self._child

    def _log(self, data: bytes) -> bool:
        """Take stderr bytes; True when they hold the sentinel's line."""
        self._stderr += data
        marked = False
        *lines, rest = bytes(self._stderr).split(b"\n")
        self._stderr = bytearray(rest[-MAX_STDERR_BYTES:])
        for raw in lines:
            if raw.endswith(MARK):
                marked = True
            elif not raw.startswith(b"DEBUG:"):
                self._last_words = raw.decode(errors="replace").strip()[:300] or self._last_words
        return marked

    def _said(self) -> str:
        return f": {self._last_words}" if self._last_words else ""

    async def speak(self, line: Line) -> None:
        if self._tasks:  # a restart under way: the line waits for the new child
            await asyncio.wait(set(self._tasks))
        async with self._lock:
            if line.cancelled:  # its socket went while a new child started
                line.chunks.put_nowait(None)
                return
            if self._child is None:
                logger.info("piper started again in %.1f s", await self._launch())
            await self._run(line)

    async def _run(self, line: Line) -> None:
        """Write one line and wait for its end (its audio goes to `line` meanwhile)."""
        child = self._child
        assert child is not None and child.stdin is not None
        self._attach(child)
        self._current, self._finished = line, asyncio.Event()
        self._last_output = time.monotonic()
        try:
            child.stdin.write(f"{line.text}\n{SENTINEL}\n".encode())
        except OSError:
            self._exited(child)  # ends the line with an error
        while not self._finished.is_set():
            with contextlib.suppress(TimeoutError):  # not wait_for: in 3.11 it can eat a cancel
                async with asyncio.timeout(5.0):
                    await self._finished.wait()
            if time.monotonic() - self._last_output > STALL_SECONDS and child.poll() is None:
                logger.warning("piper (pid %d) is stuck; killing it", child.pid)
                child.kill()  # its pipes close: _exited ends the line
                self._last_output = time.monotonic()

    def _attach(self, child: subprocess.Popen[bytes]) -> None:
        if self._attached is child:
            return
        assert child.stdout and child.stderr
        loop = asyncio.get_running_loop()
        loop.add_reader(child.stdout.fileno(), self._on_stdout, child)
        loop.add_reader(child.stderr.fileno(), self._on_stderr, child)
        self._attached = child

    def _on_stdout(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout
        if not self._drain(child.stdout.fileno()):
            self._exited(child)

    def _on_stderr(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout and child.stderr
        try:
            data = os.read(child.stderr.fileno(), READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._exited(child)
        elif self._log(data):
            # Every byte of the line was written before this log line: read what is left.
            if not self._drain(child.stdout.fileno()):
                self._exited(child)
            elif (line := self._current) is not None:
                self._current = None
                line.chunks.put_nowait(None)
                self._finished.set()

    def _drain(self, fd: int) -> bool:
        """Read stdout until the pipe is empty, giving it to the current line; False at EOF."""
        while True:
            try:
                data = os.read(fd, READ_BYTES)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self._last_output = time.monotonic()
            if self._current is not None:
                self._current.chunks.put_nowait(data)

    def _detach(self) -> None:
        if (child := self._attached) is not None:
            assert child.stdout and child.stderr
            loop = asyncio.get_running_loop()
            loop.remove_reader(child.stdout.fileno())
            loop.remove_reader(child.stderr.fileno())
            self._attached = None

    def _exited(self, child: subprocess.Popen[bytes]) -> None:
        """Its pipes closed: end the line in flight with an error, restart if it was well."""
        if self._attached is child:
            self._detach()
        if self._child is not child:
            return
        self._child = None
        if (line := self._current) is not None:
            self._current = None
            line.chunks.put_nowait(EngineError(f"piper exited{self._said()}"))
            self._finished.set()
        # A child that dies while starting is not restarted: that would be a loop.
        restart, self._ready = self._ready, False
        task = asyncio.get_running_loop().create_task(self._reap(child, restart))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reap(self, child: subprocess.Popen[bytes], restart: bool) -> None:
        code = await asyncio.to_thread(child.wait)
        assert child.stderr is not None
        # Its last words (a traceback's last line); no new child has spawned before this.
        with contextlib.suppress(OSError):
            self._log(os.read(child.stderr.fileno(), MAX_STDERR_BYTES) + b"\n")
        for pipe in (child.stdin, child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
        if not restart:
            return
        logger.warning(
            "piper (pid %d) exited with %s%s; starting a new one", child.pid, code, self._said()
        )
        async with self._lock:
            if self._child is None:
                with contextlib.suppress(EngineError):  # logged; the next line tries again
                    logger.info("piper started again in %.1f s", await self._launch())

    async def _launch(self) -> float:
        """A new child, warmed up (seconds it took); EngineError when it does not speak."""
        started = time.monotonic()
        self._spawn()
        warmup = Line(WARMUP)
        await self._run(warmup)
        while (item := warmup.chunks.get_nowait()) is not None:
            if isinstance(item, EngineError):
                logger.warning("piper did not start: %s", item)
                raise item
        self._ready = True
        return time.monotonic() - started
