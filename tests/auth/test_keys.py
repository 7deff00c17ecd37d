"""The key format, its Argon2id hash, and scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import extract_parameters

from epicstar.auth import keys
from epicstar.auth.keys import KEY_PATTERN, generate_key, hash_secret, secret_matches, split_key
from epicstar.auth.scopes import Scope, grants, parse_scopes
from epicstar.auth.store import parse_expiry


def test_a_new_key_has_the_documented_shape_and_splits_back() -> None:
    keys = [generate_key() for _ in range(50)]
    for key in keys:
        assert KEY_PATTERN.fullmatch(key.full)
        assert key.full.startswith(f"esk_{key.prefix}_")
        assert len(key.prefix) >= 8
        assert len(key.secret) >= 32
        assert split_key(key.full) == (key.prefix, key.secret)
    assert len({key.prefix for key in keys}) == 50
    assert len({key.secret for key in keys}) == 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "esk_",
        "esk_short_" + "a" * 40,  # a prefix under 8 characters
        "esk_abcdefgh_tooshort",
        "Bearer esk_abcdefgh_" + "a" * 40,
        "esk_ABCDEFGH_" + "a" * 40,  # prefixes are lower case
        "esk_abcdefgh_" + "a" * 40 + "\n",
        "esk_abcdefgh_" + "a" * 39 + "-",
    ],
)
def test_malformed_keys_do_not_split(text: str) -> None:
    assert split_key(text) is None


def test_the_hash_is_argon2id_salted_and_holds_no_secret() -> None:
    key = generate_key()
    first, second = hash_secret(key.secret), hash_secret(key.secret)
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert key.secret not in first
    assert secret_matches(first, key.secret)
    assert secret_matches(second, key.secret)
    assert not secret_matches(first, generate_key().secret)
    assert not secret_matches("not a hash", key.secret)
    assert not secret_matches(first[:-4], key.secret)


def test_scopes_imply_the_smaller_ones_and_agent_stands_apart() -> None:
    assert grants(["read"]) == {Scope.READ}
    assert grants(["write"]) == {Scope.READ, Scope.WRITE}
    assert grants(["admin"]) == {Scope.READ, Scope.WRITE, Scope.ADMIN}
    assert grants(["agent"]) == {Scope.AGENT}
    assert grants(["agent", "read"]) == {Scope.AGENT, Scope.READ}
    assert grants(["someday"]) == frozenset()


def test_scopes_are_validated_and_deduplicated() -> None:
    assert parse_scopes(["WRITE", "read", "write"]) == ["read", "write"]
    with pytest.raises(ValueError, match="unknown scope 'owner'"):
        parse_scopes(["owner"])
    with pytest.raises(ValueError, match="at least one scope"):
        parse_scopes([])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_lifetimes(text: str, expected: timedelta) -> None:
    assert parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d", "1.5h", "-3d", "0s", "5y", "3651d", "99999999d"])
def test_bad_lifetimes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|lifetime"):
        parse_expiry(text)


def test_the_stand_in_for_an_unknown_prefix_costs_a_real_check_and_is_not_made_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = hash_secret(generate_key().secret)
    hashed = 0

    def counting_hash(_secret: str) -> str:
        nonlocal hashed
        hashed += 1
        return real

    monkeypatch.setattr(keys, "_STAND_IN", [])
    monkeypatch.setattr(keys, "hash_secret", counting_hash)
    stand_in = keys.stand_in_hash()
    assert hashed == 0  # hashing costs a third of a second of CPU in every serving process
    assert extract_parameters(stand_in) == extract_parameters(real)
    assert not secret_matches(stand_in, generate_key().secret)
