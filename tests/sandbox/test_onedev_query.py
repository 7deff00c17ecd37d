"""Unit and property tests of the OneDev query language stand-in."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epicstar.sandbox.onedev_criteria import ant_match, like
from epicstar.sandbox.onedev_data import Project, RestError, jackson_dumps, java_hash_set_order
from epicstar.sandbox.onedev_query import parse_query, sort_projects, tokenize


class Ctx:
    def __init__(self, projects: Sequence[Project]) -> None:
        self.by_id = {p.id: p for p in projects}

    def get(self, project_id: int) -> Project | None:
        return self.by_id.get(project_id)

    def children(self, project_id: int) -> Sequence[Project]:
        return [p for p in self.by_id.values() if p.parent_id == project_id]

    @property
    def caller(self) -> str | None:
        return "admin1"

    def user_exists(self, login: str) -> bool:
        return login == "admin1"


def projects() -> list[Project]:
    root = Project(1, "github", None, 0.0, path="github", last_activity=1.0, owner="admin1")
    mid = Project(2, "fast_api", 1, 0.0, path="github/fast_api", last_activity=3.0)
    leaf = Project(3, "Typer", 2, 0.0, path="github/fast_api/Typer", last_activity=2.0)
    return [root, mid, leaf]


def select(query: str) -> list[int]:
    data = projects()
    ctx = Ctx(data)
    parsed = parse_query(query, ctx)
    return [p.id for p in sort_projects([p for p in data if parsed.matches(p, ctx)], parsed.sorts)]


def test_like_and_ant_semantics() -> None:
    assert like("FAST_API", "fast_api")
    assert like("fast_api", "fastXapi")  # SQL LIKE: "_" is a single-character wildcard
    assert like("fast*", "fastapi")
    assert not like("fast", "fastapi")
    assert ant_match("github/*", "GitHub/x")
    assert not ant_match("github/*", "github/x/y")
    assert ant_match("github/**", "github/x/y")
    assert ant_match("**/typer", "github/fast_api/typer")


def test_queries() -> None:
    assert select("") == [2, 3, 1]  # default order: last activity, newest first
    assert select('"Path" is "github/fast_api/typer"') == [3]
    assert select('"Id" is greater than "1" order by "Name" asc') == [2, 3]
    assert select('"Name" is "typer", "github"') == [3, 1]
    assert select('"Name" is not "typer", "github"') == [2]
    assert select("owned by me") == [1]
    assert select("leafs") == [3]
    assert select("#2") == [2]
    assert select('children of "github" or children of "github/fast_api"') == [2, 3]
    assert select("~typ~") == [3]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ('"Nope" is "x"', 500, "Field not found: Nope"),
        ('"Path" contains "x"', 500, "Field 'Path' is not applicable for operator 'Contains'"),
        ('order by "Description"', 500, "Cannot order by field: Description"),
        ('owned by "ghost"', 500, "Unable to find user 'ghost'"),
        ('"Nope" is', 406, "Invalid query"),
        ("ROOTS", 406, "Invalid query"),
        ("roots\tand leafs", 406, "Invalid query"),
    ],
)
def test_query_errors(query: str, status: int, message: str) -> None:
    with pytest.raises(RestError) as caught:
        select(query)
    assert (caught.value.status, caught.value.message) == (status, message)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=' "\\()#,~*abcdeinorstvyPNI0123456789', max_size=40))
def test_parser_only_fails_like_onedev(query: str) -> None:
    """Whatever the text, the parser answers or fails with a OneDev status (406/500)."""
    statuses: list[int] = []
    try:
        select(query)
    except RestError as exc:
        statuses.append(exc.status)
    assert set(statuses) <= {406, 500}


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5))
def test_java_hash_set_order_is_a_permutation(items: list[str]) -> None:
    assert sorted(java_hash_set_order(items)) == sorted(set(items))


def test_tokenizer_prefers_longest_keyword() -> None:
    kinds = [t.kind for t in tokenize('"Name" is not "x"')]
    assert kinds == ["Quoted", "WS", "IsNot", "WS", "Quoted"]
    assert [t.kind for t in tokenize("isx")] == ["Identifier"]


def test_jackson_pretty_printer() -> None:
    assert jackson_dumps({"a": 1, "b": [1, 2], "c": {}, "d": []}) == (
        '{\n  "a" : 1,\n  "b" : [ 1, 2 ],\n  "c" : { },\n  "d" : [ ]\n}'
    )
    assert jackson_dumps([{"id": 1}]) == '[ {\n  "id" : 1\n} ]'
