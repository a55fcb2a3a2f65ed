"""The bundled livekit-server starts, answers with the dev keys, and stops cleanly."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid

import pytest
from livekit import api

from devstack.local_server import LiveKitServer, Runtime, start_livekit_server
from tests.conftest import require_docker

pytestmark = pytest.mark.integration


def test_server_answers_http(livekit_server: LiveKitServer) -> None:
    """GET / on the signalling port answers OK, as load balancers and our waits expect."""
    with urllib.request.urlopen(livekit_server.http_url + "/", timeout=5) as resp:
        assert resp.status == 200
        assert resp.read().strip() == b"OK"


async def test_dev_keys_list_and_create_rooms(livekit_server: LiveKitServer) -> None:
    """The dev keys from livekit.yaml are accepted, and a room created by API is listed."""
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    async with livekit_server.client() as lk:
        before = await lk.room.list_rooms(api.ListRoomsRequest())
        assert name not in [r.name for r in before.rooms]
        await lk.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=30))
        after = await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))
        assert [r.name for r in after.rooms] == [name]
        await lk.room.delete_room(api.DeleteRoomRequest(room=name))


async def test_wrong_secret_is_refused(livekit_server: LiveKitServer) -> None:
    """A key pair the server does not know is refused, not silently accepted."""
    async with livekit_server.client(api_secret="not-the-secret") as lk:
        with pytest.raises(api.TwirpError) as err:
            await lk.room.list_rooms(api.ListRoomsRequest())
    assert err.value.status == 401


def _container_exists(container_id: str) -> bool:
    ps = subprocess.run(
        ["docker", "ps", "-a", "-q", "--no-trunc", "--filter", f"id={container_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(ps.stdout.strip())


@pytest.mark.parametrize("runtime", ["docker", "binary"])
def test_runtime_starts_and_leaves_nothing_behind(runtime: Runtime) -> None:
    """Each runtime serves requests, and after stop() no container or process remains."""
    if runtime == "docker":
        require_docker()
    server = start_livekit_server(runtime)
    try:
        with urllib.request.urlopen(server.http_url + "/", timeout=5) as resp:
            assert resp.status == 200
        container_id, process = server.container_id, server.process
        assert (container_id != "") == (runtime == "docker")
    finally:
        server.stop()
    if runtime == "docker":
        assert not _container_exists(container_id)
    else:
        assert process is not None and process.poll() is not None
    with pytest.raises(OSError):
        urllib.request.urlopen(server.http_url + "/", timeout=2)
