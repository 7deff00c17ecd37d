"""Delivering one repository: GitHub → local cache → server (refs by git, commits by REST).

    fetch GitHub's heads and tags into the cache → ask the server's refs (ls-remote) →
    equal: done → else read the new commits → post them → push heads and tags (force, prune)

The commits are posted before the push: if the push fails the next run finds the same
difference and posts the same commits again (the server skips those it has), so none is lost.
On a first mirror (the server has no refs) no commit is posted: the server records one "new
mirror" entry itself.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from epicstar.agent.config import AgentSettings
from epicstar.agent.server import AgentServer
from epicstar.agent.state import Star
from epicstar.discovery.hosts import same_origin
from epicstar.feed.store import BODY_LIMIT, TITLE_LIMIT
from epicstar.mirror.cache import RepoCache, diff_refs
from epicstar.mirror.credentials import HttpAuth, origin_of
from epicstar.mirror.history import MAX_COMMITS_READ, CommitInfo, new_commits
from epicstar.mirror.process import GitError
from epicstar.retry import DEFAULT_RETRY, RetryPolicy
from epicstar.state.models import COMMIT_EMAIL_LIMIT, COMMIT_NAME_LIMIT
from epicstar.sync.context import repository_cache

T = TypeVar("T")
log = structlog.get_logger("epicstar.agent")

BATCH_COMMITS = 1_000
"""The most commits the server takes in one request."""
BATCH_BYTES = 4 * 1024 * 1024
"""A batch is cut earlier when its JSON would pass this size (long messages)."""
CACHE_LOCK_WAIT = 60.0
_REFUSED = re.compile(r"(?:returned error:|HTTP) (?P<status>40[34])")
BRANCH_LIMIT = 255
"""The longest branch name the server takes in a commit's ``branches``."""


class Outcome:
    DELIVERED = "delivered"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    UNSTAR_REPORTED = "unstar reported"
    FAILED = "failed"
    WOULD_DELIVER = "would deliver"
    WOULD_REPORT_UNSTAR = "would report unstar"


@dataclass
class Delivery:
    """How one repository went (one entry of the run's report)."""

    github_id: int
    full_name: str
    outcome: str
    refs_changed: int = 0
    commits_posted: int = 0
    detail: str = ""
    error: str | None = None
    server_refs: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != Outcome.FAILED


class NotTheAgents(Exception):
    """A dry run found the server refusing the agent this repository (403 or 404)."""


class StepFailed(Exception):
    """A git step failed for good (after its retries); the message names the step."""


