"""Why did the agent not join? One ordered table of rules over the facts.

Each rule names a cause, the check line it marks failed, whether it blocks the agent, when
it applies, the one-sentence verdict and the fix. The first rule that applies is the
verdict (the most fundamental cause wins); every blocking rule that applies marks its
check failed, so the check lines and the verdict cannot disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devstack.cluster import created_again
from devstack.crash import MODEL_FILES_FIX
from devstack.server_log import no_capacity
from doctor.facts import Facts, name_of
from doctor.inference import inference_failure


@dataclass(frozen=True)
class Rule:
    cause: str
    check: str  # the check line it fails (see checks.py)
    blocking: bool
    when: Callable[[Facts], bool]
    say: Callable[[Facts], str]
    fix: str = ""


def _room(f: Facts) -> str:
    return f"`{f.ev.room.name}`" if f.ev.room else "?"


def _node_down(f: Facts) -> str:
    down = [n for n in f.ev.nodes if not n["reachable"]]
    said = f"node {', '.join(n['name'] + ' (' + n['url'] + ')' for n in down)} does not answer"
    room, dead = f"`{f.ev.room_name}`", {n["name"] for n in down}
    if f.ev.room_node in dead:
        return f"{said}; room {room} ran on it: it is gone, though the other nodes still list it"
    if f.ev.room_earlier_node in dead:
        # Someone (an agent reconnecting, a person) joined it again through a live node.
        return f"{said}; room {room} ran on it and {created_again(str(f.ev.room_node))}"
    return f"{said}; the other nodes take new rooms and dispatches"


def _crashing(f: Facts) -> str:
    c = f.ev.agent_crash or {}
    how = (
        f"it failed the same way at start {c.get('restarts', 0)} times and waits for a file of "
        f"{c.get('watching') or 'your project'} to change"
        if c.get("state") == "crash-looping"
        else "the supervisor restarts it with backoff"
    )
    return (
        f"the worker ({c.get('name')}) is {c.get('state')}: {c.get('error')}; {how}, so nothing "
        f"can take a dispatch for {name_of(f.ev.agent_name)}. Fix: {c.get('fix')}"
    )


def _model_files(f: Facts) -> str:
    j = f.failures("model_files")[-1]
    said = f"the job {j['job_id']} of {name_of(f.ev.agent_name)} in room {_room(f)} crashed before the agent joined: {j['error'].rstrip('.')}"
    failed = (f.ev.project or {}).get("download_failures") or []
    if failed:
        said += f"; download-files failed at start ({failed[0][:160].rstrip('.')})"
    return said + "; the plugin's model files were never downloaded"


def _job_crashed(f: Facts) -> str:
    j = f.failures("crashed")[-1]
    return (
        f"the job {j['job_id']} of {name_of(f.ev.agent_name)} in room {_room(f)} crashed before "
        f"the agent joined: its entrypoint raised `{j['error']}` (the worker's log has the "
        "traceback); the dispatch keeps its job, the server never retries, so no agent comes"
    )


def _session_failed(f: Facts) -> str:
    j = f.failures("session")[-1]
    where = (
        f"agent {name_of(f.ev.agent_name)} joined room {_room(f)}"
        if f.agents
        else f"the session of agent {name_of(f.ev.agent_name)} in room {_room(f)} failed and the agent left"
    )
    if j.get("inference"):
        return inference_failure(where, j, f.ev.inference)
    return f"{where}, but its session's model services fail ({j['error']}, {j['count']} times), so it hears and says nothing"


ANNOUNCE = "Right after `await ctx.connect()`, set an attribute (`await ctx.room.local_participant.set_attributes({'lk.agent.state': 'listening'})`) or publish the agent's track: either is sent to the room at once."
SATURATED = "Dispatch again (the stack's watcher does it for you unless AGENT_REDISPATCH=off). The stack's worker, and your AGENT_FILE unless it sets its own load_fnc, never report more than 0.99 unless AGENT_LOAD_THRESHOLD is set; a load_fnc of your own should stay below 1.0 (workers on the same machine read the same CPU)."
CRASHING = "Do what the verdict's fix says (the worker's last error and its fix are also on /api/health and the debug page); with AGENT_DIR or AGENT_FILE, saving a file of your agent restarts it."
JOB_CRASHED = "Fix the exception in your entrypoint (the worker's log has the traceback), then dispatch again."
SESSION_FAILED = "For LiveKit Inference with `make dev`: DEVSTACK_INFERENCE=auto (the default) or local serves it offline through the stack's gateway, which must be running (its log says why it is not), and DEVSTACK_LLM_URL's server must accept DEVSTACK_LLM_API_KEY. Online: give the worker a LiveKit Cloud project's key as LIVEKIT_INFERENCE_API_KEY/LIVEKIT_INFERENCE_API_SECRET (with AGENT_DIR the stack passes your project's Cloud key for you; it needs the internet), or use provider plugins with your own keys (livekit-plugins-openai with OPENAI_API_KEY, or OPENAI_BASE_URL for a local server). For another model service: check its key and URL in the worker's environment."
DISPATCH_ONCE = "Dispatch once per room: every CreateDispatch starts another agent (POST /api/dispatch-agent dedupes)."
RULES: list[Rule] = [
    Rule("server_unreachable", "server", True,
         lambda f: not f.ev.server.reachable,
         lambda f: f"livekit-server at {f.ev.server.url} is not reachable ({f.ev.server.detail}); start it or fix LIVEKIT_URL",
         "Start livekit-server (`make dev`) or fix LIVEKIT_URL."),
    Rule("redis_down", "nodes", True,
         lambda f: bool(f.ev.redis) and not f.ev.redis["reachable"],  # type: ignore[index]
         lambda f: f"the Redis the nodes share ({f.ev.redis['address']}) does not answer: no node can take a new room or route an agent job; start it",  # type: ignore[index]
         "Start the Redis in LIVEKIT_REDIS (make dev-cluster uses 127.0.0.1:6379)."),
    Rule("bad_api_key", "keys", True,
         lambda f: f.ev.server.auth == "bad_key",
         lambda f: f"{f.ev.server.detail} at {f.ev.server.url}; the key in use is not in its `keys`",
         "Use the key/secret pair the server is configured with (livekit.yaml `keys`)."),
    Rule("bad_api_secret", "keys", True,
         lambda f: f.ev.server.auth == "bad_secret",
         lambda f: f"{f.ev.server.detail} at {f.ev.server.url}; fix LIVEKIT_API_SECRET",
         "Use the key/secret pair the server is configured with (livekit.yaml `keys`)."),
    Rule("server_refused", "keys", True,
         lambda f: f.ev.server.auth != "ok",
         lambda f: f"{f.ev.server.url} refused the API call: {f.ev.server.detail}",
         "See the livekit-server log for this request."),
    Rule("node_down", "nodes", True,
         lambda f: any(not n["reachable"] for n in f.ev.nodes),
         _node_down,
         "Start the node again; a room that lived on it must be joined anew (a new room name)."),
    Rule("token_invalid", "token", True,
         lambda f: bool(f.ev.token and not f.ev.token.valid_format),
         lambda f: f"the token is {f.ev.token.error}",  # type: ignore[union-attr]
         "Pass the JWT your app gives the client (three base64url parts)."),
    Rule("token_expired", "token", True,
         lambda f: bool(f.ev.token and f.ev.token.expired),
         lambda f: f"the token expired {-(f.ev.token.expires_in or 0):.0f} s ago; the client cannot join with it",  # type: ignore[union-attr]
         "Mint a fresh token."),
    Rule("token_bad_signature", "token", True,
         lambda f: bool(f.ev.token and f.ev.token.signature == "invalid"),
         lambda f: "the token's signature does not match the server's secret; the client cannot join with it",
         "Sign it with the server's secret."),
    Rule("model_files_missing", "jobs", True,
         lambda f: not f.agents and bool(f.failures("model_files")),
         _model_files,
         MODEL_FILES_FIX),
    Rule("job_crashed", "jobs", True,
         lambda f: not f.agents and bool(f.failures("crashed")),
         _job_crashed,
         JOB_CRASHED),
    Rule("session_failed", "jobs", True,
         lambda f: bool(f.failures("session")),
         _session_failed,
         SESSION_FAILED),
    Rule("duplicate_agents", "dispatches", True,
         lambda f: len(f.agents) > 1,
         lambda f: f"{len(f.agents)} agents named {name_of(f.ev.agent_name)} are in room {_room(f)} from {len(f.mine)} dispatches: every CreateDispatch launches another agent; dispatch once (POST /api/dispatch-agent dedupes)",
         DISPATCH_ONCE),
    Rule("agent_unannounced", "room", False,
         lambda f: bool(f.agents) and f.unannounced == f.agents,
         lambda f: f"agent {name_of(f.ev.agent_name)} is in room {_room(f)} as {f.agents[0]}, but it publishes no track and has set no attribute: livekit-server tells the other participants about such a participant only in its batch every 3 s (PushAndDequeueUpdates, pkg/rtc/room.go), so they see it up to 3 s after it joined",
         ANNOUNCE),
    Rule("agent_present", "room", False,
         lambda f: bool(f.agents),
         lambda f: f"agent {name_of(f.ev.agent_name)} is in room {_room(f)} as {f.agents[0]}: nothing blocks it"),
    Rule("worker_crashing", "worker", True,
         lambda f: bool(f.ev.agent_crash) and not f.taken,
         _crashing,
         CRASHING),
    Rule("worker_down", "worker", True,
         lambda f: not f.ev.worker.reachable and not f.taken and not f.ev.registered,
         lambda f: f"no agent worker answers at {f.ev.worker.url}: nothing can take a dispatch for {name_of(f.ev.agent_name)}; start the worker",
         "Start the worker (`make dev`, or `python -m agent`), or point --worker-url / AGENT_HEALTH_URL at its health port."),
    Rule("worker_unhealthy", "worker", True,
         lambda f: f.ev.worker.reachable and not f.ev.worker.healthy and not f.taken,
         lambda f: f"the worker at {f.ev.worker.url} is unhealthy ({f.ev.worker.detail}): it could not connect to livekit-server; check its URL and keys",
         "Its LIVEKIT_URL/KEY/SECRET are probably wrong; see the worker log."),
    Rule("worker_unnamed", "names", True,
         lambda f: f.worker_up and not f.taken and bool(f.ev.agent_name) and not f.ev.worker.agent_name,
         lambda f: f"the worker at {f.ev.worker.url} is unnamed, so it only takes automatic dispatch; a dispatch for {name_of(f.ev.agent_name)} never reaches it; set LIVEKIT_AGENT_NAME={f.ev.agent_name} on the worker",
         "Give the worker the name you dispatch (LIVEKIT_AGENT_NAME), or dispatch nothing and let it join every new room."),
    Rule("name_mismatch", "names", True,
         lambda f: f.worker_up and not f.taken and f.ev.agent_name is not None and f.ev.worker.agent_name != f.ev.agent_name,
         lambda f: f"you dispatch {name_of(f.ev.agent_name)} but the worker at {f.ev.worker.url} is registered as {name_of(f.ev.worker.agent_name)}: the server accepts the dispatch and no worker takes it; use one name"
         + (f" ({f.suggestion})" if f.known else ""),
         "Use one LIVEKIT_AGENT_NAME for the worker and for whoever dispatches (one .env)."),
    Rule("no_worker_registered", "names", True,
         lambda f: f.known and not f.taken,
         lambda f: f"no worker named {name_of(f.ev.agent_name)} is registered with {f.ev.server.url}: the server accepts a dispatch for it and nobody takes it; {f.suggestion}",
         "Dispatch the name a worker registers (LIVEKIT_AGENT_NAME / agent_name), or start that worker."),
    Rule("worker_full", "worker", True,
         lambda f: f.worker_up and f.load_threshold is not None and f.ev.worker.load >= f.load_threshold,
         lambda f: f"the worker at {f.ev.worker.url} reports load {f.ev.worker.load:.2f} ≥ {f.load_threshold}: it marks itself full and takes no job",
         "The worker refuses new jobs at this load: add workers or raise AGENT_LOAD_THRESHOLD."),
    Rule("worker_saturated", "worker", True,
         lambda f: f.worker_up and f.ev.worker.load >= 1.0,
         lambda f: f"the worker at {f.ev.worker.url} reports load {f.ev.worker.load:.2f}: livekit-server weighs the workers of a name by 1 - load, so at 1.0 it gives this one no job; a dispatch now is dropped ('no workers with sufficient capacity') and never retried",
         SATURATED),
    Rule("worker_not_registered", "probe", True,
         lambda f: bool(f.ev.probe and not f.ev.probe.joined),
         lambda f: f"a probe dispatch of {name_of(f.ev.agent_name)} got no agent although the worker at {f.ev.worker.url} answers as {name_of(f.ev.worker.agent_name)}: it is not registered with {f.ev.server.url} (another server, or another key/secret; see its log for 401)",
         "No worker of that name takes jobs on this server: check the worker's LIVEKIT_URL, key and secret, and its log."),
    Rule("token_ignored_room_existed", "dispatches", True,
         lambda f: not f.agents and f.room_exists and bool(f.ev.token) and f.ev.agent_name in f.ev.token.agent_names and not f.mine,  # type: ignore[union-attr]
         lambda f: f"agent name in token {name_of(f.ev.agent_name)} matches the worker, but room {_room(f)} already existed for {f.room_age}, so the token's agent dispatch was ignored; use a fresh room name or dispatch explicitly (the room closes {f.ev.room.departure_timeout} s after its last participant leaves, or after {f.ev.room.empty_timeout} s empty)",  # type: ignore[union-attr]
         "Use a fresh room name, or dispatch explicitly (POST /api/dispatch-agent)."),
    Rule("job_no_capacity", "dispatches", True,
         lambda f: not f.agents and f.all_untaken and bool(f.ev.gave_up) and no_capacity(f.ev.gave_up[-1]),
         lambda f: f"dispatch {f.untaken[-1].dispatch_id} has 0 jobs: the server gave up its job ({f.ev.gave_up[-1]['error']}) because every worker named {name_of(f.ev.agent_name)} was full or reported load 1.0 when it came (livekit-agents reports the machine's CPU, averaged over 2.5 s); the server never retries; dispatch again",
         SATURATED),
    Rule("job_not_answered", "dispatches", True,
         lambda f: not f.agents and f.all_untaken and bool(f.ev.gave_up),
         lambda f: f"dispatch {f.untaken[-1].dispatch_id} has 0 jobs: the server gave up its job ({f.ev.gave_up[-1]['error']}) because no worker named {name_of(f.ev.agent_name)} answered the job request within the server's 3 s deadline; the worker was busy (a burst, blocking code in its event loop) or stalled, and the server never retries; dispatch again",
         "Dispatch again (the stack's watcher does it for you unless AGENT_REDISPATCH=off); keep blocking work out of the worker's event loop (request_fnc, prewarm) and spread bursts over a pool of workers."),
    Rule("dispatch_before_worker", "dispatches", True,
         lambda f: not f.agents and f.all_untaken and bool(f.ev.probe and f.ev.probe.joined),
         lambda f: f"dispatch {f.untaken[-1].dispatch_id} has 0 jobs, yet the worker takes new dispatches (probe joined in {f.ev.probe.latency_ms:.0f} ms): it was created before the worker registered (or while it was full) and the server never retries it; dispatch again",  # type: ignore[union-attr]
         "Dispatch again once a worker of that name is registered: the server never retries a dispatch."),
    Rule("dispatch_not_taken", "dispatches", True,
         lambda f: not f.agents and f.all_untaken,
         lambda f: f"dispatch {f.untaken[-1].dispatch_id} has 0 jobs after {f.untaken[-1].age_seconds:.0f} s: no worker named {name_of(f.ev.agent_name)} took it on {f.ev.server.url}; either it registered after the dispatch (never retried) or it is registered elsewhere; run with --probe to tell",
         "Dispatch again once a worker of that name is registered: the server never retries a dispatch."),
    Rule("agent_left", "dispatches", True,
         # A job the worker's log says failed is its own cause (job_crashed, ...), and
         # dispatching it again would fail the same way.
         lambda f: not f.agents and bool(f.mine) and all(d.jobs for d in f.mine) and not f.ev.job_failures,
         lambda f: f"dispatch {f.mine[-1].dispatch_id} has a job but no agent {name_of(f.ev.agent_name)} is in room {_room(f)}: it joined and left, or its job failed; see the worker log and dispatch again",
         "Dispatch again (POST /api/dispatch-agent replaces a dispatch whose agent left)."),
    Rule("not_dispatched", "dispatches", True,
         lambda f: not f.agents and f.room_exists and not f.mine,
         lambda f: f"no dispatch for {name_of(f.ev.agent_name)} in room {_room(f)}: a named worker is never dispatched automatically; call POST /api/dispatch-agent or put the agent in the token's room config",
         "Dispatch it: POST /api/dispatch-agent, or a token whose RoomConfiguration creates the room."),
    Rule("probe_unannounced", "probe", False,
         lambda f: bool(f.ev.probe and f.ev.probe.joined and f.ev.probe.announced is False),
         lambda f: f"a probe agent {name_of(f.ev.agent_name)} joined in {f.ev.probe.latency_ms:.0f} ms, but it published no track and set no attribute: the people in a room see such an agent only in livekit-server's batch every 3 s (pkg/rtc/room.go), up to 3 s after it joined",  # type: ignore[union-attr]
         ANNOUNCE),
    Rule("dispatch_pending", "dispatches", False,
         lambda f: f.room_exists,
         lambda f: f"dispatch {f.mine[-1].dispatch_id} for {name_of(f.ev.agent_name)} is {f.mine[-1].age_seconds:.0f} s old and its agent is not in the room yet"),
    Rule("no_room", "room", False,
         lambda f: bool(f.ev.room),
         lambda f: f"room {_room(f)} does not exist: nobody is in it and no dispatch created it; the worker and names check out"),
    Rule("ok", "server", False,
         lambda f: True,
         lambda f: f"server, keys, worker and agent name {name_of(f.ev.agent_name)} check out"
         + (f", and a probe agent joined in {f.ev.probe.latency_ms:.0f} ms" if f.ev.probe and f.ev.probe.joined else "")),
]  # fmt: skip
CAUSES = [r.cause for r in RULES]


def applying(facts: Facts) -> list[Rule]:
    """Every rule that applies, in table order."""
    return [r for r in RULES if r.when(facts)]
