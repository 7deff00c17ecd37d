"""What a key may do: ``read`` ⊂ ``write`` ⊂ ``admin``; ``agent`` and ``feed`` stand apart."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Scope(enum.StrEnum):
    READ = "read"  # every GET
    WRITE = "write"  # read, and every action
    ADMIN = "admin"  # write, and keys and the audit log
    AGENT = "agent"  # the agent's own routes only
    FEED = "feed"  # the Atom feed only: the one key accepted in a URL


_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.WRITE: frozenset({Scope.READ, Scope.WRITE}),
    Scope.ADMIN: frozenset({Scope.READ, Scope.WRITE, Scope.ADMIN}),
    Scope.AGENT: frozenset({Scope.AGENT}),
    Scope.FEED: frozenset({Scope.FEED}),
}


def grants(scopes: Iterable[str]) -> frozenset[Scope]:
    """Every scope that keys with ``scopes`` hold, implied ones included (unknown ones ignored)."""
    held: set[Scope] = set()
    for name in scopes:
        if name in Scope.__members__.values():
            held |= _IMPLIES[Scope(name)]
    return frozenset(held)


def may_grant(held: frozenset[Scope], scope: Scope) -> bool:
    """Whether a key holding ``held`` may make a key of ``scope``: one of its own scopes, or
    ``feed`` for an admin (a feed key reads less than any read key)."""
    return scope in held or (scope == Scope.FEED and Scope.ADMIN in held)


def parse_scopes(names: Iterable[str]) -> list[str]:
    """The scopes named, validated, without duplicates, in a stable order."""
    wanted: set[Scope] = set()
    for name in names:
        text = name.strip().lower()
        try:
            wanted.add(Scope(text))
        except ValueError:
            allowed = ", ".join(scope.value for scope in Scope)
            raise ValueError(f"unknown scope '{name}': choose from {allowed}") from None
    if not wanted:
        raise ValueError("a key needs at least one scope")
    return [scope.value for scope in Scope if scope in wanted]
