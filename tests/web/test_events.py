"""Body decoding and event interpretation, without HTTP or a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from epicstar.web.events import (
    Ignore,
    MarkStarListForWalk,
    PayloadError,
    Pong,
    Refresh,
    SetFlag,
    SourceDeleted,
    TrackStar,
    UnsupportedContentType,
    UpdateRepository,
    decode_body,
    interpret,
    printable,
)
from tests.web.conftest import REPO_ID, payload, push_event, raw, repository_event


def user() -> str:
    return "CoderToCat"


def nobody() -> str | None:
    return None


def never() -> str | None:
    raise AssertionError("the identity is only asked about star events")


# ---------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_a_json_body(content_type: str) -> None:
    assert decode_body(content_type, raw("ping")) == payload("ping")


def test_a_form_body_carries_the_json_in_payload() -> None:
    body = urlencode({"payload": raw("star.created").decode()}).encode()
    assert decode_body("application/x-www-form-urlencoded", body) == payload("star.created")


def test_a_utf16_json_body_is_still_json() -> None:
    assert decode_body("application/json", '{"zen": "ü"}'.encode("utf-16")) == {"zen": "ü"}


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"", "not valid JSON"),
        ("application/json", b"{", "not valid JSON"),
        ("application/json", b"\xff\xfe\xfa", "not valid JSON"),
        ("application/json", b"[1, 2]", "not a JSON object"),
        ("application/json", b'"text"', "not a JSON object"),
        ("application/json", b"[" * 100_000, "not valid JSON"),  # recursion limit
        ("application/json", b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),  # int digits
        ("application/x-www-form-urlencoded", b"", "exactly one 'payload'"),
        ("application/x-www-form-urlencoded", b"other=1", "exactly one 'payload'"),
        ("application/x-www-form-urlencoded", b"payload=%7B%7D&payload=%7B%7D", "exactly one"),
        ("application/x-www-form-urlencoded", b"payload=%7B", "not valid JSON"),
        ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 200), "form body"),
    ],
)
def test_malformed_bodies(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        decode_body(content_type, body)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "multipart/form-data; b=x"])
def test_other_content_types(content_type: str | None) -> None:
    with pytest.raises(UnsupportedContentType, match="unsupported content type"):
        decode_body(content_type, b"{}")


# ------------------------------------------------------------------------ interpreting


def test_ping() -> None:
    assert interpret("ping", payload("ping"), never) == Pong(
        "Anything added dilutes everything else."
    )
    assert interpret("ping", {"zen": 5}, never) == Pong(None)


def test_stars_of_the_user() -> None:
    created = interpret("star", payload("star.created"), user)
    assert isinstance(created, TrackStar)
    assert created.repository.id == REPO_ID
    assert created.repository.pushed_at == "2019-05-15T15:20:33Z"  # epoch seconds in payloads
    assert created.starred_at == datetime(2019, 5, 15, 15, 20, 40, tzinfo=UTC)
    started = interpret("watch", payload("watch.started"), user)
    assert started == TrackStar(created.repository, None)
    assert interpret("star", payload("star.deleted"), user) == MarkStarListForWalk(REPO_ID)


@pytest.mark.parametrize(
    "name", ["star.created", "star.deleted", "watch.started", "watch.started.with-installation"]
)
def test_stars_of_others_or_of_an_unknown_user(name: str) -> None:
    event = name.split(".", maxsplit=1)[0]
    other = interpret(event, payload(name), lambda: "someone-else")
    assert other == Ignore("not the mirrored user's star")
    unknown = interpret(event, payload(name), nobody)
    assert isinstance(unknown, Ignore)
    assert "EPICSTAR_GITHUB_USER" in unknown.reason


def test_an_unreadable_starred_at_leaves_the_time_unknown() -> None:
    data = payload("star.created")
    for value in ["yesterday", 12, None, "0001-01-01T00:00:00+01:00"]:
        data["starred_at"] = value
        action = interpret("star", data, user)
        assert isinstance(action, TrackStar)
        assert action.starred_at is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda data: data.pop("sender"), "sender.login"),
        (lambda data: data.update(sender="Codertocat"), "sender.login"),
        (lambda data: data["sender"].update(login=7), "sender.login"),
        (lambda data: data.pop("repository"), "'repository' is missing"),
        (lambda data: data.update(repository=[]), "'repository' is missing"),
        (lambda data: data["repository"].pop("full_name"), "full_name"),
        (lambda data: data["repository"].update(private="no"), "private"),
        (lambda data: data["repository"].update(id=True), "'id'"),
        (lambda data: data["repository"].update(language="x" * 101), "language"),
    ],
)
def test_malformed_star_payloads(mutate: Any, message: str) -> None:
    data = payload("star.created")
    mutate(data)
    with pytest.raises(PayloadError, match=message):
        interpret("star", data, user)


def test_the_sender_is_checked_before_the_repository() -> None:
    data = payload("star.created")
    data["sender"]["login"] = "someone-else"
    data["repository"] = "garbage"
    assert isinstance(interpret("star", data, user), Ignore)


def test_push_and_repository_events() -> None:
    assert interpret("push", push_event(), never) == Refresh(REPO_ID)
    renamed = interpret("repository", repository_event("renamed", full_name="o/new"), never)
    assert isinstance(renamed, UpdateRepository)
    assert (renamed.repository.full_name, renamed.change) == ("o/new", "renamed")
    assert interpret("repository", repository_event("deleted"), never) == SourceDeleted(REPO_ID)
    assert interpret("repository", repository_event("archived"), never) == SetFlag(
        REPO_ID, "archived", True, "archived"
    )
    assert interpret("repository", repository_event("publicized"), never) == SetFlag(
        REPO_ID, "private", False, "publicized"
    )
    assert interpret("repository", repository_event("created"), never) == Ignore(
        "repository action 'created' is not handled"
    )


@pytest.mark.parametrize("repository", [None, {}, {"id": "1"}, {"id": 0}, {"id": 2**63}, []])
def test_a_push_without_a_repository_id_is_malformed(repository: Any) -> None:
    with pytest.raises(PayloadError, match=r"repository\.id"):
        interpret("push", {"repository": repository}, never)


def test_unknown_events_and_actions_are_ignored() -> None:
    assert interpret("issues", {"action": "opened"}, never) == Ignore(
        "event 'issues' is not handled"
    )
    assert interpret("star", {"action": ["x"]}, never) == Ignore(
        "star action '(list)' is not handled"
    )
    assert interpret("watch", {}, never) == Ignore("watch action '(none)' is not handled")


def test_printable_values() -> None:
    assert printable("plain") == "plain"
    assert printable("a\x00b\ud800c\n") == "a?b?c?"
    assert printable("x" * 100, 10) == "x" * 10 + "…"
    assert printable({"huge": list(range(10))}) == "(dict)"
    assert json.dumps(printable("\ud800"))  # always encodable
