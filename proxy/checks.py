"""The individual checks behind a diagnosis: each says what was seen and, when it
fails, what to do. Pure functions of `Evidence`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def name_of(name: str | None) -> str:
    return f"`{name}`" if name else "unnamed"


def run_checks(ev: Evidence, load_threshold: float | None) -> list[Check]:
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
            checks.append(
                Check(
                    "keys",
                    "API keys",
                    "pass",
                    f"accepted ({count(s.num_rooms or 0, 'room')} open)",
                )
            )
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
        busy = load_threshold is not None and w.load >= load_threshold
        checks.append(
            Check(
                "worker",
                "worker",
                "fail" if busy else "pass",
                f"{w.url} healthy, registered name {name_of(w.agent_name)}, {w.active_jobs} active jobs, load {w.load:.2f}",
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
                    f"no name requested, but the worker is named {name_of(w.agent_name)}",
                    "A named worker is only explicitly dispatched: request that name.",
                )
            )
        elif want and w.agent_name != want:
            checks.append(
                Check(
                    "names",
                    "agent name",
                    "fail",
                    f"requested {name_of(want)}, worker registered as {name_of(w.agent_name)}",
                    "Use one LIVEKIT_AGENT_NAME for the worker and for whoever dispatches (one .env).",
                )
            )
        else:
            checks.append(
                Check(
                    "names",
                    "agent name",
                    "pass",
                    f"requested {name_of(want)} = worker's {name_of(w.agent_name)}",
                )
            )
    if (
        w.reachable
        and ev.token
        and ev.token.agent_names
        and w.agent_name not in ev.token.agent_names
    ):
        names = ", ".join(name_of(n) for n in ev.token.agent_names)
        checks.append(
            Check(
                "token_names",
                "token's agents",
                "fail",
                f"the token dispatches {names}, the worker is {name_of(w.agent_name)}",
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
                    f"agent {name_of(want)} joined throw-away room {p.room} in {p.latency_ms:.0f} ms",
                )
            )
        else:
            checks.append(
                Check(
                    "probe",
                    "live probe",
                    "fail",
                    f"dispatched {name_of(want)} into {p.room}: {p.detail}",
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


def dispatches_of(ev: Evidence) -> list[DispatchFacts]:
    assert ev.room is not None
    return [d for d in ev.room.dispatches if d.agent_name == (ev.agent_name or "")]


def agents_present(ev: Evidence) -> list[str]:
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
    agents = agents_present(ev)
    people = [p["identity"] for p in r.participants if p["kind"] != "AGENT"]
    checks = [
        Check(
            "room",
            "room",
            "pass" if agents else "fail",
            f"{r.name!r} exists for {r.age_seconds or 0:.0f} s: {count(len(people), 'participant')}, {count(len(agents), 'agent')} named {name_of(ev.agent_name)}",
            "",
        )
    ]
    mine = dispatches_of(ev)
    listing = (
        ", ".join(
            f"{d.dispatch_id} ({count(d.jobs, 'job')}, {d.age_seconds:.0f} s old)" for d in mine
        )
        or "none"
    )
    untaken = [d for d in mine if d.jobs == 0 and d.age_seconds >= UNTAKEN_AFTER_SECONDS]
    if not mine and not agents:
        fix = "Dispatch it: POST /api/dispatch-agent, or a token whose RoomConfiguration creates the room."
    elif len(mine) > 1 or len(agents) > 1:
        fix = "Dispatch once per room: every CreateDispatch starts another agent (POST /api/dispatch-agent dedupes)."
    elif untaken and not agents:
        fix = "Dispatch again once a worker of that name is registered: the server never retries a dispatch."
    else:
        fix = ""
    checks.append(
        Check(
            "dispatches",
            "dispatches",
            "fail" if fix else "pass",
            f"for {name_of(ev.agent_name)}: {listing}",
            fix,
        )
    )
    return checks
