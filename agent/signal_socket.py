"""Send the agent's signalling messages at once: TCP_NODELAY on its sockets to livekit-server.

livekit-rtc's native core opens each room's signalling websocket without TCP_NODELAY, so
Nagle's algorithm holds a small message while an earlier one is unacknowledged, and Linux
acknowledges late (its delayed ACK waits up to 40 ms). The agent's first message after
`ctx.connect()` is the attribute update that makes it visible to the room: it waited 41 ms
(median of 15 dispatches) between being sent and being seen, 3 ms with TCP_NODELAY. The
server's side of the socket has it already (Go sets it on every TCP connection).

The socket belongs to the native core, not to Python, so this finds it among the process's
open descriptors by its peer address and sets the option on it.

The libc calls go through ctypes.PyDLL, which keeps the GIL: a job thread that releases it
for each of a worker's few hundred descriptors waits to get it back each time while the
native core's threads deliver the new room's events: the same scan through psutil took
10-30 ms right after a connect, this one about 1.5 ms (median of 12 jobs)."""

from __future__ import annotations

import ctypes
import functools
import os
import socket
import struct
import sys
from urllib.parse import urlsplit

_SOCKADDR_SIZE = 128  # sockaddr_storage
# Where a process lists its own descriptors: Linux, then macOS and the BSDs.
_FD_DIRS = ("/proc/self/fd", "/dev/fd")


@functools.cache
def server_addresses(url: str) -> frozenset[tuple[str, int]]:
    """Every (ip, port) that `url` (ws://host:port, http://..., wss://...) resolves to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname or "localhost", port, type=socket.SOCK_STREAM)
    except OSError:
        return frozenset()
    return frozenset((str(info[4][0]), port) for info in infos)


@functools.cache
def _libc() -> ctypes.PyDLL | None:
    try:
        return ctypes.PyDLL(None, use_errno=True)
    except OSError:
        return None


def peer_of(raw: bytes) -> tuple[str, int] | None:
    """(ip, port) from a struct sockaddr as getpeername fills it; None if not IP."""
    # BSD sockaddrs begin with a length byte, then a one-byte family; Linux's family is 16 bits.
    family = raw[1] if sys.platform == "darwin" else struct.unpack_from("=H", raw, 0)[0]
    port = struct.unpack_from("!H", raw, 2)[0]
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    if family == socket.AF_INET6:
        ip = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        # An IPv4 peer reached through a dual-stack socket: compare it as IPv4.
        return ip.removeprefix("::ffff:"), port
    return None


def _open_fds() -> list[int]:
    for path in _FD_DIRS:
        try:
            return [int(name) for name in os.listdir(path) if name.isdigit()]
        except OSError:
            continue
    return []


def send_immediately(server_url: str) -> int:
    """Set TCP_NODELAY on each of this process's TCP connections to livekit-server at
    `server_url`; returns how many. Setting it twice is harmless, so in a worker running
    several jobs each job may set it on every job's socket. Where descriptors cannot be
    listed the default stays: up to 40 ms slower, nothing else."""
    libc, wanted = _libc(), server_addresses(server_url)
    if libc is None or not wanted:
        return 0
    buf = ctypes.create_string_buffer(_SOCKADDR_SIZE)
    size = ctypes.c_uint32()
    on = ctypes.c_int(1)
    done = 0
    for fd in _open_fds():
        size.value = _SOCKADDR_SIZE
        # Not a socket, not connected, or closed since it was listed: -1, and on to the next.
        if libc.getpeername(fd, buf, ctypes.byref(size)) != 0:
            continue
        if peer_of(buf.raw) not in wanted:
            continue
        opt = libc.setsockopt(
            fd, socket.IPPROTO_TCP, socket.TCP_NODELAY, ctypes.byref(on), ctypes.sizeof(on)
        )
        done += opt == 0
    return done
