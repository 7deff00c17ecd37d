"""Data model of the GitHub stand-in: repositories, blocks, stars, tokens and rate-limit
buckets."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_TOKEN_LIMIT = 5000
DEFAULT_ANONYMOUS_LIMIT = 60
RATE_WINDOW = 3600
DMCA_NOTICE_URL = "https://github.com/github/dmca/blob/master/2024/01/2024-01-01-sandbox.md"


def iso(ts: float) -> str:
    """GitHub's timestamp format: ``2024-01-02T03:04:05Z``."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso_datetime(when: datetime) -> str:
    """:func:`iso` of a datetime (whole seconds, ``Z``)."""
    return utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Block:
    reason: str
    created_at: float
    html_url: str


@dataclass
class GitHubRepo:
    """Metadata of one fake repository; ``path`` is its bare git directory (its Git LFS
    objects under ``lfs/objects`` inside it, as git-lfs keeps them), ``wiki_path`` its wiki's,
    which exists once the wiki has a page (``wiki``)."""

    id: int
    owner: str
    name: str
    path: Path
    private: bool
    description: str | None
    default_branch: str
    archived: bool
    fork: bool
    created_at: float
    updated_at: float
    pushed_at: float
    owner_type: str = "User"
    disabled: bool = False
    topics: list[str] = field(default_factory=list)
    language: str | None = None
    homepage: str | None = None
    has_wiki: bool = True
    has_issues: bool = True
    stargazers_count: int = 0
    deleted: bool = False
    block: Block | None = None
    size_cache: int | None = None
    wiki: bool = False
    lfs_over_quota: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def wiki_path(self) -> Path:
        return self.path.with_name(f"{self.id}.wiki.git")

    @property
    def lfs_path(self) -> Path:
        return self.path / "lfs" / "objects"


@dataclass(frozen=True)
class Star:
    """One user's star on a repository, by repository id (so it survives renames and
    transfers).  ``seq`` breaks ties between equal ``starred_at`` (later star, higher seq)."""

    repo_id: int
    starred_at: datetime
    seq: int


@dataclass
class RateLimit:
    limit: int
    remaining: int
    reset: int

    @property
    def used(self) -> int:
        return max(self.limit - self.remaining, 0)


@dataclass(frozen=True)
class TokenUser:
    login: str
    id: int


class RateLimiter:
    """Primary ("core") rate-limit buckets per token, plus one for anonymous clients."""

    ANONYMOUS = "<anonymous>"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, RateLimit] = {}

    def _bucket(self, token: str | None) -> RateLimit:
        key = token if token is not None else self.ANONYMOUS
        bucket = self._buckets.get(key)
        now = int(time.time())
        if bucket is None:
            limit = DEFAULT_TOKEN_LIMIT if token is not None else DEFAULT_ANONYMOUS_LIMIT
            bucket = self._buckets[key] = RateLimit(limit, limit, now + RATE_WINDOW)
        elif now >= bucket.reset:
            bucket.remaining = bucket.limit
            bucket.reset = now + RATE_WINDOW
        return bucket

    @staticmethod
    def _copy(bucket: RateLimit) -> RateLimit:
        return RateLimit(bucket.limit, bucket.remaining, bucket.reset)

    def set(
        self, token: str | None, limit: int, remaining: int | None, reset: float | None
    ) -> None:
        with self._lock:
            key = token if token is not None else self.ANONYMOUS
            self._buckets[key] = RateLimit(
                limit,
                limit if remaining is None else remaining,
                int(reset) if reset is not None else int(time.time()) + RATE_WINDOW,
            )

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def snapshot(self, token: str | None) -> RateLimit:
        with self._lock:
            return self._copy(self._bucket(token))

    def consume(self, token: str | None) -> RateLimit | None:
        """Count one request; None (nothing counted) when the bucket is exhausted."""
        with self._lock:
            bucket = self._bucket(token)
            if bucket.remaining <= 0:
                return None
            bucket.remaining -= 1
            return self._copy(bucket)

    def refund(self, token: str | None) -> RateLimit:
        """Give one request back (a 304 is free)."""
        with self._lock:
            bucket = self._bucket(token)
            bucket.remaining = min(bucket.remaining + 1, bucket.limit)
            return self._copy(bucket)


# ---------------------------------------------------------------------------- representation


def owner_json(repo: GitHubRepo, owner_id: int, base: str) -> dict[str, Any]:
    node = "U_" if repo.owner_type == "User" else "O_"
    return {
        "login": repo.owner,
        "id": owner_id,
        "node_id": node + base64.b64encode(f"owner:{owner_id}".encode()).decode().rstrip("="),
        "avatar_url": f"{base}/avatars/{repo.owner}",
        "gravatar_id": "",
        "url": f"{base}/users/{repo.owner}",
        "html_url": f"{base}/{repo.owner}",
        "type": repo.owner_type,
        "site_admin": False,
    }


def repo_json(
    repo: GitHubRepo, *, owner_id: int, size_kib: int, base: str, authenticated: bool
) -> dict[str, Any]:
    """The ``full-repository`` shape (the fields a mirror needs, with GitHub's names);
    ``base`` is the server URL the client used (clone_url = ``<base>/<owner>/<name>.git``)."""
    full = repo.full_name
    host = base.split("://", 1)[-1]
    body: dict[str, Any] = {
        "id": repo.id,
        "node_id": "R_" + base64.b64encode(f"repo:{repo.id}".encode()).decode().rstrip("="),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": owner_json(repo, owner_id, base),
        "html_url": f"{base}/{full}",
        "description": repo.description,
        "fork": repo.fork,
        "url": f"{base}/repos/{full}",
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "pushed_at": iso(repo.pushed_at),
        "git_url": f"git://{host}/{full}.git",
        "ssh_url": f"git@{host.split(':')[0]}:{full}.git",
        "clone_url": f"{base}/{full}.git",
        "svn_url": f"{base}/{full}",
        "homepage": repo.homepage,
        "size": size_kib,
        "stargazers_count": repo.stargazers_count,
        "watchers_count": repo.stargazers_count,
        "language": repo.language,
        "has_issues": repo.has_issues,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": repo.has_wiki,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": repo.archived,
        "disabled": repo.disabled,
        "open_issues_count": 0,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": list(repo.topics),
        "visibility": "private" if repo.private else "public",
        "forks": 0,
        "open_issues": 0,
        "watchers": repo.stargazers_count,
        "default_branch": repo.default_branch,
        "network_count": 0,
        "subscribers_count": 0,
    }
    if authenticated:
        body["permissions"] = {
            "admin": False,
            "maintain": False,
            "push": False,
            "triage": False,
            "pull": True,
        }
    return body
