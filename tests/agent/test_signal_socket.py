"""The agent's signalling socket sends at once (agent/signal_socket.py): a real livekit.rtc
room's websocket to a real livekit-server gets TCP_NODELAY, and the room still works."""

from __future__ import annotations

import asyncio
import os
import socket
import struct

import pytest
from livekit import rtc

from agent.signal_socket import peer_of, send_immediately, server_addresses
from devstack.local_server import LiveKitServer
from tests.support.clients import connected, plain_token


def _nodelay_of_sockets_to(url: str) -> list[int]:
    """TCP_NODELAY of each of this process's connections to `url`, read back independently
    of the code under test (through Python's socket module, on a duplicate descriptor)."""
    wanted = server_addresses(url)
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                socket.AF_INET,
                socket.AF_INET6,
            ):
                continue
            try:
                ip, port = sock.getpeername()[:2]
            except OSError:
                continue
            if (ip.removeprefix("::ffff:"), port) in wanted:
                found.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            sock.close()
    return found


@pytest.mark.integration
async def test_the_rooms_signalling_socket_gets_nodelay_and_keeps_working(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    async with connected(livekit_server, plain_token(livekit_server, room_name, "me")) as me:
        before = _nodelay_of_sockets_to(livekit_server.url)
        # The native core opens it without TCP_NODELAY: the reason this module exists.
        assert 0 in before, f"livekit-rtc now sets TCP_NODELAY itself: {before}"

        assert send_immediately(livekit_server.url) == len(before)

        assert _nodelay_of_sockets_to(livekit_server.url) == [1] * len(before)
        # The socket still carries the room's signalling: another person sees a new track.
        async with connected(livekit_server, plain_token(livekit_server, room_name, "you")) as you:
            published = asyncio.Event()
            you.room.on("track_published", lambda *_: published.set())
            track = rtc.LocalAudioTrack.create_audio_track("mic", rtc.AudioSource(48000, 1))
            await me.room.local_participant.publish_track(track)
            await asyncio.wait_for(published.wait(), 10)


def test_a_url_resolves_to_its_addresses_with_the_schemes_default_port() -> None:
    assert ("127.0.0.1", 7880) in server_addresses("ws://127.0.0.1:7880")
    assert {port for _, port in server_addresses("wss://localhost")} == {443}
    assert server_addresses("ws://no-such-host.invalid:7880") == frozenset()


def test_peer_addresses_are_read_from_ipv4_and_ipv6_sockaddrs() -> None:
    if os.uname().sysname != "Linux":
        pytest.skip("the sockaddr layout built here is Linux's")
    v4 = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 7880) + socket.inet_aton("10.0.0.2")
    assert peer_of(v4.ljust(128, b"\0")) == ("10.0.0.2", 7880)
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:127.0.0.1")
    v6 = struct.pack("=H", socket.AF_INET6) + struct.pack("!H", 443) + b"\0" * 4 + mapped
    assert peer_of(v6.ljust(128, b"\0")) == ("127.0.0.1", 443)
    unix = struct.pack("=H", socket.AF_UNIX) + b"/tmp/x"
    assert peer_of(unix.ljust(128, b"\0")) is None