class Deliverer:
    """Fetches, compares, posts and pushes for one run."""

    def __init__(
        self,
        settings: AgentSettings,
        server: AgentServer,
        *,
        dry_run: bool = False,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.server = server
        self.dry_run = dry_run
        self._retry = retry
        self._sleep = sleep
        self._token = settings.require_github_token()
        self._token_withheld_from: set[str] = set()

    def deliver(self, star: Star, *, first_time: bool = False) -> Delivery:
        """Bring the server's copy of ``star`` up to GitHub's. ``first_time`` (dry runs only):
        the server has never heard of it, so it has no refs to ask for."""
        cache = repository_cache(self.settings, star.github_id, star.size_kb)
        with cache.locked(CACHE_LOCK_WAIT):
            cache.ensure()
            github = self._fetch_github(cache, star)
            url, auth = self.server.git_url(star.github_id), self.server.git_auth()
            try:
                server = {} if first_time else self._server_refs(cache, url, auth)
            except NotTheAgents as refused:
                return Delivery(
                    star.github_id, star.full_name, Outcome.SKIPPED, detail=str(refused)
                )
            if server == github:
                return Delivery(
                    star.github_id, star.full_name, Outcome.UNCHANGED, server_refs=server
                )
            commits = self._new_commits(cache, server, github, url, auth)
            if self.dry_run:
                return self._would(star, server, github, commits)
            posted = self._post(star.github_id, commits)
            pushed = self._step("push to server", lambda: cache.push(url, auth, prune=True)).changed
        return Delivery(
            star.github_id,
            star.full_name,
            Outcome.DELIVERED,
            refs_changed=pushed,
            commits_posted=posted,
            detail="first mirror" if not server else "",
            server_refs=github,
        )

    def _server_refs(self, cache: RepoCache, url: str, auth: HttpAuth) -> dict[str, str]:
        """The server's branches and tags of the repository. In a dry run (no registration
        asked first), a refusal says the server does not take it from the agent."""
        try:
            return self._retry.run(
                lambda: cache.remote_refs(url, auth),
                transient=lambda error: isinstance(error, GitError) and error.transient,
                what="git ls-remote server",
                sleep=self._sleep,
            )
        except GitError as error:
            refused = _REFUSED.search(error.stderr)
            if self.dry_run and refused is not None:
                raise NotTheAgents(
                    f"the server refuses it to the agent ({refused['status']}): not in agent "
                    "mode there, or no longer tracked"
                ) from None
            raise StepFailed(f"ls-remote server: {error}") from error

    def _fetch_github(self, cache: RepoCache, star: Star) -> dict[str, str]:
        """GitHub's branches and tags, in the cache (fetched only when they moved)."""
        auth = self._github_auth(star.clone_url)
        upstream = self._step("ls-remote GitHub", lambda: cache.remote_refs(star.clone_url, auth))
        if upstream != cache.local_refs():
            self._step("fetch from GitHub", lambda: cache.fetch(star.clone_url, auth))
        return cache.local_refs()

    def _github_auth(self, clone_url: str) -> HttpAuth | None:
        """The GitHub token, for GitHub's git host alone (derived from
        ``EPICSTAR_GITHUB_API_URL``): a clone URL on any other host is fetched without it."""
        origin = origin_of(clone_url)
        if same_origin(origin, self.settings.github_git_origin):
            return HttpAuth.basic(clone_url, self._token)
        if origin not in self._token_withheld_from:
            self._token_withheld_from.add(origin)
            log.warning(
                "github.token_withheld",
                origin=origin,
                github_git_origin=self.settings.github_git_origin,
                detail="a clone URL names a host other than GitHub's git host: it is fetched "
                "without EPICSTAR_GITHUB_TOKEN (check EPICSTAR_GITHUB_API_URL)",
            )
        return None

    def _new_commits(
        self,
        cache: RepoCache,
        server: dict[str, str],
        github: dict[str, str],
        url: str,
        auth: HttpAuth,
    ) -> list[CommitInfo]:
        if not server:
            return []
        if cache.missing(list(server.values())):
            # The server holds commits GitHub no longer has (a force-push): without them the
            # commits it already has could not be told apart from new ones.
            self._step("fetch from server", lambda: cache.fetch_objects(url, auth))
        return new_commits(cache, server, github, limit=MAX_COMMITS_READ)

    def _post(self, github_id: int, commits: list[CommitInfo]) -> int:
        posted = 0
        # Oldest batch first, each newest first, so the feed lists them as git log does.
        for batch in reversed(list(batches([commit_json(c) for c in commits]))):
            self.server.post_commits(github_id, batch)
            posted += len(batch)
        return posted

    def _would(
        self, star: Star, server: dict[str, str], github: dict[str, str], commits: list[CommitInfo]
    ) -> Delivery:
        detail = "first mirror" if not server else f"{len(commits)} new commits"
        return Delivery(
            star.github_id,
            star.full_name,
            Outcome.WOULD_DELIVER,
            refs_changed=diff_refs(server, github),
            commits_posted=len(commits),
            detail=detail,
            server_refs=server,
        )

    def _step(self, step: str, action: Callable[[], T]) -> T:
        try:
            return self._retry.run(
                action,
                transient=lambda error: isinstance(error, GitError) and error.transient,
                what=f"git {step}",
                sleep=self._sleep,
            )
        except GitError as error:
            raise StepFailed(f"{step}: {error}") from error


def commit_json(commit: CommitInfo) -> dict[str, Any]:
    """One commit as the ingestion API takes it."""
    return {
        "sha": commit.sha,
        "author_name": commit.author_name.strip()[:COMMIT_NAME_LIMIT],
        "author_email": commit.author_email.strip()[:COMMIT_EMAIL_LIMIT],
        "authored_at": commit.authored_at.isoformat(),
        "committer_name": commit.committer_name.strip()[:COMMIT_NAME_LIMIT],
        "committer_email": commit.committer_email.strip()[:COMMIT_EMAIL_LIMIT],
        "committed_at": commit.committed_at.isoformat(),
        "title": commit.title[:TITLE_LIMIT],
        "body": commit.body[:BODY_LIMIT],
        "additions": commit.additions,
        "deletions": commit.deletions,
        "files_changed": commit.files_changed,
        "is_merge": commit.is_merge,
        "parent_count": len(commit.parents),
        "branches": [name for name in commit.branches if len(name) <= BRANCH_LIMIT][:1_000],
    }


def batches(
    commits: Sequence[dict[str, Any]], *, size: int = BATCH_COMMITS, max_bytes: int = BATCH_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive runs of ``commits`` (their order kept) of at most ``size`` commits and
    about ``max_bytes`` of JSON each (a single larger commit goes alone)."""
    batch: list[dict[str, Any]] = []
    weight = 0
    for commit in commits:
        cost = len(json.dumps(commit))
        if batch and (len(batch) >= size or weight + cost > max_bytes):
            yield batch
            batch, weight = [], 0
        batch.append(commit)
        weight += cost
    if batch:
        yield batch
