"""The check lines of a diagnosis: one per topic, with what was seen. A topic fails when
a blocking rule of its own applies (rules.py), and then shows that rule's fix. A warning
("warn") is something to know that blocks nothing and is no failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from doctor.facts import Facts, name_of
from doctor.rules import Rule

Status = Literal["pass", "fail", "unknown", "warn"]


@dataclass
class Check:
    key: str
    title: str
    status: Status
    evidence: str
    fix: str = ""


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _server(f: Facts) -> tuple[str, Status] | None:
    s = f.ev.server
    if not s.reachable:
        return f"{s.url} does not answer ({s.detail})", "fail"
    return f"{s.url} answers", "pass"


def _keys(f: Facts) -> tuple[str, Status] | None:
    s = f.ev.server
    if not s.reachable:
        return None
    if s.auth == "ok":
        return f"accepted ({count(s.num_rooms or 0, 'room')} open)", "pass"
    return s.detail, "fail"


def _worker(f: Facts) -> tuple[str, Status] | None:
    w, crash = f.ev.worker, f.ev.agent_crash
    if not w.reachable and crash:
        return f"{crash['name']} {crash['state']}: {crash['error']}", "fail"
    if not w.reachable:
        return f"nothing answers at {w.url} ({w.detail})", "fail"
    if not w.healthy:
        return f"{w.url} says unhealthy: {w.detail}", "fail"
    jobs = count(w.active_jobs, "active job")
    return (
        f"{w.url} healthy, registered name {name_of(w.agent_name)}, {jobs}, load {w.load:.2f}",
        "pass",
    )


def _names(f: Facts) -> tuple[str, Status] | None:
    want, have = f.ev.agent_name, f.ev.worker.agent_name
    if want is None:
        return None
    if f.ev.worker.reachable and want == have:
        return f"requested {name_of(want)} = worker's {name_of(have)}", "pass"
    ids = (f.ev.registered or {}).get(want or "", [])
    if ids:
        # A worker the stack did not start (your own agent file, one run by hand) counts.
        return (
            f"requested {name_of(want)}: registered by {count(len(ids), 'worker')} ({', '.join(ids)})",
            "pass",
        )
    if f.known:
        return (
            f"requested {name_of(want)}: no worker of that name is registered; {f.suggestion}",
            "fail",
        )
    if not f.ev.worker.reachable:
        return None
    return f"requested {name_of(want)}, worker registered as {name_of(have)}", "fail"


def _token_names(f: Facts) -> tuple[str, Status] | None:
    t, w = f.ev.token, f.ev.worker
    if not (t and t.agent_names and w.reachable) or w.agent_name in t.agent_names:
        return None
    names = ", ".join(name_of(n) for n in t.agent_names)
    return f"the token dispatches {names}, the worker is {name_of(w.agent_name)}", "fail"


def _token(f: Facts) -> tuple[str, Status] | None:
    t = f.ev.token
    if t is None:
        return None
    if not t.valid_format:
        return t.error, "fail"
    facts = [f"identity {t.identity!r}", f"room {t.room!r}", f"agents {t.agent_names or 'none'}"]
    if t.expires_in is not None:
        facts.append(
            f"expired {-t.expires_in:.0f} s ago"
            if t.expired
            else f"expires in {t.expires_in:.0f} s"
        )
    facts.append(f"signature {t.signature}")
    if not t.room_join:
        facts.append("no roomJoin grant")
    return ", ".join(facts), "fail" if not t.room_join else "pass"


def _room(f: Facts) -> tuple[str, Status] | None:
    r = f.ev.room
    if r is None:
        return None
    if not r.exists:
        return f"room {r.name!r} does not exist now", "unknown"
    people = [p for p in r.participants if p["kind"] != "AGENT"]
    return (
        f"{r.name!r} exists for {f.room_age}: {count(len(people), 'participant')}, "
        f"{count(len(f.agents), 'agent')} named {name_of(f.ev.agent_name)}",
        # A young dispatch with no agent yet is on its way: not a failure, not a pass.
        "pass" if f.agents else "unknown" if f.mine and not f.untaken else "fail",
    )


def _dispatches(f: Facts) -> tuple[str, Status] | None:
    if not f.room_exists:
        return None
    listing = ", ".join(
        f"{d.dispatch_id} ({count(d.jobs, 'job')}, {d.age_seconds:.0f} s old)" for d in f.mine
    )
    return f"for {name_of(f.ev.agent_name)}: {listing or 'none'}", "pass"


def _jobs(f: Facts) -> tuple[str, Status] | None:
    """What the worker's own log says of the room's jobs (the stack's own workers)."""
    if not f.ev.job_failures:
        return None
    said = {
        "crashed": "crashed",
        "model_files": "crashed (model files)",
        "session": "session failing",
    }
    listing = "; ".join(
        f"{j['job_id']} {said.get(j['kind'], j['kind'])}: {j['error'][:140]}"
        for j in f.ev.job_failures
    )
    return listing, "fail"


def _cloud_only(f: Facts) -> tuple[str, Status] | None:
    """The room's jobs use a plugin that needs LiveKit Cloud (noise cancellation) and runs
    without it, from the worker's own warning: once per plugin, never a failure."""
    plugins = list(dict.fromkeys(n["plugin"] for n in f.ev.notes))  # each worker's words
    if not plugins:
        return None
    one = len(plugins) == 1
    return (
        f"{' and '.join(plugins)} {'needs' if one else 'need'} LiveKit Cloud: this server is "
        f"not Cloud and refused to authorize {'it' if one else 'them'}, as a self-hosted "
        "server without Cloud does, so the audio passes through unenhanced; your agent still "
        "hears the person",
        "warn",
    )


def _probe(f: Facts) -> tuple[str, Status] | None:
    p = f.ev.probe
    if p is None:
        return None
    if p.joined:
        silent = "; it published no track and set no attribute" if p.announced is False else ""
        return (
            f"agent {name_of(f.ev.agent_name)} joined throw-away room {p.room} in {p.latency_ms:.0f} ms{silent}",
            "pass",
        )
    return f"dispatched {name_of(f.ev.agent_name)} into {p.room}: {p.detail}", "fail"


def _pool(f: Facts) -> tuple[str, Status] | None:
    if len(f.ev.pool) < 2:
        return None  # one worker is the worker line
    listing = "; ".join(
        f"{w['name']} {name_of(w['agent_name'])} {count(w['active_jobs'], 'job')} load {w['load']:.2f}"
        if w["reachable"]
        else f"{w['name']} not answering"
        for w in f.ev.pool
    )
    return listing, "pass" if all(w["reachable"] for w in f.ev.pool) else "fail"


def _nodes(f: Facts) -> tuple[str, Status] | None:
    if not f.ev.nodes and not f.ev.redis:
        return None
    parts = [
        f"{n['name']} {'up' if n['reachable'] else 'DOWN'}"
        + (f" ({', '.join(name_of(a) for a in n.get('agents', []))})" if n.get("agents") else "")
        for n in f.ev.nodes
    ]
    if f.ev.redis:
        parts.append(f"redis {f.ev.redis['address']} {'up' if f.ev.redis['reachable'] else 'DOWN'}")
    if f.ev.room_node:
        parts.append(
            f"room on node {f.ev.room_node}"
            + (f" (created again; it ran on node {was})" if (was := f.ev.room_earlier_node) else "")
        )
        here = next((n for n in f.ev.nodes if n["name"] == f.ev.room_node), None)
        if here is not None and f.ev.agent_name not in here.get("agents", []) and f.taken:
            # Not a failure on v1.13.5: job requests reach every node's workers via Redis.
            parts.append(
                f"no worker named {name_of(f.ev.agent_name)} on that node: served from another "
                "node through Redis"
            )
    return ", ".join(parts), "pass"


TOPICS: list[tuple[str, str, Callable[[Facts], tuple[str, Status] | None]]] = [
    ("server", "server", _server),
    ("keys", "API keys", _keys),
    ("nodes", "nodes", _nodes),
    ("worker", "worker", _worker),
    ("pool", "workers", _pool),
    ("names", "agent name", _names),
    ("token_names", "token's agents", _token_names),
    ("token", "token", _token),
    ("room", "room", _room),
    ("dispatches", "dispatches", _dispatches),
    ("jobs", "agent's jobs", _jobs),
    ("cloud_only", "Cloud only", _cloud_only),
    ("probe", "live probe", _probe),
]
TOKEN_NAMES_FIX = "Mint the token with the worker's agent name."
CLOUD_ONLY_FIX = (
    "Nothing to fix for Cloud: there it works as written. Offline (and on any self-hosted "
    "server) the agent hears the audio unenhanced; to drop the warning, leave the noise "
    "cancellation out while you develop here."
)
# The hint under a line that is not a failure: what it means, and what to do if anything.
HINTS = {"token_names": TOKEN_NAMES_FIX, "cloud_only": CLOUD_ONLY_FIX}


def run_checks(facts: Facts, rules: list[Rule]) -> list[Check]:
    """One line per topic that has something to say; `rules` are the rules that apply."""
    checks = []
    for key, title, describe in TOPICS:
        seen = describe(facts)
        if seen is None:
            continue
        evidence, status = seen
        failing = next((r for r in rules if r.blocking and r.check == key), None)
        fix = failing.fix if failing else HINTS.get(key, "")
        if failing:
            status = "fail"
        checks.append(Check(key, title, status, evidence, fix if status != "pass" else ""))
    return checks
