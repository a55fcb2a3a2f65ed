"""Both of LiveKit Cloud's noise cancellers on the person's microphone, as
agent-starter-python puts one on its AgentSession's audio input (both go through
livekit-rtc's AudioStream): ai-coustics (`ai_coustics.audio_enhancement`) and BVC
(`noise_cancellation.BVC()`). Offline neither can reach Cloud, and the agent must still hear
the person; it says what it heard as attributes, for the test to read."""

import asyncio

import numpy as np
from livekit import rtc
from livekit.agents import AgentServer, JobContext, cli
from livekit.plugins import ai_coustics, noise_cancellation

server = AgentServer()
# A 10 ms frame louder than this (int16 RMS) after the canceller is speech heard.
HEARD_RMS = 300.0
# Attributes are sent every this many loud frames, not for each.
EVERY = 20


async def listen(ctx: JobContext, track: rtc.Track, name: str, canceller: object) -> None:
    """Count the loud frames that come out of the canceller, and those of them that it
    passed through as they came (ai-coustics marks each frame it enhanced)."""
    stream = rtc.AudioStream.from_track(track=track, noise_cancellation=canceller)  # type: ignore[arg-type]
    loud = unenhanced = 0
    async for event in stream:
        data = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
        if not data.size or float(np.sqrt(np.mean(data**2))) <= HEARD_RMS:
            continue
        loud += 1
        unenhanced += ai_coustics.FRAME_USERDATA_AIC_VAD_ATTRIBUTE not in event.frame.userdata
        if loud % EVERY == 0:
            await ctx.room.local_participant.set_attributes(
                {f"fixture.heard.{name}": str(loud), f"fixture.unenhanced.{name}": str(unenhanced)}
            )


@server.rtc_session(agent_name="my-noise-agent")
async def entrypoint(ctx: JobContext) -> None:
    listening: list[asyncio.Task[None]] = []

    def on_track(track: rtc.Track, *_: object) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        enhancer = ai_coustics.audio_enhancement(model=ai_coustics.EnhancerModel.QUAIL_VF_S)
        listening.append(asyncio.create_task(listen(ctx, track, "ai_coustics", enhancer)))
        listening.append(asyncio.create_task(listen(ctx, track, "bvc", noise_cancellation.BVC())))

    ctx.room.on("track_subscribed", on_track)
    await ctx.connect()
    await ctx.room.local_participant.set_attributes({"lk.agent.state": "listening"})


if __name__ == "__main__":
    cli.run_app(server)
