"""Why did the agent not join? The one-sentence verdict over the checks.

Pure logic over `Evidence` (see evidence.py), shared by POST /api/diagnose and
`devstack doctor`: the most fundamental cause wins."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from proxy.checks import (
    UNTAKEN_AFTER_SECONDS,
    Check,
    agents_present,
    dispatches_of,
    name_of,
    run_checks,
)
from proxy.evidence import Evidence


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


def _verdict(ev: Evidence, load_threshold: float | None) -> tuple[str, str, bool]:
    """(cause, one sentence, blocking), most fundamental cause first."""
    s, w, want, r, t, p = ev.server, ev.worker, ev.agent_name, ev.room, ev.token, ev.probe
    name = name_of(want)
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

    agents = agents_present(ev) if r and r.exists else []
    mine = dispatches_of(ev) if r and r.exists else []
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
            f"a probe dispatch of {name} got no agent although the worker at {w.url} answers as {name_of(w.agent_name)}: it is not registered with {s.url} (another server, or another key/secret; see its log for 401)",
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
            f"you dispatch {name} but the worker at {w.url} is registered as {name_of(w.agent_name)}: the server accepts the dispatch and no worker takes it; use one name",
            True,
        )
    if load_threshold is not None and w.load >= load_threshold:
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


def diagnose(ev: Evidence, load_threshold: float | None = None) -> Diagnosis:
    """Checks and the verdict for `ev`. `load_threshold` is the worker's (AGENT_LOAD_THRESHOLD;
    livekit-agents' own production default is 0.7)."""
    checks = run_checks(ev, load_threshold)
    cause, verdict, blocking = _verdict(ev, load_threshold)
    return Diagnosis(cause, verdict, blocking, checks, ev.to_dict())
