"""OneDev's project query language (``ProjectQuery.g4``), parsed and evaluated in memory.

Faithful where a client can notice: keywords are lower-case only, ``WS`` is a single space,
quoted values need at least one character, a syntax error is ``406 Invalid query``, an unknown
field is ``500 Field not found: X``, a field/operator mismatch is a 500 as well.  Matching:
``"Path"`` uses Ant-style wildcards (``*`` within a segment, ``**`` across), case-insensitive;
``"Name"``/``"Key"``/… use SQL ``LIKE`` semantics after ``*`` -> ``%`` (so ``_`` is a wildcard).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from epicstar.sandbox.onedev_criteria import (
    Context,
    Criterion,
    all_of,
    any_of,
    field_criteria,
    forked_from_path,
    fuzzy,
    negate,
    parent_path,
    simple_criterion,
    under,
)
from epicstar.sandbox.onedev_data import Project, RestError

SORT_FIELDS = ("Path", "Id", "Name", "Key", "Service Desk Email Address", "Last Activity Date")

# Lexer rules in grammar order (ties between equal-length matches go to the earlier rule).
_KEYWORDS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("OrderBy", r"order +by"),
        ("Is", r"is"),
        ("IsNot", r"is +not"),
        ("IsGreaterThan", r"is +greater +than"),
        ("IsLessThan", r"is +less +than"),
        ("OwnedBy", r"owned +by"),
        ("OwnedByMe", r"owned +by +me"),
        ("OwnedByNone", r"owned +by +none"),
        ("IsSince", r"is +since"),
        ("IsUntil", r"is +until"),
        ("Contains", r"contains"),
        ("ForksOf", r"forks +of"),
        ("Roots", r"roots"),
        ("Leafs", r"leafs"),
        ("ForkRoots", r"fork +roots"),
        ("WithoutEnoughReplicas", r"without +enough +replicas"),
        ("HasOutdatedReplicas", r"has +outdated +replicas"),
        ("MissingStorage", r"missing +storage"),
        ("ChildrenOf", r"children +of"),
        ("And", r"and"),
        ("Or", r"or"),
        ("Not", r"not"),
        ("Asc", r"asc"),
        ("Desc", r"desc"),
        ("LParens", r"\("),
        ("RParens", r"\)"),
        ("Quoted", r'"(?:\\.|[^\\"])+?"'),
        ("Id", r"#[0-9]+"),
        ("Comma", r","),
        ("WS", r" "),
        ("Fuzzy", r"~(?:\\.|[^~])+?~"),
        ("Identifier", r"[a-zA-Z0-9:_/\\+\-;]+"),
    ]
]
_SIMPLE_OPERATORS = (
    "Roots",
    "Leafs",
    "ForkRoots",
    "OwnedByMe",
    "OwnedByNone",
    "HasOutdatedReplicas",
    "WithoutEnoughReplicas",
    "MissingStorage",
)
_FIELD_OPERATORS = ("Is", "IsNot", "IsGreaterThan", "IsLessThan", "Contains", "IsUntil", "IsSince")

INVALID = RestError(406, "Invalid query")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        best: tuple[int, str] | None = None
        for kind, pattern in _KEYWORDS:
            match = pattern.match(query, pos)
            if match and (best is None or match.end() > best[0]):
                best = (match.end(), kind)
        if best is None:
            raise INVALID  # lexer error ("Malformed query")
        end, kind = best
        tokens.append(Token(kind, query[pos:end]))
        pos = end
    return tokens


def unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


@dataclass
class ParsedQuery:
    criterion: Criterion | None
    sorts: list[tuple[str, bool]]  # (field, descending)

    def matches(self, project: Project, ctx: Context) -> bool:
        return self.criterion is None or self.criterion(project, ctx)


Builder = Callable[[], Criterion]
"""Parsing yields builders; they run (and may raise 500s) only after the whole parse succeeded,
like OneDev's visitor runs after ANTLR accepted the query."""


