"""One measured join: a real livekit.rtc client, timed until the AGENT participant is
visible to it.

A client connects first and is dispatched to afterwards (explicit mode, through the stack's
POST /api/dispatch-agent as a user's app does), so that a burst of N rooms is N people
already in their rooms when N dispatches go out at once: what is timed is the agent's
arrival, not N clients connecting on the same two cores."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx
from livekit import api, rtc

from devstack.rooms import AGENT_WAIT_SECONDS, STATE_ATTRIBUTE
from devstack.timeline import TIMELINE_ATTRIBUTE, decode
from devstack.tokens import mint_token

Mode = Literal["explicit", "token", "auto"]
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
STARTUP_WAIT_SECONDS = 10
# livekit-api's own default: a burst's 50 requests queue behind each other on two cores,
# where the stack's 5 s (API_TIMEOUT_SECONDS, for one request at a time) would cut them.
API_TIMEOUT_SECONDS = 10.0


@dataclass
class Join:
    mode: Mode
    room: str
    joined: bool
    # dispatch request (explicit) or connect (token/auto) -> agent visible
    join_s: float | None = None
    error: str = ""
    dispatched_ms: float = 0.0  # wall clock of that start, ms
    visible_ms: float = 0.0  # wall clock when the client saw the agent, ms
    stamps_ms: dict[str, float] = field(default_factory=dict)  # the agent's own timeline
    announced: bool = False  # the agent had set attributes or published when first seen
    proxy_dispatch_id: str = ""  # the dispatch the stack's proxy made (explicit mode)


@dataclass
class Target:
    url: str  # ws://...
    api_key: str
    api_secret: str
    agent_name: str
    # The proxy an explicit dispatch goes through (POST /api/dispatch-agent), as a user's
    # app does; empty: the server's CreateDispatch directly.
    proxy_url: str = ""


class Client:
    """One person in one room, waiting for the agent."""

    def __init__(self, t: Target, mode: Mode, room: str) -> None:
        self.t, self.mode, self.room_name = t, mode, room
        self.room = rtc.Room()
        self.result = Join(mode=mode, room=room, joined=False)
        self._seen = asyncio.Event()
        self._started_up = asyncio.Event()
        self._started = 0.0
        self.room.on("participant_connected", self._on_agent)
        self.room.on("participant_attributes_changed", lambda _c, p: self._on_agent(p))

    def _on_agent(self, p: rtc.RemoteParticipant) -> None:
        if p.kind != AGENT:
            return
        # Later stamps (the agent's `connected`) come with a later attribute update.
        self.result.stamps_ms.update(decode(p.attributes.get(TIMELINE_ATTRIBUTE)))
        if p.attributes.get(STATE_ATTRIBUTE, "initializing") != "initializing":
            self._started_up.set()
        if self._seen.is_set():
            return
        self.result.visible_ms = time.time() * 1000
        # Seen with a state or a track: the agent announced itself. Without either, only the
        # server's 3 s batch could have brought it (the agent name is a join-time attribute).
        self.result.announced = STATE_ATTRIBUTE in p.attributes or bool(p.track_publications)
        if not self.result.announced:
            self._started_up.set()  # an agent that says nothing gives nothing to wait for
        self._seen.set()

    def _start_clock(self) -> None:
        self._started = time.perf_counter()
        self.result.dispatched_ms = time.time() * 1000

    async def connect(self) -> None:
        """Join the room; in token and auto modes this join is the dispatch."""
        if self.mode != "explicit":
            self._start_clock()
        token = mint_token(
            api_key=self.t.api_key,
            api_secret=self.t.api_secret,
            room=self.room_name,
            identity="bench-user",
            agent_name=self.t.agent_name if self.mode == "token" else None,
        )
        await self.room.connect(self.t.url, token)

    async def dispatch(self, lk: api.LiveKitAPI, http: httpx.AsyncClient) -> None:
        self._start_clock()
        if not self.t.proxy_url:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=self.t.agent_name, room=self.room_name)
            )
            return
        resp = await http.post(
            f"{self.t.proxy_url}/api/dispatch-agent",
            json={"room": self.room_name, "agent_name": self.t.agent_name},
        )
        if resp.status_code != 200:
            raise RuntimeError(f"POST /api/dispatch-agent: {resp.status_code} {resp.text[:200]}")
        self.result.proxy_dispatch_id = resp.json()["dispatch_id"]

    async def wait_agent(self) -> None:
        for p in self.room.remote_participants.values():
            self._on_agent(p)
        await asyncio.wait_for(self._seen.wait(), AGENT_WAIT_SECONDS)
        self.result.joined = True
        self.result.join_s = time.perf_counter() - self._started
        # The room ends only once the agent has finished starting (its state left
        # "initializing"), as `devstack doctor --probe` does: a room deleted under a starting
        # job leaves the job to time out for 10 s or more, and the next burst would meet
        # the previous one's teardown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._started_up.wait(), STARTUP_WAIT_SECONDS)

    async def join(self) -> None:
        """Connect; a failure is recorded, not raised, so the rest of a burst goes on."""
        try:
            await self.connect()
        except Exception as exc:
            self.result.error = f"{type(exc).__name__}: {exc}"

    async def dispatch_and_wait(self, lk: api.LiveKitAPI, http: httpx.AsyncClient) -> Join:
        """Dispatch (explicit mode) and time the agent; a failed join is a data point."""
        if self.result.error:
            return self.result  # it never connected
        try:
            if self.mode == "explicit":
                await self.dispatch(lk, http)
            await self.wait_agent()
        except TimeoutError:
            self.result.error = f"no agent within {AGENT_WAIT_SECONDS:.0f} s"
        except Exception as exc:
            self.result.error = f"{type(exc).__name__}: {exc}"
        return self.result

    async def close(self, lk: api.LiveKitAPI) -> None:
        await self.room.disconnect()
        # Ending the room ends the agent's job, so each measurement starts from the same state.
        with contextlib.suppress(api.TwirpError):
            await lk.room.delete_room(api.DeleteRoomRequest(room=self.room_name))


async def join_once(t: Target, lk: api.LiveKitAPI, mode: Mode, room: str) -> Join:
    """Join `room` as a client the way `mode` does it and time the agent's arrival."""
    client = Client(t, mode, room)
    try:
        await client.join()
        async with httpx.AsyncClient(timeout=API_TIMEOUT_SECONDS) as http:
            return await client.dispatch_and_wait(lk, http)
    finally:
        await client.close(lk)


async def join_burst(
    t: Target,
    lk: api.LiveKitAPI,
    rooms: list[str],
    all_connected: Callable[[], Awaitable[None]] | None = None,
) -> list[Join]:
    """len(rooms) clients join their rooms, then every explicit dispatch goes out at once,
    after `all_connected` (other processes' clients of the same burst in their rooms; with
    --wait-dispatcher, the server's agent dispatcher answering at once again too)."""
    clients = [Client(t, "explicit", room) for room in rooms]
    try:
        await asyncio.gather(*(c.join() for c in clients))
        if all_connected is not None:
            await all_connected()
        async with httpx.AsyncClient(timeout=API_TIMEOUT_SECONDS) as http:
            return list(await asyncio.gather(*(c.dispatch_and_wait(lk, http) for c in clients)))
    finally:
        await asyncio.gather(*(c.close(lk) for c in clients))
