"""Criteria of OneDev's project query language, evaluated in memory.

Matching as OneDev does it: ``"Path"`` and ``children of``/``forks of`` use Ant-style
wildcards (``*``/``?`` inside a segment, ``**`` across segments), case-insensitively;
``"Name"``/``"Key"``/``"Service Desk Email Address"`` go through SQL ``LIKE`` on lower-cased
values after ``*`` -> ``%`` (so ``_`` and ``%`` are wildcards too); an unknown field is
``500 Field not found: X``, a field/operator mismatch a 500 as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from epicstar.sandbox.onedev_data import Project, RestError

FIELDS = (
    "Name",
    "Key",
    "Path",
    "Label",
    "Service Desk Email Address",
    "Id",
    "Description",
    "Last Activity Date",
)
IS_FIELDS = ("Name", "Id", "Key", "Label", "Service Desk Email Address", "Path")


class Context(Protocol):
    """What criteria need to know besides the project itself."""

    def get(self, project_id: int) -> Project | None: ...

    def children(self, project_id: int) -> Sequence[Project]: ...

    @property
    def caller(self) -> str | None: ...

    def user_exists(self, login: str) -> bool: ...


Criterion = Callable[[Project, Context], bool]


# ---------------------------------------------------------------------------- matching


def like(pattern: str, value: str | None) -> bool:
    """Lower-cased SQL LIKE after ``*`` -> ``%`` (``%`` any run, ``_`` one char, ``\\`` escape)."""
    if value is None:
        return False
    out = []
    chars = iter(pattern.lower().replace("*", "%"))
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.fullmatch("".join(out), value.lower(), re.DOTALL) is not None


def _segment_regex(segment: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in segment)


def ant_match(pattern: str, path: str) -> bool:
    """Ant-style path match: ``*``/``?`` inside a segment, ``**`` for any number of segments."""
    pat = [p for p in pattern.lower().split("/") if p]
    parts = [p for p in path.lower().split("/") if p]

    def walk(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(parts)
        if pat[i] == "**":
            return any(walk(i + 1, k) for k in range(j, len(parts) + 1))
        if j == len(parts):
            return False
        return re.fullmatch(_segment_regex(pat[i]), parts[j], re.DOTALL) is not None and walk(
            i + 1, j + 1
        )

    return walk(0, 0)


def _parse_long(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RestError(500, f"Invalid number: {value}") from None


def _parse_date(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RestError(500, f"Unrecognized date: {value}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _field_criterion(field_name: str, operator: str, value: str) -> Criterion:
    if operator in ("Is", "IsNot"):
        if field_name == "Id":
            number = _parse_long(value)
            return lambda p, _c: p.id == number
        if field_name == "Path":
            return lambda p, _c: ant_match(value, p.path)
        if field_name == "Label":
            raise RestError(500, f"Unable to find label spec: {value}")
        attr = {
            "Name": "name",
            "Key": "key",
            "Service Desk Email Address": "service_desk_email_address",
        }[field_name]
        return lambda p, _c: like(value, getattr(p, attr))
    if operator in ("IsGreaterThan", "IsLessThan"):
        number = _parse_long(value)
        if operator == "IsGreaterThan":
            return lambda p, _c: p.id > number
        return lambda p, _c: p.id < number
    if operator == "Contains":
        return lambda p, _c: like(f"%{value}%", p.description)
    moment = _parse_date(value)
    if operator == "IsSince":
        return lambda p, _c: p.last_activity >= moment
    return lambda p, _c: p.last_activity <= moment


def check_field(field_name: str, operator: str) -> None:
    if field_name not in FIELDS:
        raise RestError(500, f"Field not found: {field_name}")
    allowed = {
        "Contains": ("Description",),
        "Is": IS_FIELDS,
        "IsNot": IS_FIELDS,
        "IsGreaterThan": ("Id",),
        "IsLessThan": ("Id",),
        "IsUntil": ("Last Activity Date",),
        "IsSince": ("Last Activity Date",),
    }[operator]
    if field_name not in allowed:
        raise RestError(500, f"Field '{field_name}' is not applicable for operator '{operator}'")


def any_of(criteria: list[Criterion]) -> Criterion:
    return lambda p, c: any(f(p, c) for f in criteria)


def all_of(criteria: list[Criterion]) -> Criterion:
    return lambda p, c: all(f(p, c) for f in criteria)


def simple_criterion(operator: str) -> Criterion:
    match operator:
        case "Roots":
            return lambda p, _c: p.parent_id is None
        case "Leafs":
            return lambda p, c: not c.children(p.id)
        case "ForkRoots":
            return lambda p, _c: p.forked_from_id is None
        case "OwnedByMe":
            return lambda p, c: c.caller is not None and p.owner == c.caller
        case "OwnedByNone":
            return lambda p, _c: p.owner is None
        case _:  # replica / storage states never apply to a single-node sandbox
            return lambda _p, _c: False


def parent_path(project: Project, ctx: Context) -> str | None:
    parent = ctx.get(project.parent_id) if project.parent_id is not None else None
    return parent.path if parent is not None else None


def forked_from_path(project: Project, ctx: Context) -> str | None:
    source = ctx.get(project.forked_from_id) if project.forked_from_id is not None else None
    return source.path if source is not None else None


def field_criteria(field_name: str, operator: str, values: list[str]) -> Criterion:
    check_field(field_name, operator)
    criteria = [_field_criterion(field_name, operator, v) for v in values]
    if operator == "IsNot":
        return lambda p, c: not any(f(p, c) for f in criteria)
    return any_of(criteria)


def negate(inner: Criterion) -> Criterion:
    return lambda p, c: not inner(p, c)


def fuzzy(text: str) -> Criterion:
    return lambda p, _c: text in p.path.lower() or text in (p.description or "").lower()


def under(value: str, locate: Callable[[Project, Context], str | None]) -> Criterion:
    def criterion(project: Project, ctx: Context) -> bool:
        located = locate(project, ctx)
        return located is not None and ant_match(value, located)

    return criterion
