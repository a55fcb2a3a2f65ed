"""Why did the agent not join? Checks with evidence, and a one-sentence verdict.

Pure logic over `Evidence` (see evidence.py), shared by POST /api/diagnose and
`devstack doctor`. Each check says what was seen and, when it fails, what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from proxy.evidence import DispatchFacts, Evidence

Status = Literal["pass", "fail", "unknown"]
# How long a dispatch may show no job before we call it untaken: jobs appear in the
# dispatch state a few seconds after the worker accepted them.
UNTAKEN_AFTER_SECONDS = 10.0


@dataclass
class Check:
    key: str
    title: str
    status: Status
    evidence: str
    fix: str = ""


@dataclass
class Diagnosis:
    cause: str
    verdict: str
    blocking: bool
    checks: list[Check] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "checks": [asdict(c) for c in self.checks],
            "evidence": self.evidence,
        }


def _name(name: str | None) -> str:
    return f"`{name}`" if name else "unnamed"


def _checks(ev: Evidence, load_threshold: float) -> list[Check]:
    checks: list[Check] = []
    s, w, want = ev.server, ev.worker, ev.agent_name
    if not s.reachable:
        checks.append(
            Check(
                "server",
                "server",
                "fail",
                f"{s.url} does not answer ({s.detail})",
                "Start livekit-server (`make dev`) or fix LIVEKIT_URL.",
            )
        )
    else:
        checks.append(Check("server", "server", "pass", f"{s.url} answers"))
        if s.auth == "ok":
            checks.append(Check("keys", "API keys", "pass", f"accepted ({s.num_rooms} rooms)"))
        else:
            checks.append(
                Check(
                    "keys",
                    "API keys",
                    "fail",
                    s.detail,
                    "Use the key/secret pair the server is configured with (livekit.yaml `keys`).",
                )
            )

    if not w.reachable:
        checks.append(
            Check(
                "worker",
                "worker",
                "fail",
                f"nothing answers at {w.url} ({w.detail})",
                "Start the worker (`python -m agent dev`), or point --worker-url / AGENT_HEALTH_URL at its health port.",
            )
        )
    elif not w.healthy:
        checks.append(
            Check(
                "worker",
                "worker",
                "fail",
                f"{w.url} says unhealthy: {w.detail}",
                "Its LIVEKIT_URL/KEY/SECRET are probably wrong; see the worker log.",
            )
        )
    else:
        busy = w.load >= load_threshold
        checks.append(
            Check(
                "worker",
                "worker",
                "fail" if busy else "pass",
                f"{w.url} healthy, registered name {_name(w.agent_name)}, {w.active_jobs} active jobs, load {w.load:.2f}",
                f"The worker reports load {w.load:.2f} ≥ {load_threshold}: it refuses new jobs. Add workers or raise its load_threshold."
                if busy
                else "",
            )
        )

    if w.reachable and want is not None:
        if not want and w.agent_name:
            checks.append(
                Check(
                    "names",
                    "agent name",
                    "fail",
                    f"no name requested, but the worker is named {_name(w.agent_name)}",
                    "A named worker is only explicitly dispatched: request that name.",
                )
            )
        elif want and w.agent_name != want:
            checks.append(
                Check(
                    "names",
                    "agent name",
                    "fail",
                    f"requested {_name(want)}, worker registered as {_name(w.agent_name)}",
                    "Use one LIVEKIT_AGENT_NAME for the worker and for whoever dispatches (one .env).",
                )
            )
        else:
            checks.append(
                Check(
                    "names",
                    "agent name",
                    "pass",
                    f"requested {_name(want)} = worker's {_name(w.agent_name)}",
                )
            )
    if (
        w.reachable
        and ev.token
        and ev.token.agent_names
        and w.agent_name not in ev.token.agent_names
    ):
        names = ", ".join(_name(n) for n in ev.token.agent_names)
        checks.append(
            Check(
                "token_names",
                "token's agents",
                "fail",
                f"the token dispatches {names}, the worker is {_name(w.agent_name)}",
                "Mint the token with the worker's agent name.",
            )
        )
    if ev.token:
        checks.append(_token_check(ev))
    if ev.room:
        checks.extend(_room_checks(ev))
    if ev.probe:
        p = ev.probe
        if p.joined:
            checks.append(
                Check(
                    "probe",
                    "live probe",
                    "pass",
                    f"agent {_name(want)} joined throw-away room {p.room} in {p.latency_ms:.0f} ms",
                )
            )
        else:
            checks.append(
                Check(
                    "probe",
                    "live probe",
                    "fail",
                    f"dispatched {_name(want)} into {p.room}: {p.detail}",
                    "No worker of that name takes jobs on this server: check the worker's LIVEKIT_URL, key and secret, and its log.",
                )
            )
    return checks


def _token_check(ev: Evidence) -> Check:
    t = ev.token
    assert t is not None
    if not t.valid_format:
        return Check(
            "token",
            "token",
            "fail",
            t.error,
            "Pass the JWT your app gives the client (three base64url parts).",
        )
    facts = [f"identity {t.identity!r}", f"room {t.room!r}", f"agents {t.agent_names or 'none'}"]
    if t.expires_in is not None:
        facts.append(
            f"expired {-t.expires_in:.0f} s ago"
            if t.expired
            else f"expires in {t.expires_in:.0f} s"
        )
    facts.append(f"signature {t.signature}")
    problems = []
    if t.expired:
        problems.append("mint a fresh token")
    if t.signature == "invalid":
        problems.append("sign it with the server's secret")
    if not t.room_join:
        problems.append("grant roomJoin")
    status: Status = "fail" if problems else "pass"
    return Check(
        "token", "token", status, ", ".join(facts), "; ".join(dict.fromkeys(problems)).capitalize()
    )


def _mine(ev: Evidence) -> list[DispatchFacts]:
    assert ev.room is not None
    return [d for d in ev.room.dispatches if d.agent_name == (ev.agent_name or "")]


def _agents_present(ev: Evidence) -> list[str]:
    assert ev.room is not None
    return [
        p["identity"]
        for p in ev.room.participants
        if p["kind"] == "AGENT" and p["agent_name"] == (ev.agent_name or "")
    ]


def _room_checks(ev: Evidence) -> list[Check]:
    r = ev.room
    assert r is not None
    if not r.exists:
        return [
            Check(
                "room",
                "room",
                "unknown",
                f"room {r.name!r} does not exist now",
                "It exists while someone is in it, and for empty_timeout/departure_timeout after.",
            )
        ]
    agents = _agents_present(ev)
    people = [p["identity"] for p in r.participants if p["kind"] != "AGENT"]
    checks = [
        Check(
            "room",
            "room",
            "pass" if agents else "fail",
            f"{r.name!r} exists for {r.age_seconds} s with {len(people)} participant(s) and {len(agents)} agent(s) named {_name(ev.agent_name)}",
            "" if agents else "See the dispatch check below.",
        )
    ]
    mine = _mine(ev)
    listing = (
        ", ".join(f"{d.dispatch_id} ({d.jobs} jobs, {d.age_seconds:.0f} s old)" for d in mine)
        or "none"
    )
    dup = len(mine) > 1 or len(agents) > 1
    untaken = [d for d in mine if d.jobs == 0 and d.age_seconds >= UNTAKEN_AFTER_SECONDS]
    status: Status = "fail" if (not mine or dup or (untaken and not agents)) else "pass"
    checks.append(
        Check(
            "dispatches",
            "dispatches",
            status,
            f"for {_name(ev.agent_name)}: {listing}",
            "" if status == "pass" else "See the verdict.",
        )
    )
    return checks


def _verdict(ev: Evidence, checks: list[Check], load_threshold: float) -> tuple[str, str, bool]:
    """(cause, one sentence, blocking), most fundamental cause first."""
    s, w, want, r, t, p = ev.server, ev.worker, ev.agent_name, ev.room, ev.token, ev.probe
    name = _name(want)
    if not s.reachable:
        return (
            "server_unreachable",
            f"livekit-server at {s.url} is not reachable ({s.detail}); start it or fix LIVEKIT_URL",
            True,
        )
    if s.auth == "bad_key":
        return "bad_api_key", f"{s.detail} at {s.url}; the key in use is not in its `keys`", True
    if s.auth == "bad_secret":
        return "bad_api_secret", f"{s.detail} at {s.url}; fix LIVEKIT_API_SECRET", True
    if s.auth != "ok":
        return "server_refused", f"{s.url} refused the API call: {s.detail}", True
    if t and not t.valid_format:
        return "token_invalid", f"the token is {t.error}", True
    if t and t.expired:
        return (
            "token_expired",
            f"the token expired {-(t.expires_in or 0):.0f} s ago; the client cannot join with it",
            True,
        )
    if t and t.signature == "invalid":
        return (
            "token_bad_signature",
            "the token's signature does not match the server's secret; the client cannot join with it",
            True,
        )

    agents = _agents_present(ev) if r and r.exists else []
    mine = _mine(ev) if r and r.exists else []
    if len(agents) > 1:
        return (
            "duplicate_agents",
            f"{len(agents)} agents named {name} are in room `{r.name}` from {len(mine)} dispatches: every CreateDispatch launches another agent; dispatch once (POST /api/dispatch-agent dedupes)",
            True,
        )  # type: ignore[union-attr]
    if agents:
        return (
            "agent_present",
            f"agent {name} is in room `{r.name}` as {agents[0]}: nothing blocks it",
            False,
        )  # type: ignore[union-attr]

    if not w.reachable:
        return (
            "worker_down",
            f"no agent worker answers at {w.url}: nothing can take a dispatch for {name}; start the worker",
            True,
        )
    if not w.healthy:
        return (
            "worker_unhealthy",
            f"the worker at {w.url} is unhealthy ({w.detail}): it could not connect to livekit-server; check its URL and keys",
            True,
        )
    if p and not p.joined:
        return (
            "worker_not_registered",
            f"a probe dispatch of {name} got no agent although the worker at {w.url} answers as {_name(w.agent_name)}: it is not registered with {s.url} (another server, or another key/secret; see its log for 401)",
            True,
        )
    if want and not w.agent_name:
        return (
            "worker_unnamed",
            f"the worker at {w.url} is unnamed, so it only takes automatic dispatch; a dispatch for {name} never reaches it; set LIVEKIT_AGENT_NAME={want} on the worker",
            True,
        )
    if want is not None and w.agent_name != want:
        return (
            "name_mismatch",
            f"you dispatch {name} but the worker at {w.url} is registered as {_name(w.agent_name)}: the server accepts the dispatch and no worker takes it; use one name",
            True,
        )
    if w.load >= load_threshold:
        return (
            "worker_full",
            f"the worker at {w.url} reports load {w.load:.2f} ≥ {load_threshold}: it marks itself full and takes no job",
            True,
        )

    if r and r.exists:
        room_age = f"{r.age_seconds:.0f} s" if r.age_seconds is not None else "a while"
        if t and want in t.agent_names and not mine:
            return (
                "token_ignored_room_existed",
                f"agent name in token {name} matches the worker, but room `{r.name}` already existed for {room_age}, so the token's agent dispatch was ignored; use a fresh room name or dispatch explicitly (the room closes {r.departure_timeout} s after its last participant leaves, or after {r.empty_timeout} s empty)",
                True,
            )
        untaken = [d for d in mine if d.jobs == 0 and d.age_seconds >= UNTAKEN_AFTER_SECONDS]
        if mine and len(untaken) == len(mine):
            d = untaken[-1]
            if p and p.joined:
                return (
                    "dispatch_before_worker",
                    f"dispatch {d.dispatch_id} has 0 jobs, yet the worker takes new dispatches (probe joined in {p.latency_ms:.0f} ms): it was created before the worker registered (or while it was full) and the server never retries it; dispatch again",
                    True,
                )
            return (
                "dispatch_not_taken",
                f"dispatch {d.dispatch_id} has 0 jobs after {d.age_seconds:.0f} s: no worker named {name} took it on {s.url}; either it registered after the dispatch (never retried) or it is registered elsewhere; run with --probe to tell",
                True,
            )
        if mine and all(d.jobs for d in mine):
            return (
                "agent_left",
                f"dispatch {mine[-1].dispatch_id} has a job but no agent {name} is in room `{r.name}`: it joined and left, or its job failed; see the worker log and dispatch again",
                True,
            )
        if not mine:
            return (
                "not_dispatched",
                f"no dispatch for {name} in room `{r.name}`: a named worker is never dispatched automatically; call POST /api/dispatch-agent or put the agent in the token's room config",
                True,
            )
        return (
            "dispatch_pending",
            f"dispatch {mine[-1].dispatch_id} for {name} is {mine[-1].age_seconds:.0f} s old and its agent is not in the room yet",
            False,
        )
    if r and not r.exists:
        return (
            "no_room",
            f"room `{r.name}` does not exist: nobody is in it and no dispatch created it; the worker and names check out",
            False,
        )
    extra = f", and a probe agent joined in {p.latency_ms:.0f} ms" if p and p.joined else ""
    return "ok", f"server, keys, worker and agent name {name} check out{extra}", False


def diagnose(ev: Evidence, load_threshold: float = 1.0) -> Diagnosis:
    """Checks and the verdict for `ev`. `load_threshold` is the worker's (AGENT_LOAD_THRESHOLD;
    livekit-agents' own production default is 0.7)."""
    checks = _checks(ev, load_threshold)
    cause, verdict, blocking = _verdict(ev, checks, load_threshold)
    return Diagnosis(cause, verdict, blocking, checks, ev.to_dict())
