"""What a webhook delivery means: its body decoded, its event turned into one action.

Everything here is pure (no I/O): :func:`decode_body` turns the raw body into the payload
object, :func:`interpret` turns the event name and payload into an :data:`Action`, which
:mod:`epicstar.web.effects` then records in the database. A payload whose shape is not what
the event promises raises :class:`PayloadError` (the sender gets a 400); an event or action
that epicstar has no use for becomes :class:`Ignore`.

Which deliveries act (research/github.md §1, DESIGN.md fact 1): ``star``/``watch`` events go
to the *starred* repository's hooks, so they only mean "the mirrored user starred this" when
``sender.login`` is that user; anyone else starring the user's own repository is ignored. An
unstar is never decided here: it only asks the next poll for a full walk of the starred list,
which decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from epicstar.discovery import Repository as SourceRepository

__all__ = [
    "Action",
    "Ignore",
    "MarkStarListForWalk",
    "PayloadError",
    "Pong",
    "Refresh",
    "SetFlag",
    "SourceDeleted",
    "TrackStar",
    "UnsupportedContentType",
    "UpdateRepository",
    "decode_body",
    "interpret",
    "media_type",
    "printable",
]

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

_MAX_FORM_FIELDS = 100
_MAX_ID = 2**63 - 1  # a BIGINT column
# Column widths of the repositories table that a payload's strings must fit.
_LIMITS = {"full_name": 300, "default_branch": 255, "language": 100}


class PayloadError(ValueError):
    """The body or payload is malformed (answered 400)."""


class UnsupportedContentType(PayloadError):
    """The body is neither JSON nor a form (answered 415)."""


# ------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Pong:
    zen: str | None


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class TrackStar:
    """The mirrored user starred ``repository``: track it (or refresh it) now."""

    repository: SourceRepository
    starred_at: datetime | None


@dataclass(frozen=True)
class MarkStarListForWalk:
    """The mirrored user unstarred ``github_id``: the next poll walks the whole list."""

    github_id: int


@dataclass(frozen=True)
class Refresh:
    """Something was pushed to ``github_id``: mirror it soon if tracked."""

    github_id: int


@dataclass(frozen=True)
class UpdateRepository:
    """``repository`` was renamed, transferred or edited: copy its metadata if tracked."""

    repository: SourceRepository
    change: str


@dataclass(frozen=True)
class SourceDeleted:
    github_id: int


@dataclass(frozen=True)
class SetFlag:
    """``repository`` archived/unarchived or privatized/publicized: one flag changes."""

    github_id: int
    field: Literal["archived", "private"]
    value: bool
    change: str


Action = (
    Pong
    | Ignore
    | TrackStar
    | MarkStarListForWalk
    | Refresh
    | UpdateRepository
    | SourceDeleted
    | SetFlag
)


# ------------------------------------------------------------------------------ decoding


def media_type(content_type: str | None) -> str:
    """``Content-Type`` without its parameters, in lower case: all that decoding looks at."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The payload object of a JSON body, or of a form body's ``payload`` field."""
    kind = media_type(content_type)
    if kind == JSON_TYPE:
        document = body
    elif kind == FORM_TYPE:
        document = _form_payload(body)
    else:
        raise UnsupportedContentType(
            f"unsupported content type '{printable(kind)}': expected {JSON_TYPE} or {FORM_TYPE}"
        )
    try:
        payload = json.loads(document)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise PayloadError("the payload is not valid JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("the payload is not a JSON object")
    return payload


def _form_payload(body: bytes) -> bytes:
    try:
        fields = parse_qs(body, keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
    except ValueError:
        raise PayloadError("the form body is malformed") from None
    values = fields.get(b"payload", [])
    if len(values) != 1:
        raise PayloadError("the form body must hold exactly one 'payload' field")
    return values[0]


# ------------------------------------------------------------------------- interpreting


def interpret(
    event: str, payload: Mapping[str, Any], mirrored_login: Callable[[], str | None]
) -> Action:
    """The action one delivery asks for.

    ``mirrored_login`` gives the login of the user whose stars are mirrored (``None`` when
    unknown); it is only called for star events.
    """
    action = payload.get("action")
    if event == "ping":
        zen = payload.get("zen")
        return Pong(zen[:200] if isinstance(zen, str) and _storable(zen) else None)
    if event == "star" and action == "created":
        return _star(payload, mirrored_login, starred_at=_starred_at(payload))
    if event == "watch" and action == "started":
        return _star(payload, mirrored_login, starred_at=None)
    if event == "star" and action == "deleted":
        not_ours = _not_the_user(payload, mirrored_login)
        if not_ours:
            return Ignore(not_ours)
        return MarkStarListForWalk(_repository_id(payload))
    if event == "push":
        return Refresh(_repository_id(payload))
    if event == "repository":
        return _repository_event(payload, action)
    if event in ("star", "watch"):
        return Ignore(f"{event} action '{printable(action)}' is not handled")
    return Ignore(f"event '{printable(event)}' is not handled")


def _star(
    payload: Mapping[str, Any],
    mirrored_login: Callable[[], str | None],
    *,
    starred_at: datetime | None,
) -> Action:
    not_ours = _not_the_user(payload, mirrored_login)
    if not_ours:
        return Ignore(not_ours)
    return TrackStar(_repository(payload), starred_at)


def _repository_event(payload: Mapping[str, Any], action: Any) -> Action:
    if action in ("renamed", "transferred", "edited"):
        return UpdateRepository(_repository(payload), str(action))
    if action == "deleted":
        return SourceDeleted(_repository_id(payload))
    if action in ("archived", "unarchived"):
        return SetFlag(_repository_id(payload), "archived", action == "archived", str(action))
    if action in ("privatized", "publicized"):
        return SetFlag(_repository_id(payload), "private", action == "privatized", str(action))
    return Ignore(f"repository action '{printable(action)}' is not handled")


def _not_the_user(
    payload: Mapping[str, Any], mirrored_login: Callable[[], str | None]
) -> str | None:
    """Why this star event is not the mirrored user's, or None when it is."""
    sender = payload.get("sender")
    login = sender.get("login") if isinstance(sender, Mapping) else None
    if not isinstance(login, str) or not login:
        raise PayloadError("field 'sender.login' is missing or not a string")
    mirrored = mirrored_login()
    if not mirrored:
        return (
            "the mirrored user is unknown "
            "(set EPICSTAR_GITHUB_USER, or EPICSTAR_GITHUB_TOKEN so its login can be read)"
        )
    if login.casefold() != mirrored.casefold():
        return "not the mirrored user's star"
    return None


def _repository(payload: Mapping[str, Any]) -> SourceRepository:
    data = payload.get("repository")
    if not isinstance(data, Mapping):
        raise PayloadError("field 'repository' is missing or not an object")
    try:
        source = SourceRepository.from_api(data)
    except ValueError as error:
        raise PayloadError(f"repository: {error}") from None
    _check_storable(source)
    return source


def _repository_id(payload: Mapping[str, Any]) -> int:
    data = payload.get("repository")
    value = data.get("id") if isinstance(data, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise PayloadError("field 'repository.id' is missing or not a repository id")
    return value


def _check_storable(source: SourceRepository) -> None:
    """The values fit the repositories table on every backend (PostgreSQL is strict)."""
    if not 0 < source.id <= _MAX_ID:
        raise PayloadError("field 'repository.id' is not a repository id")
    if not 0 <= source.size_kb <= _MAX_ID:
        raise PayloadError("field 'repository.size' is out of range")
    texts = {
        "full_name": source.full_name,
        "owner.login": source.owner,
        "name": source.name,
        "clone_url": source.clone_url,
        "html_url": source.html_url,
        "description": source.description,
        "default_branch": source.default_branch,
        "language": source.language,
    }
    for name, value in texts.items():
        if value is None:
            continue
        if not _storable(value):
            raise PayloadError(f"field 'repository.{name}' holds characters that cannot be stored")
        limit = _LIMITS.get(name)
        if limit is not None and len(value) > limit:
            raise PayloadError(f"field 'repository.{name}' is longer than {limit} characters")


def _starred_at(payload: Mapping[str, Any]) -> datetime | None:
    """``starred_at`` as UTC, or None when absent or unreadable (the poll knows better)."""
    value = payload.get("starred_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(value: Any, limit: int = 64) -> str:
    """A payload value made safe to show in a message, a log line or a database column."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else f"({type(value).__name__})"
    shown = "".join(char if char.isprintable() else "?" for char in text[:limit])
    return shown + ("…" if len(text) > limit else "")
