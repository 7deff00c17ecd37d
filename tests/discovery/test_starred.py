"""GitHubClient.starred_page against answers shaped as research/github.md §1.3 A describes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import epicstar.discovery
from epicstar.discovery import (
    GitHubAuthError,
    GitHubClient,
    GitHubError,
    GitHubForbidden,
    SourceGone,
    Star,
    StarredPage,
    UserNotFound,
)
from epicstar.retry import RetryPolicy
from tests.discovery.fakes import (
    API,
    TOKEN,
    FakeTime,
    github_json,
    link_header,
    not_found,
    rate_headers,
    repo_body,
    star_item,
)
from tests.http_fakes import Recorder

MakeClient = Callable[..., GitHubClient]
ETAG = '"8c1f0e0b7b5a4c2f9d3e6a1b2c3d4e5f"'
STAR_JSON = "application/vnd.github.star+json"

# The link URLs GitHub writes: the query of page 1 kept, ``page`` added. For
# ``/users/{user}/starred`` they point at ``/user/{id}/starred`` (the numeric id).
PAGE_2 = f"{API}/user/starred?sort=created&direction=desc&per_page=100&page=2"
PAGE_3 = f"{API}/user/starred?sort=created&direction=desc&per_page=100&page=3"
LAST = f"{API}/user/starred?sort=created&direction=desc&per_page=100&page=34"
FIRST = f"{API}/user/starred?sort=created&direction=desc&per_page=100&page=1"
USER_PAGE_2 = f"{API}/user/583231/starred?sort=created&direction=desc&per_page=100&page=2"
USER_LAST = f"{API}/user/583231/starred?sort=created&direction=desc&per_page=100&page=5"


def _page(
    items: list[Any], *, etag: str | None = ETAG, headers: dict[str, str] | None = None
) -> httpx.Response:
    merged = {"etag": etag} if etag else {}
    merged.update(headers or {})
    return github_json(200, items, headers=merged)


# ------------------------------------------------------------------------- page 1


def test_page_one_of_the_token_users_list(make_client: MakeClient):
    handler = Recorder(
        _page(
            [
                star_item("2024-05-02T08:30:00Z", repo_id=2, owner="octo", name="newest"),
                star_item("2024-05-01T12:00:00Z"),
            ],
            headers=link_header(next=PAGE_2, last=LAST),
        )
    )
    client = make_client(handler)

    page = client.starred_page()

    request = handler.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/user/starred"
    assert dict(request.url.params) == {"sort": "created", "direction": "desc", "per_page": "100"}
    assert request.headers["accept"] == STAR_JSON
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "if-none-match" not in request.headers

    assert isinstance(page, StarredPage)
    assert page.not_modified is False
    assert page.etag == ETAG
    assert page.next_url == PAGE_2
    assert (page.last_url, page.last_page) == (LAST, 34)
    assert [star.repository.full_name for star in page.stars] == [
        "octo/newest",
        "octocat/Hello-World",
    ]
    assert page.stars[0].repository.id == 2
    assert page.stars[0].starred_at == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    assert page.stars[1].starred_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert all(isinstance(star, Star) for star in page.stars)
    assert isinstance(page.stars, tuple)


def test_page_one_of_a_named_users_public_list(make_client: MakeClient):
    handler = Recorder(_page([star_item()], headers=link_header(next=USER_PAGE_2, last=USER_LAST)))
    client = make_client(handler, token=None)

    page = client.starred_page("octocat", per_page=50)

    request = handler.requests[0]
    assert request.url.path == "/users/octocat/starred"
    assert dict(request.url.params) == {"sort": "created", "direction": "desc", "per_page": "50"}
    assert request.headers["accept"] == STAR_JSON
    assert "authorization" not in request.headers
    assert page.next_url == USER_PAGE_2
    assert page.last_page == 5
    assert len(page.stars) == 1


def test_named_user_with_a_token_sends_it(make_client: MakeClient):
    handler = Recorder(_page([]))
    make_client(handler).starred_page("octocat")
    assert handler.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_user_name_is_escaped_in_the_path(make_client: MakeClient):
    handler = Recorder(_page([]))
    make_client(handler).starred_page("odd/name")
    assert handler.requests[0].url.raw_path.startswith(b"/users/odd%2Fname/starred?")


def test_token_users_list_without_a_token_is_refused_before_any_request(
    make_client: MakeClient,
):
    handler = Recorder()
    client = make_client(handler, token=None)

    with pytest.raises(GitHubAuthError) as caught:
        client.starred_page()

    assert str(caught.value) == (
        "the starred list of the token's user needs EPICSTAR_GITHUB_TOKEN, "
        "or set EPICSTAR_GITHUB_USER for someone's public stars"
    )
    assert handler.requests == []


@pytest.mark.parametrize("per_page", [0, 101, -1, True])
def test_per_page_must_be_1_to_100(make_client: MakeClient, per_page: int):
    with pytest.raises(ValueError, match="per_page"):
        make_client(Recorder()).starred_page(per_page=per_page)


@pytest.mark.parametrize("user", ["", "   "])
def test_empty_user_name_is_refused(make_client: MakeClient, user: str):
    with pytest.raises(ValueError, match="user name"):
        make_client(Recorder()).starred_page(user)


def test_empty_list(make_client: MakeClient):
    page = make_client(Recorder(_page([]))).starred_page()
    assert page == StarredPage((), ETAG, None, None, not_modified=False)


# --------------------------------------------------------------- following pages


def test_next_page_requests_exactly_the_link_url_with_the_star_media_type(
    make_client: MakeClient,
):
    handler = Recorder(
        _page([star_item()], headers=link_header(next=PAGE_2, last=LAST)),
        _page(
            [star_item(repo_id=7, name="older")],
            etag='W/"page2"',
            headers=link_header(prev=FIRST, next=PAGE_3, last=LAST, first=FIRST),
        ),
    )
    client = make_client(handler)

    first = client.starred_page()
    assert first.next_url is not None
    second = client.starred_page(url=first.next_url)

    request = handler.requests[1]
    assert str(request.url) == PAGE_2
    assert request.headers["accept"] == STAR_JSON
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "if-none-match" not in request.headers
    assert second.stars[0].repository.name == "older"
    assert second.etag == 'W/"page2"'
    assert second.next_url == PAGE_3
    assert second.last_page == 34


def test_next_page_url_is_not_rewritten(make_client: MakeClient):
    odd = f"{API}/user/starred?page=2&per_page=100&cursor=abc%2Fdef&sort=created"
    handler = Recorder(_page([]))
    make_client(handler).starred_page(url=odd)
    assert str(handler.requests[0].url) == odd


def test_last_page_has_no_next_and_no_last(make_client: MakeClient):
    handler = Recorder(_page([star_item()], headers=link_header(prev=PAGE_2, first=FIRST)))
    page = make_client(handler).starred_page(url=PAGE_3)
    assert page.next_url is None
    assert page.last_page is None
    assert len(page.stars) == 1


def test_single_page_list_has_no_link_header(make_client: MakeClient):
    page = make_client(Recorder(_page([star_item()]))).starred_page()
    assert page.next_url is None
    assert page.last_page is None


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (f"{API}/user/starred?page=7", 7),
        (f"{API}/user/starred?per_page=100&page=12&sort=created", 12),
        (f"{API}/user/starred?per_page=100", None),
        (f"{API}/user/starred?page=abc", None),
        (f"{API}/user/starred?page=0", None),
    ],
)
def test_last_page_number_comes_from_the_last_link(
    make_client: MakeClient, last: str, expected: int | None
):
    handler = Recorder(_page([], headers=link_header(next=PAGE_2, last=last)))
    assert make_client(handler).starred_page().last_page == expected


def test_relative_next_link_is_resolved_against_the_response(make_client: MakeClient):
    handler = Recorder(_page([], headers={"link": '</user/starred?page=2>; rel="next"'}))
    assert make_client(handler).starred_page().next_url == f"{API}/user/starred?page=2"


def test_next_page_on_another_origin_gets_no_token(make_client: MakeClient):
    handler = Recorder(_page([]))
    make_client(handler).starred_page(url="https://mirror.example/user/starred?page=2")
    assert "authorization" not in handler.requests[0].headers
    assert handler.requests[0].headers["accept"] == STAR_JSON


@pytest.mark.parametrize("url", ["/user/starred?page=2", "user/starred", "ftp://x/y", ""])
def test_url_must_be_absolute(make_client: MakeClient, url: str):
    handler = Recorder()
    with pytest.raises(ValueError, match="absolute"):
        make_client(handler).starred_page(url=url)
    assert handler.requests == []


# ----------------------------------------------------------------------- ETag / 304


def test_not_modified_costs_nothing(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(httpx.Response(304, headers={"etag": ETAG, **rate_headers(remaining=4999)}))
    client = make_client(handler)

    page = client.starred_page(etag=ETAG)

    assert len(handler.requests) == 1
    assert handler.requests[0].headers["if-none-match"] == ETAG
    assert handler.requests[0].headers["accept"] == STAR_JSON
    assert page == StarredPage((), ETAG, None, None, not_modified=True)
    assert fake_time.sleeps == []
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 4999


def test_not_modified_without_etag_header_keeps_the_sent_one(make_client: MakeClient):
    handler = Recorder(httpx.Response(304, headers=rate_headers()))
    page = make_client(handler).starred_page("octocat", etag="abc123")
    assert handler.requests[0].headers["if-none-match"] == '"abc123"'
    assert page.not_modified
    assert page.etag == "abc123"
    assert page.stars == ()


def test_changed_list_returns_the_new_etag(make_client: MakeClient):
    handler = Recorder(_page([star_item()], etag='"new"'))
    page = make_client(handler).starred_page(etag=ETAG)
    assert handler.requests[0].headers["if-none-match"] == ETAG
    assert page.not_modified is False
    assert page.etag == '"new"'
    assert len(page.stars) == 1


def test_etag_on_a_later_page(make_client: MakeClient):
    handler = Recorder(httpx.Response(304, headers={"etag": 'W/"p2"'}))
    page = make_client(handler).starred_page(url=PAGE_2, etag='W/"p2"')
    assert handler.requests[0].headers["if-none-match"] == 'W/"p2"'
    assert str(handler.requests[0].url) == PAGE_2
    assert page.not_modified


# ------------------------------------------------------------------------- items


def test_bare_repository_items_have_no_starred_at(make_client: MakeClient):
    handler = Recorder(_page([repo_body(), repo_body(repo_id=2, name="two")]))
    page = make_client(handler).starred_page()
    assert [star.repository.id for star in page.stars] == [1296269, 2]
    assert all(star.starred_at is None for star in page.stars)


def test_star_with_null_starred_at(make_client: MakeClient):
    page = make_client(Recorder(_page([star_item(None)]))).starred_page()
    assert page.stars[0].starred_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_starred_at_is_utc_and_timezone_aware(
    make_client: MakeClient, value: str, expected: datetime
):
    starred_at = make_client(Recorder(_page([star_item(value)]))).starred_page().stars[0].starred_at
    assert starred_at == expected
    assert starred_at is not None
    assert starred_at.tzinfo is UTC


MALFORMED: dict[str, tuple[Any, str]] = {
    "item not an object": ([star_item(), "octocat/Hello-World"], "item 1: the item is not"),
    "repo not an object": ([{"starred_at": None, "repo": "x"}], "item 0: field 'repo'"),
    "repo without id": ([star_item(), star_item(id=None)], "item 1: field 'id'"),
    "bare repo without owner": ([repo_body() | {"owner": None}], "item 0: field 'owner'"),
    "starred_at a number": ([{"starred_at": 1714564800, "repo": repo_body()}], "'starred_at'"),
    "starred_at garbage": ([star_item("yesterday")], "field 'starred_at'"),
    "body an object": ({"message": "hello"}, "not a JSON array"),
    "body null": (None, "not a JSON array"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_page_is_a_clear_error(make_client: MakeClient, case: str):
    body, expected = MALFORMED[case]
    client = make_client(Recorder(github_json(200, body)))

    with pytest.raises(GitHubError) as caught:
        client.starred_page()

    assert type(caught.value) is GitHubError
    assert "unexpected answer from GitHub for the starred list of the token's user" in str(
        caught.value
    )
    assert expected in str(caught.value)
    assert caught.value.status == 200


def test_body_that_is_not_json_is_a_clear_error(make_client: MakeClient):
    answer = httpx.Response(200, content=b"<html>proxy error</html>", headers=rate_headers())
    with pytest.raises(GitHubError, match="not a JSON array"):
        make_client(Recorder(answer)).starred_page("octocat")


# ------------------------------------------------------------------------ errors


def test_unknown_user_is_user_not_found(make_client: MakeClient):
    client = make_client(Recorder(not_found()))

    with pytest.raises(UserNotFound) as caught:
        client.starred_page("no-such-user-xyz")

    error = caught.value
    assert isinstance(error, GitHubError)
    assert not isinstance(error, SourceGone)
    assert error.status == 404
    assert error.user == "no-such-user-xyz"
    assert "no-such-user-xyz" in str(error)
    assert "EPICSTAR_GITHUB_USER" in str(error)


def test_unknown_user_on_a_users_url_is_user_not_found(make_client: MakeClient):
    client = make_client(Recorder(not_found()))
    with pytest.raises(UserNotFound, match="'ghost'"):
        client.starred_page(url=f"{API}/users/ghost/starred?page=2")


def test_404_of_the_token_users_list_is_not_about_a_user_name(make_client: MakeClient):
    with pytest.raises(SourceGone) as caught:
        make_client(Recorder(not_found())).starred_page()
    assert not isinstance(caught.value, UserNotFound)
    assert "the starred list of the token's user" in str(caught.value)


def test_403_names_the_starring_permission(make_client: MakeClient):
    answer = github_json(403, {"message": "Resource not accessible by personal access token"})
    with pytest.raises(GitHubForbidden, match="Starring: read"):
        make_client(Recorder(answer)).starred_page()


def test_secondary_limit_on_page_two_is_waited_out(make_client: MakeClient, fake_time: FakeTime):
    limited = github_json(
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        headers={"retry-after": "42", **rate_headers(remaining=4000)},
    )
    handler = Recorder(
        _page([star_item()], headers=link_header(next=PAGE_2, last=PAGE_2)),
        limited,
        _page([star_item(repo_id=9, name="nine")], headers=link_header(first=FIRST)),
    )
    client = make_client(handler)

    first = client.starred_page()
    assert first.next_url == PAGE_2
    second = client.starred_page(url=first.next_url)

    assert fake_time.sleeps == [42.0]
    assert [str(request.url) for request in handler.requests[1:]] == [PAGE_2, PAGE_2]
    assert all(request.headers["accept"] == STAR_JSON for request in handler.requests)
    assert second.stars[0].repository.name == "nine"
    assert second.next_url is None


ERROR_ANSWERS: dict[str, tuple[Callable[[], httpx.Response], str | None]] = {
    "401": (lambda: github_json(401, {"message": f"Bad credentials {TOKEN}"}), None),
    "403": (lambda: github_json(403, {"message": f"token {TOKEN} lacks access"}), None),
    "404 user": (lambda: github_json(404, {"message": f"Not Found {TOKEN}"}), "octocat"),
    "404 own": (lambda: github_json(404, {"message": f"Not Found {TOKEN}"}), None),
    "malformed": (lambda: github_json(200, [{"repo": {"full_name": TOKEN}}]), None),
    "500": (lambda: github_json(500, {"message": TOKEN}), None),
}


@pytest.mark.parametrize("kind", sorted(ERROR_ANSWERS))
def test_error_messages_never_contain_the_token(make_client: MakeClient, kind: str):
    answer, user = ERROR_ANSWERS[kind]
    client = make_client(
        Recorder(*[answer() for _ in range(3)]), max_retries=2, retry=RetryPolicy(tries=3)
    )
    with pytest.raises(GitHubError) as caught:
        client.starred_page(user)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert "\n" not in str(caught.value)


def test_types_are_exported():
    assert {"Star", "StarredPage", "UserNotFound"} <= set(epicstar.discovery.__all__)
