"""The benchmark's readiness check reads livekit-server's own line (pure logic; the bench
smoke test sees the real server write it before every burst)."""

from __future__ import annotations

from bench.settle import PROBE_AGENT, probe_answered

# As livekit-server v1.13.5 writes them (pkg/agent/client.go, service/twirp.go).
PROBE_DISPATCHED = (
    "2026-11-28T00:02:58.109Z\tINFO\tlivekit.api\tservice/twirp.go:149\t"
    "API AgentDispatchService.CreateDispatch\t"
    '{"service": "AgentDispatchService", "method": "CreateDispatch", "room": "room-a", '
    f'"request": {{"agentName": "{PROBE_AGENT}", "room": "room-a"}}, "status": "200"}}'
)


def no_worker(agent: str, room: str) -> str:
    return (
        "2026-11-28T00:03:01.334Z\tINFO\tlivekit\tagent/client.go:150\t"
        "not dispatching agent job since no worker is available\t"
        f'{{"agentName": "{agent}", "jobType": "JT_ROOM", "room": "{room}", "roomID": "RM_x"}}'
    )


def test_the_probes_own_line_in_its_room_answers() -> None:
    log = [PROBE_DISPATCHED, no_worker(PROBE_AGENT, "room-a")]
    assert probe_answered(log, "room-a")


def test_the_dispatch_alone_another_room_or_another_agent_does_not() -> None:
    assert not probe_answered([PROBE_DISPATCHED], "room-a")
    assert not probe_answered([no_worker(PROBE_AGENT, "room-b")], "room-a")
    assert not probe_answered([no_worker("bench-agent", "room-a")], "room-a")
    assert not probe_answered(["not dispatching agent job since no worker is available"], "room-a")
