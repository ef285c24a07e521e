"""Configured secret values are removed literally from any text, wherever it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.core.redact import REDACTED, redact, register_secret, scrub
from cockpit.core.timeline import Timeline


def test_a_registered_secret_is_removed_whatever_surrounds_it() -> None:
    token = "vx-7Qm2LpZr9Tk"  # no pattern would recognise this shape
    assert token in scrub(f"401: token {token} is revoked")  # no pattern knows this shape
    register_secret(token)
    assert scrub(f"401: token {token} is revoked") == f"401: token {REDACTED} is revoked"
    assert scrub(f"you typed {token!r}") == f"you typed '{REDACTED}'"
    assert token not in str(redact({"summary": f"x{token}y", "list": [token]}))


def test_the_forms_a_secret_travels_in_are_removed_too() -> None:
    register_secret("postgresql://app:p@ss w0rd!@db:5432/app")
    text = "connect failed for p@ss w0rd! (url-encoded: p%40ss%20w0rd%21)"
    assert "w0rd" not in scrub(text)


def test_a_secret_that_contains_another_is_removed_whole() -> None:
    register_secret("abcd")
    register_secret("abcdefgh-long")
    assert scrub("key abcdefgh-long here") == f"key {REDACTED} here"


@pytest.mark.parametrize("short", ["", "a", "ab", "abc"])
def test_too_short_a_value_is_not_shredded_through_every_text(short: str) -> None:
    register_secret(short)
    assert scrub("a banana cab") == "a banana cab"


def test_a_provider_token_never_reaches_the_timeline_whatever_echoes_it(tmp_path: Path) -> None:
    from providers.vercel import VercelProvider

    token = "Zq8-not-a-known-token-shape"
    VercelProvider.Options.model_validate({"base_url": "http://127.0.0.1:1", "token": token})
    with Timeline(tmp_path / "t.db") as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        timeline.record(incident, "note", f"the platform said: token {token} revoked")
        timeline.record(incident, "plan.refused", f"you typed {token!r}", {"typed": token})
    assert token.encode() not in (tmp_path / "t.db").read_bytes()
