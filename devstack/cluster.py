"""Several livekit-server nodes on one Redis (`make dev-cluster`): whether each node and
the Redis answer, and which node a room and a worker are on (from the nodes' logs)."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from devstack.server_log import WorkerRegistry
from devstack.settings import Settings, http_url


def created_again(node: str) -> str:
    """What happened to a room whose node died and that someone joined again through `node`
    (livekit-server places it anew there: SelectRoomNode, pkg/service/roomallocator.go)."""
    return (
        f"was created again on node {node} when someone joined it through that node; what "
        "was in it before is lost"
    )


def node_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(http_url(url) + "/", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


async def redis_answers(address: str) -> bool:
    """A Redis PING over a plain socket: the stack needs no Redis client for one question."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host or "127.0.0.1", int(port)), 2
        )
    except (OSError, ValueError, TimeoutError):
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 2)).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def nodes_view(settings: Settings, registry: WorkerRegistry) -> list[dict[str, Any]]:
    """Each node: its URL, whether it answers, its node id, and the workers registered on it."""
    names = {name: node_id for node_id, name in registry.node_ids.items()}
    answers = await asyncio.gather(
        *(asyncio.to_thread(node_answers, url) for _, url in settings.nodes)
    )
    return [
        {
            "name": name or "(single)",
            "url": url,
            "reachable": up,
            "node_id": names.get(name),
            "workers": [
                {"worker_id": w.worker_id, "agent_name": w.agent_name}
                for w in registry.workers.values()
                if w.node == name
            ],
        }
        for (name, url), up in zip(settings.nodes, answers, strict=True)
    ]
