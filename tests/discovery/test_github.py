"""GitHubClient against answers shaped as research/github.md documents them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from epicstar.discovery import (
    DEFAULT_USER_AGENT,
    GitHubAuthError,
    GitHubClient,
    GitHubError,
    GitHubForbidden,
    GitHubUnavailable,
    RateLimited,
    Repository,
    SourceBlocked,
    SourceGone,
)
from epicstar.retry import RetryPolicy
from tests.discovery.fakes import (
    API,
    NOW,
    TOKEN,
    FakeTime,
    github_json,
    not_found,
    rate_headers,
    repo_body,
)
from tests.http_fakes import Recorder

MakeClient = Callable[..., GitHubClient]
ETAG = '"644b5b0155e6404a9cc4bd9d8b1ae730"'


# ---------------------------------------------------------------- basic requests


def test_get_repository_sends_github_headers_and_parses_the_fields(make_client: MakeClient):
    handler = Recorder(github_json(200, repo_body(), headers={"etag": ETAG}))
    client = make_client(handler)

    answer = client.get_repository("octocat/Hello-World")

    request = handler.requests[0]
    assert request.method == "GET"
    assert str(request.url) == f"{API}/repos/octocat/Hello-World"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("epicstar/")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "if-none-match" not in request.headers

    assert answer.not_modified is False
    assert answer.moved is False
    assert answer.etag == ETAG
    assert answer.repository == Repository(
        id=1296269,
        full_name="octocat/Hello-World",
        owner="octocat",
        name="Hello-World",
        clone_url="https://github.com/octocat/Hello-World.git",
        html_url="https://github.com/octocat/Hello-World",
        description="This your first repo!",
        default_branch="master",
        private=False,
        archived=False,
        disabled=False,
        fork=False,
        size_kb=108,
        pushed_at="2011-01-26T19:06:43Z",
        has_wiki=True,
    )


def test_rate_limit_headers_are_recorded(make_client: MakeClient):
    headers = rate_headers(remaining=4321, reset=NOW + 1234)
    client = make_client(Recorder(github_json(200, repo_body(), headers=headers)))
    assert client.rate_limit is None

    client.get_repository("octocat/Hello-World")

    limit = client.rate_limit
    assert limit is not None
    assert (limit.limit, limit.remaining, limit.used, limit.resource) == (5000, 4321, 679, "core")
    assert limit.reset == datetime.fromtimestamp(int(NOW + 1234), UTC)


def test_without_a_token_no_authorization_header_is_sent(make_client: MakeClient):
    handler = Recorder(github_json(200, repo_body()))
    client = make_client(handler, token=None)
    client.get_repository("octocat/Hello-World")
    assert "authorization" not in handler.requests[0].headers


def test_custom_user_agent(make_client: MakeClient):
    handler = Recorder(github_json(200, repo_body()))
    client = make_client(handler, user_agent="epicstar-test/1.0 (+https://example.org)")
    client.get_repository("octocat/Hello-World")
    assert handler.requests[0].headers["user-agent"] == "epicstar-test/1.0 (+https://example.org)"


def test_get_repository_by_id(make_client: MakeClient):
    handler = Recorder(github_json(200, repo_body(repo_id=42)))
    client = make_client(handler)
    answer = client.get_repository_by_id(42)
    assert str(handler.requests[0].url) == f"{API}/repositories/42"
    assert answer.repository is not None
    assert answer.repository.id == 42


def test_empty_repository_has_no_default_branch(make_client: MakeClient):
    client = make_client(Recorder(github_json(200, repo_body(default_branch=None, pushed_at=None))))
    repository = client.get_repository("octocat/Hello-World").repository
    assert repository is not None
    assert repository.default_branch is None
    assert repository.pushed_at is None


@pytest.mark.parametrize("bad", ["octocat", "octocat/", "/Hello-World", "a/b/c", ""])
def test_full_name_must_be_owner_slash_name(make_client: MakeClient, bad: str):
    client = make_client(Recorder())
    with pytest.raises(ValueError, match="owner/name"):
        client.get_repository(bad)


@pytest.mark.parametrize("bad", [0, -1, True])
def test_repository_id_must_be_positive(make_client: MakeClient, bad: int):
    client = make_client(Recorder())
    with pytest.raises(ValueError, match="repository id"):
        client.get_repository_by_id(bad)


def test_malformed_body_is_a_clear_error(make_client: MakeClient):
    body = repo_body()
    del body["clone_url"]
    client = make_client(Recorder(github_json(200, body)))
    with pytest.raises(GitHubError, match="clone_url"):
        client.get_repository("octocat/Hello-World")


def test_repository_from_webhook_payload_with_epoch_pushed_at():
    repository = Repository.from_api(repo_body(pushed_at=1296068803))
    assert repository.pushed_at == "2011-01-26T19:06:43Z"


# ------------------------------------------------------------ conditional (ETag)


def test_not_modified_answer(make_client: MakeClient):
    handler = Recorder(httpx.Response(304, headers={"etag": ETAG, **rate_headers(remaining=4999)}))
    client = make_client(handler)

    answer = client.get_repository("octocat/Hello-World", etag=ETAG)

    assert handler.requests[0].headers["if-none-match"] == ETAG
    assert answer.not_modified is True
    assert answer.repository is None
    assert answer.etag == ETAG
    assert answer.moved is False


def test_not_modified_without_etag_header_keeps_the_sent_one(make_client: MakeClient):
    client = make_client(Recorder(httpx.Response(304, headers=rate_headers())))
    answer = client.get_repository("octocat/Hello-World", etag=ETAG)
    assert answer.not_modified
    assert answer.etag == ETAG


def test_unquoted_etag_is_sent_quoted_and_weak_etag_verbatim(make_client: MakeClient):
    handler = Recorder(httpx.Response(304), httpx.Response(304))
    client = make_client(handler)
    client.get_repository("octocat/Hello-World", etag="abc123")
    client.get_repository("octocat/Hello-World", etag='W/"abc123"')
    assert handler.requests[0].headers["if-none-match"] == '"abc123"'
    assert handler.requests[1].headers["if-none-match"] == 'W/"abc123"'


# ----------------------------------------------------------------------- redirects


def _moved(location: str, status: int = 301) -> httpx.Response:
    return github_json(
        status,
        {
            "message": "Moved Permanently",
            "url": location,
            "documentation_url": "https://docs.github.com/v3/#http-redirects",
        },
        headers={"location": location},
    )


def test_301_is_followed_and_reported(make_client: MakeClient):
    handler = Recorder(
        _moved(f"{API}/repositories/1296269"),
        github_json(
            200, repo_body(owner="octo-org", name="Hello-Universe"), headers={"etag": ETAG}
        ),
    )
    client = make_client(handler)

    answer = client.get_repository("octocat/Hello-World", etag='"old"')

    first, second = handler.requests
    assert str(first.url) == f"{API}/repos/octocat/Hello-World"
    assert str(second.url) == f"{API}/repositories/1296269"
    assert second.headers["authorization"] == f"Bearer {TOKEN}"
    assert second.headers["if-none-match"] == '"old"'
    assert second.headers["x-github-api-version"] == "2022-11-28"
    assert answer.moved is True
    assert answer.repository is not None
    assert answer.repository.full_name == "octo-org/Hello-Universe"
    assert answer.etag == ETAG


def test_301_then_304(make_client: MakeClient):
    handler = Recorder(_moved(f"{API}/repositories/1296269"), httpx.Response(304))
    answer = make_client(handler).get_repository("octocat/Hello-World", etag=ETAG)
    assert answer.not_modified
    assert answer.moved is True


def test_temporary_redirect_is_followed_but_not_reported_as_moved(make_client: MakeClient):
    handler = Recorder(_moved(f"{API}/repositories/1296269", 307), github_json(200, repo_body()))
    answer = make_client(handler).get_repository("octocat/Hello-World")
    assert answer.moved is False
    assert answer.repository is not None


def test_relative_location_is_resolved(make_client: MakeClient):
    handler = Recorder(_moved("/repositories/1296269"), github_json(200, repo_body()))
    make_client(handler).get_repository("octocat/Hello-World")
    assert str(handler.requests[1].url) == f"{API}/repositories/1296269"


def test_token_is_not_sent_to_another_origin(make_client: MakeClient):
    handler = Recorder(
        _moved("https://elsewhere.example/repositories/1"), github_json(200, repo_body())
    )
    make_client(handler).get_repository("octocat/Hello-World")
    assert "authorization" not in handler.requests[1].headers


def test_redirect_loop_is_an_error(make_client: MakeClient):
    handler = Recorder(*[_moved(f"{API}/repositories/1") for _ in range(6)])
    with pytest.raises(GitHubError, match="redirected"):
        make_client(handler).get_repository("octocat/Hello-World")


def test_redirect_without_location_is_an_error(make_client: MakeClient):
    handler = Recorder(github_json(301, {"message": "Moved Permanently"}))
    with pytest.raises(GitHubError, match="without a location"):
        make_client(handler).get_repository("octocat/Hello-World")


# -------------------------------------------------------------- error statuses


def test_404_is_source_gone(make_client: MakeClient):
    with pytest.raises(SourceGone) as caught:
        make_client(Recorder(not_found())).get_repository("octocat/gone")
    assert caught.value.status == 404
    assert "octocat/gone" in str(caught.value)


def test_451_is_source_blocked_with_reason_and_link(make_client: MakeClient):
    body = {
        "message": "Repository access blocked",
        "block": {
            "reason": "dmca",
            "created_at": "2021-04-01T12:00:00Z",
            "html_url": "https://github.com/github/dmca/blob/master/2021/04/2021-04-01-example.md",
        },
    }
    with pytest.raises(SourceBlocked) as caught:
        make_client(Recorder(github_json(451, body))).get_repository("octocat/blocked")
    error = caught.value
    assert error.status == 451
    assert error.reason == "dmca"
    assert error.html_url == body["block"]["html_url"]  # type: ignore[index]
    assert "dmca" in str(error)
    assert isinstance(error, GitHubError)


def test_451_without_block_object(make_client: MakeClient):
    with pytest.raises(SourceBlocked) as caught:
        make_client(
            Recorder(github_json(451, {"message": "Repository access blocked"}))
        ).get_repository("octocat/blocked")
    assert caught.value.reason is None
    assert caught.value.html_url is None


def _bad_credentials() -> httpx.Response:
    return github_json(
        401,
        {
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        },
        rate=False,
    )


def test_401_explains_what_the_token_needs(make_client: MakeClient):
    with pytest.raises(GitHubAuthError) as caught:
        make_client(Recorder(_bad_credentials())).get_repository("octocat/Hello-World")
    message = str(caught.value)
    assert caught.value.status == 401
    assert "\n" not in message
    for expected in (
        "EPICSTAR_GITHUB_TOKEN",
        "Bad credentials",
        "'repo'",
        "public_repo",
        "Metadata: read",
        "Contents: read",
        "Starring: read",
    ):
        assert expected in message
    assert TOKEN not in message


def test_401_without_a_token_says_to_set_one(make_client: MakeClient):
    body = {
        "message": "Requires authentication",
        "documentation_url": "https://docs.github.com/rest",
    }
    with pytest.raises(GitHubAuthError, match="set EPICSTAR_GITHUB_TOKEN"):
        make_client(Recorder(github_json(401, body)), token=None).get_repository("octocat/private")


def test_403_without_rate_limit_signs_is_forbidden(make_client: MakeClient):
    body = {
        "message": "Resource not accessible by personal access token",
        "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
        "status": "403",
    }
    handler = Recorder(github_json(403, body, headers=rate_headers(remaining=4990)))
    with pytest.raises(GitHubForbidden) as caught:
        make_client(handler).get_repository("octo-org/private")
    assert "Resource not accessible" in str(caught.value)
    assert "EPICSTAR_GITHUB_TOKEN" in str(caught.value)
    assert len(handler.requests) == 1


def test_other_client_errors_use_the_base_class(make_client: MakeClient):
    body = {"message": "The requested API version is not supported"}
    with pytest.raises(GitHubError) as caught:
        make_client(Recorder(github_json(410, body))).get_repository("octocat/Hello-World")
    assert type(caught.value) is GitHubError
    assert caught.value.status == 410


# ---------------------------------------------------------------- rate limits


def test_retry_after_is_honoured(make_client: MakeClient, fake_time: FakeTime):
    limited = github_json(
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        headers={"retry-after": "30", **rate_headers(remaining=4000)},
    )
    handler = Recorder(limited, github_json(200, repo_body()))

    answer = make_client(handler).get_repository("octocat/Hello-World")

    assert fake_time.sleeps == [30.0]
    assert len(handler.requests) == 2
    assert answer.repository is not None


def test_429_with_retry_after(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(
        github_json(429, {"message": "Too Many Requests"}, headers={"retry-after": "7"}),
        github_json(200, repo_body()),
    )
    make_client(handler).get_repository("octocat/Hello-World")
    assert fake_time.sleeps == [7.0]


def test_primary_limit_waits_until_reset(make_client: MakeClient, fake_time: FakeTime):
    exhausted = github_json(
        403,
        {
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
        headers=rate_headers(remaining=0, reset=NOW + 120),
    )
    handler = Recorder(exhausted, github_json(200, repo_body()))

    make_client(handler).get_repository("octocat/Hello-World")

    assert fake_time.sleeps == [121.0]  # until reset, plus one second
    assert len(handler.requests) == 2


def test_secondary_limit_without_headers_backs_off_exponentially(
    make_client: MakeClient, fake_time: FakeTime
):
    def secondary() -> httpx.Response:
        return github_json(
            403,
            {
                "message": "You have exceeded a secondary rate limit and have been temporarily "
                "blocked from content creation. Please retry your request again later.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            },
            headers=rate_headers(remaining=4000),
        )

    handler = Recorder(secondary(), secondary(), secondary(), github_json(200, repo_body()))
    make_client(handler).get_repository("octocat/Hello-World")
    assert fake_time.sleeps == [60.0, 120.0, 240.0]


def test_429_without_any_hint_is_a_secondary_limit(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(httpx.Response(429), github_json(200, repo_body()))
    make_client(handler).get_repository("octocat/Hello-World")
    assert fake_time.sleeps == [60.0]


def test_wait_beyond_max_wait_raises_rate_limited(make_client: MakeClient, fake_time: FakeTime):
    exhausted = github_json(
        403,
        {"message": "API rate limit exceeded for user ID 1."},
        headers=rate_headers(remaining=0, reset=NOW + 3600),
    )
    handler = Recorder(exhausted)

    with pytest.raises(RateLimited) as caught:
        make_client(handler, max_wait=900).get_repository("octocat/Hello-World")

    error = caught.value
    assert fake_time.sleeps == []
    assert len(handler.requests) == 1
    assert error.wait_seconds == pytest.approx(3601)
    assert error.retry_at == datetime.fromtimestamp(NOW + 3601, UTC)
    assert error.status == 403
    assert "(core)" in str(error)
    assert isinstance(error, GitHubError)


def test_retry_after_beyond_max_wait_raises(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(github_json(429, {"message": "slow down"}, headers={"retry-after": "1000"}))
    with pytest.raises(RateLimited) as caught:
        make_client(handler, max_wait=300).get_repository("octocat/Hello-World")
    assert caught.value.wait_seconds == 1000
    assert fake_time.sleeps == []


def test_rate_limit_retries_are_bounded(make_client: MakeClient, fake_time: FakeTime):
    answers = [
        github_json(403, {"message": "secondary rate limit"}, headers={"retry-after": "5"})
        for _ in range(4)
    ]
    handler = Recorder(*answers)
    with pytest.raises(RateLimited, match="after 3 retries"):
        make_client(handler, max_retries=3).get_repository("octocat/Hello-World")
    assert fake_time.sleeps == [5.0, 5.0, 5.0]
    assert len(handler.requests) == 4


def test_exhausted_budget_waits_before_the_next_request(
    make_client: MakeClient, fake_time: FakeTime
):
    sent_at: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_at.append(fake_time.now)
        return github_json(200, repo_body(), headers=rate_headers(remaining=0, reset=NOW + 50))

    handler = Recorder(answer, answer)
    client = make_client(handler)
    client.get_repository("octocat/Hello-World")
    client.get_repository("octocat/Hello-World")

    assert fake_time.sleeps == [51.0]
    assert sent_at == [NOW, NOW + 51]


def test_exhausted_budget_beyond_max_wait_raises_without_a_request(
    make_client: MakeClient, fake_time: FakeTime
):
    handler = Recorder(
        github_json(200, repo_body(), headers=rate_headers(remaining=0, reset=NOW + 2000))
    )
    client = make_client(handler, max_wait=600)
    client.get_repository("octocat/Hello-World")
    with pytest.raises(RateLimited):
        client.get_repository("octocat/Hello-World")
    assert len(handler.requests) == 1
    assert fake_time.sleeps == []


# ------------------------------------------------------- server and network errors


def _server_error(status: int) -> httpx.Response:
    return httpx.Response(
        status, text="<html><body>Unicorn!</body></html>", headers={"content-type": "text/html"}
    )


def test_5xx_is_retried_with_backoff_then_succeeds(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(_server_error(502), _server_error(503), github_json(200, repo_body()))
    answer = make_client(handler).get_repository("octocat/Hello-World")
    assert answer.repository is not None
    assert len(fake_time.sleeps) == 2
    assert 0.5 <= fake_time.sleeps[0] <= 0.625
    assert 1.0 <= fake_time.sleeps[1] <= 1.125


def test_persistent_5xx_is_unavailable(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(*[_server_error(500) for _ in range(4)])
    with pytest.raises(GitHubUnavailable) as caught:
        make_client(handler, retry=RetryPolicy(tries=4)).get_repository("octocat/Hello-World")
    assert caught.value.status == 500
    assert len(handler.requests) == 4
    for slept, base in zip(fake_time.sleeps, [0.5, 1, 2], strict=True):
        assert base <= slept <= base + 0.125


def test_backoff_is_capped(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(*[_server_error(503) for _ in range(9)])
    with pytest.raises(GitHubUnavailable):
        make_client(handler, retry=RetryPolicy(tries=9, budget=100)).get_repository(
            "octocat/Hello-World"
        )
    assert max(fake_time.sleeps) <= 2.125


def test_5xx_retry_after_is_honoured(make_client: MakeClient, fake_time: FakeTime):
    busy = httpx.Response(503, text="busy", headers={"retry-after": "3"})
    handler = Recorder(busy, github_json(200, repo_body()))
    assert make_client(handler).get_repository("octocat/Hello-World").repository is not None
    assert fake_time.sleeps == [3.0]


def test_network_error_is_retried(make_client: MakeClient, fake_time: FakeTime):
    handler = Recorder(httpx.ConnectError("connection refused"), github_json(200, repo_body()))
    answer = make_client(handler).get_repository("octocat/Hello-World")
    assert answer.repository is not None
    assert len(fake_time.sleeps) == 1


def test_persistent_network_error_is_unavailable(make_client: MakeClient):
    handler = Recorder(*[httpx.ReadTimeout("timed out") for _ in range(3)])
    with pytest.raises(GitHubUnavailable, match="ReadTimeout"):
        make_client(handler, retry=RetryPolicy(tries=3)).get_repository("octocat/Hello-World")
    assert len(handler.requests) == 3


# ----------------------------------------------------------------- secrets, lock


ERROR_ANSWERS: dict[str, Callable[[], httpx.Response | Exception]] = {
    "401": lambda: github_json(401, {"message": f"Bad credentials {TOKEN}"}),
    "403": lambda: github_json(403, {"message": f"token {TOKEN} lacks access"}),
    "404": lambda: github_json(404, {"message": f"Not Found {TOKEN}"}),
    "451": lambda: github_json(451, {"message": TOKEN, "block": {"reason": "dmca"}}),
    "410": lambda: github_json(410, {"message": TOKEN}),
    "500": lambda: github_json(500, {"message": TOKEN}),
    "rate": lambda: github_json(
        403,
        {"message": f"API rate limit exceeded {TOKEN}"},
        headers=rate_headers(remaining=0, reset=NOW + 99999),
    ),
    "network": lambda: httpx.ConnectError(f"cannot connect with {TOKEN}"),
}


@pytest.mark.parametrize("kind", sorted(ERROR_ANSWERS))
def test_error_messages_never_contain_the_token(make_client: MakeClient, kind: str):
    handler = Recorder(*[ERROR_ANSWERS[kind]() for _ in range(3)])
    client = make_client(handler, max_retries=2, retry=RetryPolicy(tries=3))
    with pytest.raises(GitHubError) as caught:
        client.get_repository("octocat/Hello-World")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert "\n" not in str(caught.value)


def test_repr_hides_the_token(make_client: MakeClient):
    client = make_client(Recorder())
    assert TOKEN not in repr(client)
    assert "authenticated=True" in repr(client)
    assert TOKEN not in repr(vars(client))


def test_requests_are_serialised():
    active = 0
    peak = 0
    guard = threading.Lock()

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with guard:
            active -= 1
        return github_json(200, repo_body())

    with GitHubClient(API, TOKEN, transport=httpx.MockTransport(answer)) as client:
        threads = [
            threading.Thread(target=client.get_repository, args=("octocat/Hello-World",))
            for _ in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert peak == 1


def test_context_manager_closes_the_http_client():
    with GitHubClient(API, TOKEN, transport=httpx.MockTransport(lambda r: not_found())) as client:
        pass
    with pytest.raises(RuntimeError):
        client.get_repository("octocat/Hello-World")


def test_api_url_must_be_absolute():
    with pytest.raises(ValueError, match="absolute"):
        GitHubClient("api.github.com", None)


def test_enterprise_api_url_keeps_its_path():
    handler = Recorder(github_json(200, repo_body()))
    with GitHubClient(
        "https://ghe.example.com/api/v3/", TOKEN, transport=httpx.MockTransport(handler)
    ) as client:
        client.get_repository("octocat/Hello-World")
    assert (
        str(handler.requests[0].url) == "https://ghe.example.com/api/v3/repos/octocat/Hello-World"
    )
    assert handler.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


# ---------------------------------------------------------------- token check


def test_check_token_uses_the_free_rate_limit_endpoint(make_client: MakeClient):
    handler = Recorder(github_json(200, {"resources": {}}, headers=rate_headers()))
    make_client(handler).check_token()
    assert [str(request.url) for request in handler.requests] == [f"{API}/rate_limit"]


def test_check_token_rejects_a_bad_token(make_client: MakeClient):
    client = make_client(Recorder(github_json(401, {"message": "Bad credentials"})))
    with pytest.raises(GitHubAuthError, match="EPICSTAR_GITHUB_TOKEN"):
        client.check_token()


def test_check_token_accepts_a_server_without_rate_limits(make_client: MakeClient):
    make_client(Recorder(not_found())).check_token()


def test_check_token_without_a_token_sends_nothing(make_client: MakeClient):
    handler = Recorder(github_json(200, {}))
    make_client(handler, token=None).check_token()
    assert handler.requests == []