class _Parser:
    """Recursive descent over the token list; ``WS`` tokens are significant as in the grammar."""

    def __init__(self, tokens: list[Token], ctx: Context) -> None:
        self.tokens = tokens
        self.pos = 0
        self.ctx = ctx

    # -- token helpers
    def peek(self, offset: int = 0) -> str | None:
        i = self.pos + offset
        return self.tokens[i].kind if i < len(self.tokens) else None

    def take(self, kind: str) -> Token:
        if self.peek() != kind:
            raise INVALID
        self.pos += 1
        return self.tokens[self.pos - 1]

    def spaces(self, required: bool = False) -> int:
        start = self.pos
        while self.peek() == "WS":
            self.pos += 1
        if required and self.pos == start:
            raise INVALID
        return self.pos - start

    def next_after_spaces(self) -> str | None:
        i = self.pos
        while i < len(self.tokens) and self.tokens[i].kind == "WS":
            i += 1
        return self.tokens[i].kind if i < len(self.tokens) else None

    # -- grammar
    def query(self) -> ParsedQuery:
        self.spaces()
        builder: Builder | None = None
        orders: list[tuple[str, str | None]] = []
        if self.peek() is None:
            return ParsedQuery(None, [])
        if self.peek() != "OrderBy":
            builder = self.or_criteria()
            if self.next_after_spaces() == "OrderBy":
                self.spaces(required=True)
        if self.peek() == "OrderBy":
            self.take("OrderBy")
            self.spaces(required=True)
            orders.append(self.order())
            while self.next_after_spaces() == "Comma":
                self.spaces()
                self.take("Comma")
                self.spaces()
                orders.append(self.order())
        self.spaces()
        if self.peek() is not None:
            raise INVALID
        # The parse succeeded: now "visit" (field checks, value conversions), then the sorts.
        criterion = builder() if builder is not None else None
        sorts: list[tuple[str, bool]] = []
        for field_name, direction in orders:
            if field_name not in SORT_FIELDS:
                raise RestError(500, f"Cannot order by field: {field_name}")
            if direction is None:
                sorts.append((field_name, field_name == "Last Activity Date"))
            else:
                sorts.append((field_name, direction == "Desc"))
        return ParsedQuery(criterion, sorts)

    def order(self) -> tuple[str, str | None]:
        field_name = unquote(self.take("Quoted").text)
        direction = None
        if self.next_after_spaces() in ("Asc", "Desc"):
            self.spaces(required=True)
            direction = self.tokens[self.pos].kind
            self.pos += 1
        return field_name, direction

    def or_criteria(self) -> Builder:
        items = [self.and_criteria()]
        while self._binary_follows("Or"):
            items.append(self.and_criteria())
        if len(items) == 1:
            return items[0]
        return lambda: any_of([b() for b in items])

    def and_criteria(self) -> Builder:
        items = [self.primary()]
        while self._binary_follows("And"):
            items.append(self.primary())
        if len(items) == 1:
            return items[0]
        return lambda: all_of([b() for b in items])

    def _binary_follows(self, kind: str) -> bool:
        if self.peek() != "WS" or self.next_after_spaces() != kind:
            return False
        self.spaces(required=True)
        self.take(kind)
        self.spaces(required=True)
        return True

    def multiple_quoted(self) -> list[str]:
        values = [unquote(self.take("Quoted").text)]
        while self.next_after_spaces() == "Comma":
            self.spaces()
            self.take("Comma")
            self.spaces()
            values.append(unquote(self.take("Quoted").text))
        return values

    def primary(self) -> Builder:
        kind = self.peek()
        if kind in _SIMPLE_OPERATORS:
            self.pos += 1
            simple = simple_criterion(kind)
            return lambda: simple
        if kind in ("OwnedBy", "ForksOf", "ChildrenOf"):
            self.pos += 1
            self.spaces(required=True)
            values = self.multiple_quoted()
            return lambda: self._operator_value(kind, values)
        if kind == "Quoted":
            field_name = unquote(self.take("Quoted").text)
            self.spaces(required=True)
            operator = self.peek()
            if operator not in _FIELD_OPERATORS:
                raise INVALID
            self.pos += 1
            self.spaces(required=True)
            values = self.multiple_quoted()
            return lambda: field_criteria(field_name, operator, values)
        if kind == "Id":
            number = int(self.take("Id").text[1:])
            return lambda: lambda p, _c: p.id == number
        if kind in ("Not", "LParens"):
            negated = kind == "Not"
            if negated:
                self.pos += 1
                self.spaces()
            self.take("LParens")
            self.spaces()
            inner = self.or_criteria()
            self.spaces()
            self.take("RParens")
            if not negated:
                return inner
            return lambda: negate(inner())
        if kind == "Fuzzy":
            text = self.take("Fuzzy").text[1:-1].lower()
            return lambda: fuzzy(text)
        raise INVALID

    def _operator_value(self, kind: str, values: list[str]) -> Criterion:
        if kind == "ChildrenOf":
            return any_of([under(value, parent_path) for value in values])
        if kind == "ForksOf":
            return any_of([under(value, forked_from_path) for value in values])
        for value in values:
            if not self.ctx.user_exists(value):
                raise RestError(500, f"Unable to find user '{value}'")
        logins = set(values)
        return lambda p, _c: p.owner in logins


def parse_query(query: str | None, ctx: Context) -> ParsedQuery:
    if query is None:
        return ParsedQuery(None, [])
    return _Parser(tokenize(query), ctx).query()


def sort_projects(projects: list[Project], sorts: list[tuple[str, bool]]) -> list[Project]:
    """Explicit sorts, else OneDev's default: last activity, newest first (then id)."""
    if not sorts:
        return sorted(projects, key=lambda p: (-p.last_activity, -p.id))
    result = sorted(projects, key=lambda p: p.id)
    for field_name, descending in reversed(sorts):
        result.sort(key=_sort_key(field_name), reverse=descending)
    return result


SortKey = tuple[int, str | int | float, str]


def _sort_key(field_name: str) -> Callable[[Project], SortKey]:
    """Nulls first, strings compared case-insensitively (then exactly), like a DB collation."""

    def key(project: Project) -> SortKey:
        values: dict[str, str | int | float | None] = {
            "Path": project.path,
            "Id": project.id,
            "Name": project.name,
            "Key": project.key,
            "Service Desk Email Address": project.service_desk_email_address,
            "Last Activity Date": project.last_activity,
        }
        value = values[field_name]
        if value is None:
            return (0, "", "")
        if isinstance(value, str):
            return (1, value.lower(), value)
        return (1, value, "")

    return key
