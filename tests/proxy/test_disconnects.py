"""Which exceptions mean only that the client went away (proxy/disconnects.py): those are
an INFO line; the same kinds from elsewhere (livekit-server resetting the proxy's own
connection) stay errors."""

from __future__ import annotations

import anyio
import pytest
from starlette.requests import ClientDisconnect

from proxy.disconnects import client_gone

pytestmark = pytest.mark.unit


def test_a_client_disconnect_is_the_client_gone() -> None:
    """Starlette raises ClientDisconnect only on the server's own http.disconnect."""
    assert client_gone(ClientDisconnect(), disconnected=False)


@pytest.mark.parametrize(
    "exc",
    [ConnectionResetError(), BrokenPipeError(), anyio.EndOfStream()],
    ids=lambda e: type(e).__name__,
)
def test_a_reset_is_the_client_gone_only_once_the_client_is_gone(exc: Exception) -> None:
    """A reset while the client is still there came from elsewhere: still an error."""
    assert client_gone(exc, disconnected=True)
    assert not client_gone(exc, disconnected=False)


def test_other_failures_are_never_the_client_gone() -> None:
    """A bug stays a bug, even if the client left too; a group is quiet only if all are."""
    assert not client_gone(ValueError("bug"), disconnected=True)
    group = ExceptionGroup("both", [ClientDisconnect(), ValueError("bug")])
    assert not client_gone(group, disconnected=True)
    assert client_gone(ExceptionGroup("gone", [ClientDisconnect()]), disconnected=False)
