"""One STT session's transcripts: what its audio becomes on the socket, in order, and when
Whisper is asked for each. The endpointer (gateway/endpointing.py) says when an utterance
starts and ends; at the onset goes start_of_speech, after each second of speech an interim
of the utterance so far, and at the end its final, with word timings. The final starts at
each pause of 0.2 s: when the silence lasts to the end (0.5 s), it is ready 0.3 s sooner;
when the person goes on, that Whisper call was wasted, which a turn's latency is worth."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import onnxruntime  # type: ignore[import-untyped]

from gateway.endpointing import SAMPLE_RATE, WINDOW, Ended, Endpointer, Paused, Started, Utterance
from gateway.whisper import Whisper

logger = logging.getLogger("devstack.gateway.stt")
INTERIM_EVERY = 1.0  # seconds of new speech between interims (each costs a Whisper call)
# An interim started in a pause would hold up the final behind it: a pause this long
# leaves Whisper to the final.
INTERIM_PAUSE = 0.1
MAX_PENDING_FINALS = 3  # finals waiting for Whisper before the socket stops being read

Message = dict[str, Any]


class Transcripts:
    """Feed it audio (`push`) and `finalize`; read what goes out from `messages()`."""

    def __init__(
        self,
        whisper: Whisper,
        vad: onnxruntime.InferenceSession,
        session_id: str,
        language: Callable[[], str | None],
    ) -> None:
        self.whisper, self.session_id, self.language = whisper, session_id, language
        self.endpointer = Endpointer(vad)
        # Messages and transcriptions (tasks giving a message, or None for nothing to say)
        # in the order they go out; True marks a final, which holds a MAX_PENDING_FINALS slot.
        self._outbox: asyncio.Queue[tuple[Message | asyncio.Task[Message | None], bool]] = (
            asyncio.Queue()
        )
        self._final_slots = asyncio.Semaphore(MAX_PENDING_FINALS)
        self._tasks: set[asyncio.Task[Message | None]] = set()  # every transcription under way
        self._interim: asyncio.Task[Message | None] | None = None
        self._interim_at = 0  # the utterance's length in samples at its last interim
        # A final started at a pause: (utterance, its speech_end then, the task).
        self._speculation: tuple[Utterance, int, asyncio.Task[Message | None]] | None = None
        self.finals = 0

    def put(self, message: Message) -> None:
        """A message that goes out after everything already queued."""
        self._outbox.put_nowait((message, False))

    async def push(self, audio: np.ndarray) -> None:
        """float32 audio at 16 kHz. Waits while MAX_PENDING_FINALS finals wait for Whisper,
        so a client sending faster than Whisper keeps up is slowed, not buffered."""
        for event in self.endpointer.push(audio):
            if isinstance(event, Started):
                self._interim_at = 0
                self.put({"type": "start_of_speech", "start": event.utterance.onset / SAMPLE_RATE})
            elif isinstance(event, Paused):
                self._drop_speculation()
                # A guess at the final, worth a Whisper call only when no other call
                # waits: with several people at once, their finals go first.
                if not self.whisper.queued:
                    self._speculation = (
                        event.utterance,
                        event.utterance.speech_end,
                        self._transcribe(event.utterance, final=True),
                    )
            elif isinstance(event, Ended):
                await self._end(event)
        if self._speculation is not None:
            utterance, speech_end, _ = self._speculation
            if utterance.speech_end != speech_end:
                self._drop_speculation()  # the person went on speaking after the pause
        self._maybe_interim()

    async def finalize(self) -> None:
        """session.finalize: the utterance under way (if any) is final now, then finalized."""
        if (ended := self.endpointer.cut()) is not None:
            await self._end(ended)
        self.put({"type": "session.finalized"})

    async def messages(self) -> AsyncIterator[Message]:
        """What goes out, in order: a transcription is awaited in its turn; a cancelled one
        (an interim overtaken by its final) says nothing."""
        while True:
            item, is_final = await self._outbox.get()
            try:
                if isinstance(item, dict):
                    message: Message | None = item
                else:
                    await asyncio.wait({item})
                    message = None if item.cancelled() else item.result()
                if message is not None:
                    yield message
            finally:
                if is_final:
                    self._final_slots.release()

    def cancel(self) -> None:
        """The session is over: no Whisper call of its own is left waiting."""
        for task in self._tasks:
            task.cancel()

    def _maybe_interim(self) -> None:
        """An interim of the utterance so far, after each second of new speech, one at a
        time per socket (an interim that would wait behind another would be stale), and
        none while Whisper works for anyone: with several people speaking at once, finals
        keep up with real time and interims come when there is room for them."""
        utterance = self.endpointer.current
        if utterance is None or (self._interim is not None and not self._interim.done()):
            return
        if self.whisper.busy:
            return
        if utterance.samples - self._interim_at < INTERIM_EVERY * SAMPLE_RATE:
            return
        if self.endpointer.silent_for > INTERIM_PAUSE:
            return
        self._interim_at = utterance.samples
        self._interim = self._transcribe(utterance, final=False)
        self._outbox.put_nowait((self._interim, False))

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[2].cancel()
            self._speculation = None

    async def _end(self, ended: Ended) -> None:
        utterance = ended.utterance
        if self._interim is not None:
            self._interim.cancel()  # the final says more, and sooner without it
        await self._final_slots.acquire()
        task = None
        if self._speculation is not None:
            spoken, speech_end, started = self._speculation
            self._speculation = None
            if spoken is utterance and speech_end == utterance.speech_end:
                task = started  # nothing was said after the pause: the same audio
            else:
                started.cancel()
        self.finals += 1
        self._outbox.put_nowait((task or self._transcribe(utterance, final=True), True))
        logger.debug(
            "STT session %s: utterance %d ended (%s)",
            self.session_id,
            utterance.index,
            ended.reason,
        )

    def _transcribe(self, utterance: Utterance, final: bool) -> asyncio.Task[Message | None]:
        """A transcription of the utterance's audio as it is now."""
        task = asyncio.create_task(self._transcript(utterance, utterance.audio(), final))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _transcript(
        self, utterance: Utterance, audio: np.ndarray, final: bool
    ) -> Message | None:
        """Whisper's transcript of `audio` as the message livekit-agents reads (inference/
        stt.py _build_speech_data); times are seconds from the session's first audio."""
        heard = await self.whisper.transcribe(audio, final=final, language=self.language())
        if not final and not heard.text:
            return None
        offset = utterance.offset / SAMPLE_RATE
        # Whisper tends to put the first word at the start of the audio it hears, pre-roll
        # and all: no word starts before the VAD heard speech (two windows early: it hears
        # an onset that late).
        floor = (utterance.onset - 2 * WINDOW) / SAMPLE_RATE
        timed = [(w, max(floor, offset + w.start), max(floor, offset + w.end)) for w in heard.words]
        if timed:
            start, end = timed[0][1], timed[-1][2]
        else:
            start, end = utterance.onset / SAMPLE_RATE, offset + len(audio) / SAMPLE_RATE
        if final:
            logger.info(
                "STT session %s: utterance %d final, %.1f s of audio transcribed in %.2f s",
                self.session_id,
                utterance.index,
                len(audio) / SAMPLE_RATE,
                heard.seconds,
            )
        return {
            "type": "final_transcript" if final else "interim_transcript",
            "transcript": heard.text,
            "language": heard.language,
            "start": round(start, 3),
            "duration": round(max(0.0, end - start), 3),
            "confidence": heard.confidence,
            "words": [
                {
                    "word": w.word,
                    "start": round(w_start, 3),
                    "end": round(w_end, 3),
                    "confidence": round(w.confidence, 3),
                }
                for w, w_start, w_end in timed
            ],
            "request_id": f"{self.session_id}-{utterance.index}",
        }
