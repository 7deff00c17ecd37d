"""Fuzzing POST /webhooks/github: whatever arrives, the answer is never a 5xx, and a delivery
without the body's valid signature is a 401.

Bodies are random bytes, random JSON, or real payloads with random damage (fields removed,
retyped, too long, NUL, lone surrogates, huge numbers), sent as JSON or form, signed
correctly or not, with random event names and delivery ids (some reused). The sender of the
real payloads is the mirrored user, so damaged stars do reach the database.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epicstar.web.signatures import sign
from tests.web.conftest import SECRET, MakeWeb, Web, payload, push_event, repository_event

BASES = [
    *(
        (name.split(".")[0], payload(name))
        for name in [
            "ping",
            "ping.with-organization",
            "star.created",
            "star.deleted",
            "watch.started",
            "watch.started.with-installation",
        ]
    ),
    ("push", push_event()),
    ("repository", repository_event("renamed", full_name="o/renamed")),
    ("repository", repository_event("deleted")),
    ("repository", repository_event("archived")),
]
EVENTS = ["ping", "star", "watch", "push", "repository", "issues", "installation"]
ODD_TEXT = ["", "\x00", "\ud800", "x" * 400, "Codertocat", "codertocat", "ü" * 70, "created"]
ODD_NUMBERS = [0, -1, 2**63, 2**64, 186853002, 10**30]
FRESH = "<fresh delivery id>"
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(ODD_NUMBERS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(ODD_TEXT),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, Any]:
    event, base = draw(st.sampled_from(BASES))
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        targets = [data] + [
            value
            for value in (data.get("repository"), data.get("sender"), data.get("hook"))
            if isinstance(value, dict)
        ]
        target = draw(st.sampled_from(targets))
        key = draw(st.sampled_from([*target.keys(), "action", "id", "login"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(json_values)
    if draw(st.sampled_from([False] * 9 + [True])):
        event = draw(st.sampled_from(EVENTS))
    return event, data


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]], bool]:
    """A body, its headers, and whether they carry the body's valid signature."""
    kind = draw(st.sampled_from(["damaged", "damaged", "damaged", "json", "bytes"]))
    if kind == "damaged":
        event, data = draw(damaged())
        document = json.dumps(data).encode()
    else:
        event = draw(st.sampled_from(EVENTS) | st.text(ASCII, max_size=70))
        document = (
            json.dumps(draw(json_values)).encode()
            if kind == "json"
            else draw(st.binary(max_size=200))
        )
    form = draw(st.booleans())
    body = urlencode({"payload": document}).encode() if form else document
    headers, signed = draw(header_lists(event, body, form=form))
    return body, headers, signed


@st.composite
def header_lists(
    draw: st.DrawFn, event: str, body: bytes, *, form: bool
) -> tuple[list[tuple[str, str]], bool]:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    odd_type = draw(st.sampled_from(["usual"] * 8 + ["random", "other"]))
    if odd_type == "random":
        content_type = draw(st.text(ASCII, max_size=40))
    elif odd_type == "other":
        content_type = draw(st.sampled_from(["application/json; charset=utf-8", "text/plain"]))
    headers = [("Content-Type", content_type)]
    if draw(st.sampled_from([True] * 9 + [False])):
        headers.append(("X-GitHub-Event", event))
    if draw(st.sampled_from([True] * 9 + [False])):
        headers.append(("X-GitHub-Delivery", draw(delivery_ids())))
    signature = draw(st.sampled_from(["good"] * 12 + ["wrong", "junk", "none"]))
    if signature == "wrong":
        headers.append(("X-Hub-Signature-256", sign(b"other", body)))
    elif signature == "junk":
        headers.append(("X-Hub-Signature-256", draw(st.text(ASCII, max_size=80))))
    elif signature == "good":
        headers.append(("X-Hub-Signature-256", sign(SECRET.encode(), body)))
    return headers, signature == "good"


def delivery_ids() -> st.SearchStrategy[str]:
    """Mostly new ids, some reused (duplicates), some malformed."""
    kinds = [st.just(FRESH)] * 8 + [st.sampled_from(["d-1", "d-2"]), st.text(ASCII, max_size=110)]
    return st.sampled_from(kinds).flatmap(lambda kind: kind)


@pytest.fixture
def delivery_apps(make_sqlite_web: MakeWeb) -> dict[bool, Web]:
    """One app with a webhook secret and one without, made once for all the examples (making
    an app per example was most of this test's time)."""
    return {True: make_sqlite_web(), False: make_sqlite_web(webhook_secret=None)}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries(), configured=st.sampled_from([True] * 14 + [False]))
def test_no_delivery_is_answered_with_a_5xx(
    delivery_apps: dict[bool, Web],
    delivery: tuple[bytes, list[tuple[str, str]], bool],
    configured: bool,
) -> None:
    web = delivery_apps[configured]
    body, headers, signed = delivery
    headers = [(name, str(uuid.uuid4()) if value == FRESH else value) for name, value in headers]
    response = web.post(body, headers)
    assert response.status_code in {200, 202, 400, 401, 413, 415}, response.text
    assert isinstance(response.json(), dict)
    hypothesis.event(f"{response.status_code} {response.json().get('status', 'error')}")
    if not configured or not signed:
        # Refused for the signature, whatever else is wrong with the delivery (except its size).
        assert response.status_code == 401
