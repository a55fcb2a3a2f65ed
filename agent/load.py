"""The load a worker reports to livekit-server, kept below 1.0 when nothing asked for "full".

livekit-agents reports the machine's CPU use, averaged over 2.5 s, as the worker's load.
livekit-server v1.13.5 picks a worker for a job at random, weighted by 1 - load
(`selectWorkerWeightedByLoad`, pkg/service/agentservice.go), and counts only the weight of
available workers: when every worker of the name reads 1.0 the weights sum to 0, the server
logs "no worker available to handle job" ("no workers with sufficient capacity"), drops the
job, never retries it, and the dispatch keeps 0 jobs. No webhook says so.

On a laptop the browser, the server and the agents share the cores, so 2.5 s of full CPU
(a burst of rooms is enough) loses every dispatch made in that moment. It happened in this
project's benchmark: after a 20-room burst the next 20 dispatches all got no agent. On Cloud
the agents do not share the user's machine, so the stack keeps them joined: unless
AGENT_LOAD_THRESHOLD asks for a worker that can be full, the load is reported as at most
MAX_REPORTED_LOAD. Below 1.0 the server's weighting still prefers the idler worker of a pool.

The cap needs the server's `agents.target_load` above it: a node whose workers all report
target_load or more is not offered the job request at all (JobRequestAffinity), which with
the server's default of 0.7 drops a dispatch for a worker at 0.7 already. The stack's
livekit.yaml sets 1.5."""

from __future__ import annotations

from livekit.agents import AgentServer
from livekit.agents.worker import _DefaultLoadCalc

MAX_REPORTED_LOAD = 0.99


def capped(load: float) -> float:
    return min(load, MAX_REPORTED_LOAD)


def never_saturated_load(server: AgentServer) -> float:
    """livekit-agents' own load (the machine's CPU, 2.5 s average), capped below 1.0."""
    return capped(_DefaultLoadCalc.get_load(server))


def uses_default_load(server: AgentServer) -> bool:
    """Whether `server` reports livekit-agents' default load (a file that sets its own
    load_fnc keeps it, and keeps what it means)."""
    return server.load_fnc in (None, _DefaultLoadCalc.get_load)
