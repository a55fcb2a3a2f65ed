"""A user's agent as LiveKit's older examples write it (WorkerOptions, `cli.run_app`), which
also answers what is typed on lk.chat, so `devstack.say()` has an answer to return."""

from __future__ import annotations

import asyncio
import logging

from livekit import rtc
from livekit.agents import JobContext, WorkerOptions, cli

logger = logging.getLogger("my-interviewer")
tasks: set[asyncio.Task[None]] = set()


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()

    def on_chat(reader: rtc.TextStreamReader, sender: str) -> None:
        async def answer() -> None:
            text = await reader.read_all()
            await ctx.room.local_participant.send_text(f"You said: {text}", topic="lk.chat")

        task = asyncio.create_task(answer())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    ctx.room.register_text_stream_handler("lk.chat", on_chat)
    logger.info("interviewer joined room %s", ctx.room.name)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint, agent_name="my-interviewer"))
