"""``GET /api/v1/commits``: the feed across all mirrors, newest first, filtered and paged
with ``has_more`` rather than a count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from epicstar.state.models import FeedKind
from tests.api.conftest import Api
from tests.api.feed_rows import record, row, sha_of

SEEN = datetime(2031, 3, 1, 12, tzinfo=UTC)
"""Entries of these tests are first seen in 2031, apart from those of other tests."""


def shas(body: dict[str, object]) -> list[str]:
    items = body["items"]
    assert isinstance(items, list)
    return [item["sha"] for item in items]


def test_the_feed_comes_newest_first_in_pages_that_say_whether_more_follow(api: Api) -> None:
    api.track(8101, "feed/first")
    api.track(8102, "feed/second")
    for hour in range(5):  # each pass finds two commits, the older first
        github_id = 8101 if hour % 2 == 0 else 8102
        pair = [row(100 + 2 * hour), row(101 + 2 * hour)]
        record(api, github_id, pair, seen_at=SEEN + timedelta(hours=hour))
    key = api.key("read")
    window = {"since": SEEN.isoformat(), "until": (SEEN + timedelta(days=1)).isoformat()}

    first = api.get("/commits", key, params={**window, "per_page": 4})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"items", "page", "per_page", "has_more"}  # no total: never counted
    assert (body["page"], body["per_page"], body["has_more"]) == (1, 4, True)
    assert shas(body) == [sha_of(n) for n in (109, 108, 107, 106)]
    newest = body["items"][0]
    assert newest["repository"] == {"github_id": 8101, "full_name": "feed/first"}
    assert newest["kind"] == "commit"
    assert newest["title"] == "change 109"
    assert newest["author"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "date": "2024-05-01T09:30:00+00:00",
    }
    assert newest["first_seen_at"] == "2031-03-01T16:00:00+00:00"
    assert newest["source"] == "pass"
    assert newest["branches"] == ["main"]

    last = api.get("/commits", key, params={**window, "per_page": 4, "page": 3}).json()
    assert shas(last) == [sha_of(101), sha_of(100)]
    assert last["has_more"] is False
    beyond = api.get("/commits", key, params={**window, "per_page": 4, "page": 4}).json()
    assert (beyond["items"], beyond["has_more"]) == ([], False)


def test_the_feed_filters_by_repository_author_words_time_and_kind(api: Api) -> None:
    api.track(8201, "filters/one")
    api.track(8202, "filters/two")
    seen = SEEN + timedelta(days=10)
    record(
        api,
        8201,
        [
            row(200, "Fix the parser", author_email="Linus@Example.ORG", author_name="Linus"),
            row(201, "Speed up the cache", body="Measured: 40% faster with zebras"),
            row(202, kind=FeedKind.TAG, ref="v1.0"),
        ],
        seen_at=seen,
    )
    record(api, 8202, [row(203, "Fix 100% of the bugs")], seen_at=seen + timedelta(hours=1))
    record(
        api, 8202, [row(204, kind=FeedKind.MIRROR, ref="main")], seen_at=seen - timedelta(days=1)
    )
    key = api.key("read")
    window = {
        "since": (seen - timedelta(days=2)).isoformat(),
        "until": (seen + timedelta(days=1)).isoformat(),
    }

    def found(**params: object) -> list[str]:
        response = api.get("/commits", key, params={**window, **params})
        assert response.status_code == 200, response.text
        return shas(response.json())

    assert found() == [sha_of(n) for n in (203, 202, 201, 200, 204)]
    assert found(repository=8201) == [sha_of(n) for n in (202, 201, 200)]
    assert found(repository=8299) == []
    assert found(author="linus@example.org") == [sha_of(200)]
    assert found(author="  LINUS ") == [sha_of(200)]
    assert found(q="ZEBRAS") == [sha_of(201)]  # the body counts, in any case
    assert found(q="fix") == [sha_of(203), sha_of(200)]
    assert found(q="100%") == [sha_of(203)]  # % is a character searched, not a wildcard
    assert found(kind="tag") == [sha_of(202)]
    assert found(kind=["mirror", "tag"]) == [sha_of(202), sha_of(204)]
    assert found(since=(seen + timedelta(minutes=30)).isoformat()) == [sha_of(203)]
    assert found(until=seen.isoformat()) == [sha_of(204)]
    assert found(since=seen.isoformat().replace("+00:00", "+01:00")) == [
        sha_of(n) for n in (203, 202, 201, 200)
    ]
    assert found(until="2031-03-11T12:00:00Z") == [sha_of(204)]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"since": "2031-03-01T12:00:00"}, "since"),  # no offset: which time is it?
        ({"until": "yesterday"}, "until"),
        ({"since": "2031-02-30T00:00:00Z"}, "since"),
        ({"kind": "branch"}, "kind"),
        ({"repository": "0"}, "repository"),
        ({"per_page": "101"}, "per_page"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_malformed_parameters_are_422(api: Api, params: dict[str, str], where: str) -> None:
    response = api.get("/commits", api.key("read"), params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["query", where]


def test_only_read_keys_list_the_feed(api: Api) -> None:
    assert api.get("/commits").status_code == 401
    assert api.get("/commits", api.key("read")).status_code == 200
    assert api.get("/commits", api.key("write")).status_code == 200
    for scope in ("agent", "feed"):
        refused = api.get("/commits", api.key(scope))
        assert refused.status_code == 403
        assert "'read'" in refused.json()["detail"]
