"""Password hashes (core.access); ``python -m core hash-password`` is tested in tests/cli/test_access.py."""

from __future__ import annotations

import re

import pytest

from core.access import hash_password, parse_hash, verify_password
from core.errors import AccessSetupError


def test_a_hash_verifies_its_password_only() -> None:
    hashed = hash_password("correct horse")
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct hors", hashed)
    assert not verify_password("", hashed)


def test_hashes_are_salted_and_safe_to_paste_unquoted() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first != second  # a fresh salt each time
    for hashed in (first, second):
        assert re.fullmatch(r"scrypt:16384:8:1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+", hashed)  # no $, quotes, + or /
        assert "same" not in hashed


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(AccessSetupError, match="empty"):
        hash_password("")


@pytest.mark.parametrize(
    ("configured", "words"),
    [
        ("hunter2", "not a password hash"),
        ("pbkdf2:sha256:1:salt:digest", "not a password hash"),
        ("scrypt:16384:8:1:a+b/:c", "damaged"),  # not URL-safe base64
        ("scrypt:many:8:1:AAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA", "damaged"),
        ("scrypt:1000:8:1:AAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA", "parameters"),  # cost not a power of two
        ("scrypt:1048576:8:1:AAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA", "parameters"),  # would need 1 GiB to check
    ],
)
def test_anything_but_a_sift_hash_is_refused_without_repeating_it(configured: str, words: str) -> None:
    with pytest.raises(AccessSetupError, match=words) as refused:
        parse_hash(configured, setting="SIFT_PASSWORD")
    message = str(refused.value)
    assert "SIFT_PASSWORD" in message and "python -m core hash-password" in message
    assert configured not in message


def test_a_tampered_hash_does_not_verify() -> None:
    hashed = hash_password("correct horse")
    scheme, cost, block, parallel, salt, _digest = hashed.split(":")
    other = hash_password("something else").split(":")[5]
    assert not verify_password("correct horse", ":".join((scheme, cost, block, parallel, salt, other)))
