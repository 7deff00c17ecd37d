"""Test doubles for the GitHub client: a fake clock and GitHub-shaped answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

API = "https://api.github.com"
TOKEN = "ghp_s3cretTOKENvalue0123456789abcdefABCD"
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class FakeTime:
    """A clock that only moves when the client sleeps; records every sleep."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def rate_headers(
    *, remaining: int = 4999, limit: int = 5000, reset: float | None = None, resource: str = "core"
) -> dict[str, str]:
    reset_at = int(reset if reset is not None else NOW + 3600)
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(limit - remaining),
        "x-ratelimit-reset": str(reset_at),
        "x-ratelimit-resource": resource,
    }


def repo_body(
    repo_id: int = 1296269,
    owner: str = "octocat",
    name: str = "Hello-World",
    **overrides: Any,
) -> dict[str, Any]:
    """A ``GET /repos/{owner}/{repo}`` body, shaped like GitHub's (trimmed)."""
    body: dict[str, Any] = {
        "id": repo_id,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": name,
        "full_name": f"{owner}/{name}",
        "owner": {"login": owner, "id": 1, "type": "User", "site_admin": False},
        "private": False,
        "html_url": f"https://github.com/{owner}/{name}",
        "description": "This your first repo!",
        "fork": False,
        "url": f"{API}/repos/{owner}/{name}",
        "clone_url": f"https://github.com/{owner}/{name}.git",
        "ssh_url": f"git@github.com:{owner}/{name}.git",
        "homepage": "https://github.com",
        "size": 108,
        "stargazers_count": 80,
        "language": None,
        "has_wiki": True,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "pushed_at": "2011-01-26T19:06:43Z",
        "created_at": "2011-01-26T19:01:12Z",
        "updated_at": "2011-01-26T19:14:43Z",
        "topics": ["octocat", "atom"],
        "default_branch": "master",
    }
    body.update(overrides)
    return body


def github_json(
    status: int, body: Any, *, headers: dict[str, str] | None = None, rate: bool = True
) -> httpx.Response:
    merged = {"content-type": "application/json; charset=utf-8"}
    if rate:
        merged.update(rate_headers())
    merged.update(headers or {})
    return httpx.Response(status, content=json.dumps(body).encode(), headers=merged)


def not_found() -> httpx.Response:
    return github_json(
        404,
        {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
            "status": "404",
        },
    )


Handler = Callable[[httpx.Request], httpx.Response]


def star_item(starred_at: str | None = "2024-05-01T12:00:00Z", **repo: Any) -> dict[str, Any]:
    """One item of a starred list asked for with ``application/vnd.github.star+json``."""
    return {"starred_at": starred_at, "repo": repo_body(**repo)}


def link_header(**rels: str) -> dict[str, str]:
    """A ``Link`` header as GitHub writes it: ``<url>; rel="next", <url>; rel="last"``."""
    return {"link": ", ".join(f'<{url}>; rel="{rel}"' for rel, url in rels.items())}
