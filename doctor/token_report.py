"""What a participant token says, read without trusting it, then verified if we can."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import jwt

from devstack.tokens import TokenFormatError, room_config_agents, unverified_claims


@dataclass
class TokenReport:
    """A token's claims as a user needs them for 'why did my agent not join'."""

    valid_format: bool
    error: str = ""
    identity: str = ""
    api_key: str = ""
    room: str = ""
    room_join: bool = False
    issued_at: int | None = None
    expires_at: int | None = None
    expires_in: float | None = None  # seconds; negative when expired
    signature: str = "unchecked"  # "valid" | "invalid" | "unchecked"
    agents: list[dict[str, str]] = field(default_factory=list)

    @property
    def expired(self) -> bool:
        return self.expires_in is not None and self.expires_in <= 0

    @property
    def agent_names(self) -> list[str]:
        return [a["agent_name"] for a in self.agents]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "expired": self.expired}


def analyze_token(token: str, secret: str | None = None, now: float | None = None) -> TokenReport:
    """Decode `token`; with `secret`, also verify its HS256 signature. Never raises."""
    now = time.time() if now is None else now
    try:
        claims = unverified_claims(token)
    except TokenFormatError as exc:
        return TokenReport(valid_format=False, error=f"not a LiveKit token: {exc}")
    video = claims.get("video") if isinstance(claims.get("video"), dict) else {}
    exp = claims.get("exp")
    report = TokenReport(
        valid_format=True,
        identity=str(claims.get("sub", "")),
        api_key=str(claims.get("iss", "")),
        room=str(video.get("room", "")),
        room_join=bool(video.get("roomJoin", False)),
        issued_at=claims.get("nbf") or claims.get("iat"),
        expires_at=exp if isinstance(exp, int) else None,
        expires_in=round(exp - now, 1) if isinstance(exp, int | float) else None,
        agents=room_config_agents(claims),
    )
    if secret:
        try:
            # Expiry is reported separately above; here only the signature is in question.
            jwt.decode(
                token.strip(),
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False},
            )
            report.signature = "valid"
        except jwt.InvalidSignatureError:
            report.signature = "invalid"
        except jwt.PyJWTError as exc:
            report.signature = "invalid"
            report.error = f"cannot verify: {exc}"
    return report
