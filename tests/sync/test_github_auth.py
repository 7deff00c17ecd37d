"""The GitHub token goes to GitHub's git host alone: the one derived from
``EPICSTAR_GITHUB_API_URL``, whatever host a repository's clone URL names."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from epicstar.config import Settings
from epicstar.destination import OneDevClient
from epicstar.discovery import GitHubClient
from epicstar.discovery.hosts import git_origin, same_origin
from epicstar.state.database import Database
from epicstar.sync.context import SyncContext

TOKEN = "ghp_" + "s3cret" * 6


@pytest.mark.parametrize(
    ("api_url", "origin"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://API.GitHub.com", "https://github.com"),
        ("https://api.octocorp.ghe.com", "https://octocorp.ghe.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com:8443/api/v3", "https://ghe.example.com:8443"),
        ("https://ghe.example.com:443/api/v3", "https://ghe.example.com"),
        ("http://127.0.0.1:41234", "http://127.0.0.1:41234"),  # the sandbox: API and git
    ],
)
def test_githubs_git_host_is_told_from_its_api_url(api_url: str, origin: str) -> None:
    assert git_origin(api_url) == origin
    assert Settings(github_api_url=api_url).github_git_origin == origin


def test_an_origin_is_its_scheme_host_and_port() -> None:
    assert same_origin("https://GitHub.com:443/octo/hello.git", "https://github.com")
    assert not same_origin("http://github.com/octo/hello.git", "https://github.com")
    assert not same_origin("https://github.com:8443/octo/hello.git", "https://github.com")
    assert not same_origin("https://github.com.evil.example/x.git", "https://github.com")
    assert not same_origin("https://github.com:99999/x.git", "https://github.com")


@pytest.fixture
def context(tmp_path: Path) -> Iterator[SyncContext]:
    settings = Settings(
        data_dir=tmp_path,
        github_token=SecretStr(TOKEN),
        onedev_url="https://onedev.example.com",
        onedev_token=SecretStr("od_token"),
    )
    database = Database(f"sqlite:///{tmp_path / 'epicstar.db'}")
    with (
        GitHubClient(settings.github_api_url, TOKEN) as github,
        OneDevClient("https://onedev.example.com", "od_token") as onedev,
    ):
        yield SyncContext(settings=settings, db=database, github=github, onedev=onedev)
    database.dispose()


def test_the_token_goes_to_githubs_git_host(context: SyncContext) -> None:
    auth = context.github_auth("https://github.com/octo/hello.git")
    assert auth is not None
    assert auth.origin == "https://github.com"
    secret = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert auth.git_config() == {
        "http.https://github.com/.extraHeader": f"Authorization: Basic {secret}"
    }


@pytest.mark.parametrize(
    "clone_url",
    [
        "https://git.example.net/octo/hello.git",
        "https://api.github.com/octo/hello.git",  # the API's host is not git's
        "http://github.com/octo/hello.git",  # nor is plain HTTP
        "https://github.com.evil.example/octo/hello.git",
    ],
)
def test_no_token_for_any_other_host(context: SyncContext, clone_url: str) -> None:
    with capture_logs() as logged:
        assert context.github_auth(clone_url) is None
    [warning] = logged
    assert warning["event"] == "github.token_withheld"
    assert warning["log_level"] == "warning"
    assert warning["github_git_origin"] == "https://github.com"
    assert TOKEN not in repr(warning)


def test_the_warning_is_given_once_per_host(context: SyncContext) -> None:
    with capture_logs() as logged:
        for _ in range(3):
            assert context.github_auth("https://git.example.net/a/b.git") is None
            assert context.github_auth("https://git.example.net:8443/a/b.git") is None
        assert context.github_auth("https://github.com/a/b.git") is not None
    assert [line["origin"] for line in logged] == [
        "https://git.example.net",
        "https://git.example.net:8443",
    ]
