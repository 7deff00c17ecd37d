"""The repository fields a mirror needs, read from GitHub's repository objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["Repository"]


@dataclass(frozen=True)
class Repository:
    """The repository fields a mirror needs (research/github.md §4)."""

    id: int
    full_name: str
    owner: str
    name: str
    clone_url: str
    html_url: str
    description: str | None
    default_branch: str | None
    private: bool
    archived: bool
    disabled: bool
    fork: bool
    size_kb: int
    pushed_at: str | None
    language: str | None = None
    has_wiki: bool | None = None
    """Whether the wiki is turned on (it may still have no page, so no git repository)."""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Repository:
        """Build from a repository object of the REST API (also the starred list's ``repo``).

        Raises :class:`ValueError` naming the first missing or mistyped field.
        """
        owner = data.get("owner")
        if not isinstance(owner, Mapping):
            raise ValueError("field 'owner' is missing or not an object")
        return cls(
            id=_int(data, "id"),
            full_name=_str(data, "full_name"),
            owner=_str(owner, "login"),
            name=_str(data, "name"),
            clone_url=_str(data, "clone_url"),
            html_url=_str(data, "html_url"),
            description=_opt_str(data, "description"),
            default_branch=_opt_str(data, "default_branch"),
            private=_bool(data, "private"),
            archived=_bool(data, "archived"),
            disabled=_bool(data, "disabled"),
            fork=_bool(data, "fork"),
            size_kb=_int(data, "size", default=0),
            pushed_at=_timestamp(data, "pushed_at"),
            language=_opt_str(data, "language"),
            has_wiki=_opt_bool(data, "has_wiki"),
        )


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"field '{key}' is missing or not a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field '{key}' is not a string")
    return value


def _int(data: Mapping[str, Any], key: str, *, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"field '{key}' is missing or not an integer")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"field '{key}' is not a boolean")
    return value


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"field '{key}' is not a boolean")
    return value


def _timestamp(data: Mapping[str, Any], key: str) -> str | None:
    """ISO-8601 string; webhook payloads may carry epoch seconds instead."""
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    raise ValueError(f"field '{key}' is not a timestamp")
