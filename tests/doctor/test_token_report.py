"""Token analysis for the doctor: decoded without trust, verified when a secret is given."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstack.tokens import mint_token, unverified_claims
from doctor.token_report import analyze_token

pytestmark = pytest.mark.unit


def test_token_without_room_config() -> None:
    report = analyze_token(
        mint_token(api_key="devkey", api_secret="secret", room="r", identity="u"), "secret"
    )
    assert report.valid_format and report.signature == "valid"
    assert (
        report.agents == [] and report.room == "r" and report.room_join and report.identity == "u"
    )
    assert report.api_key == "devkey"


def test_token_with_room_config_names_the_agent() -> None:
    token = mint_token(
        api_key="devkey",
        api_secret="secret",
        room="r",
        identity="u",
        agent_name="my-interviewer",
        metadata="{}",
    )
    report = analyze_token(token)
    assert report.agent_names == ["my-interviewer"]
    assert report.signature == "unchecked"


def test_expired_token_is_reported_with_its_age() -> None:
    token = mint_token(
        api_key="devkey", api_secret="secret", room="r", identity="u", ttl=timedelta(seconds=10)
    )
    # Judged a minute after its own expiry (exp is whole seconds: no sub-second race).
    report = analyze_token(token, "secret", now=unverified_claims(token)["exp"] + 60)
    assert report.expired and report.expires_in == -60


def test_bad_signature_is_detected() -> None:
    token = mint_token(api_key="devkey", api_secret="another-secret", room="r", identity="u")
    assert analyze_token(token, "secret").signature == "invalid"


@pytest.mark.parametrize("garbage", ["", "hello", "a.b", "x.y.z", "eyJ.e30.", "a.W10.b"])
def test_garbage_gives_a_clear_error(garbage: str) -> None:
    report = analyze_token(garbage, "secret")
    assert not report.valid_format
    assert report.error.startswith("not a LiveKit token")
