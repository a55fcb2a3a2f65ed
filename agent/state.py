"""What front ends read from the agent participant: `lk.agent.state` and text streams."""

from __future__ import annotations

import uuid
from typing import Literal

from livekit import rtc

from devstack.rooms import STATE_ATTRIBUTE

AgentState = Literal["initializing", "listening", "thinking", "speaking"]
TRANSCRIPTION_TOPIC = "lk.transcription"
CHAT_TOPIC = "lk.chat"


async def set_state(room: rtc.Room, state: AgentState) -> None:
    """Publish the agent's state the way AgentSession does, so UIs show 'listening' etc."""
    await room.local_participant.set_attributes({STATE_ATTRIBUTE: state})


async def say_text(room: rtc.Room, text: str) -> None:
    """Send one final agent transcript segment; agent front ends render it as a message."""
    await room.local_participant.send_text(
        text,
        topic=TRANSCRIPTION_TOPIC,
        attributes={
            "lk.segment_id": f"SG_{uuid.uuid4().hex[:12]}",
            "lk.transcription_final": "true",
        },
        # Plain text streams are readable by every client SDK version.
        compress=False,
    )
