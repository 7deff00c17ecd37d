"""What a mirror pass adds to the feed: the commits its branches gained, the tags created or
moved, or, for a repository mirrored for the first time, one entry for the whole of it."""

from __future__ import annotations

from collections.abc import Mapping

from epicstar.feed.store import FeedRow
from epicstar.mirror.cache import RepoCache
from epicstar.mirror.history import MAX_COMMITS_READ, CommitInfo, describe, new_commits
from epicstar.state.models import FeedKind


def pass_rows(
    cache: RepoCache,
    mirrored: Mapping[str, str] | None,
    after: Mapping[str, str],
    *,
    default_branch: str | None,
    commits: bool = True,
) -> list[FeedRow]:
    """The rows, oldest first, for refs going from ``mirrored`` (None: never mirrored) to
    ``after``; without ``commits``, only tags and the first mirror (an agent posts its
    commits itself)."""
    if mirrored is None:
        return _first_mirror(cache, after, default_branch)
    rows: list[FeedRow] = []
    if commits:
        found = new_commits(cache, mirrored, after, limit=MAX_COMMITS_READ)
        rows.extend(commit_row(info, FeedKind.COMMIT) for info in reversed(found))
    tags = {
        name.removeprefix("refs/tags/"): sha
        for name, sha in after.items()
        if name.startswith("refs/tags/") and mirrored.get(name) != sha
    }
    described = describe(cache, tags.values()) if tags else {}
    for tag in sorted(tags):
        if (info := described.get(tags[tag])) is not None:
            rows.append(commit_row(info, FeedKind.TAG, ref=tag))
    return rows


def _first_mirror(
    cache: RepoCache, after: Mapping[str, str], default_branch: str | None
) -> list[FeedRow]:
    if not after:
        return []
    head_ref = f"refs/heads/{default_branch}"
    if not default_branch or head_ref not in after:
        branches = sorted(name for name in after if name.startswith("refs/heads/"))
        head_ref = branches[0] if branches else sorted(after)[0]
    info = describe(cache, [after[head_ref]]).get(after[head_ref])
    if info is None:
        return []
    short = head_ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return [commit_row(info, FeedKind.MIRROR, ref=short)]


def commit_row(info: CommitInfo, kind: FeedKind, *, ref: str = "") -> FeedRow:
    return FeedRow(
        kind=kind,
        sha=info.sha,
        ref=ref,
        author_name=info.author_name,
        author_email=info.author_email,
        authored_at=info.authored_at,
        committer_name=info.committer_name,
        committer_email=info.committer_email,
        committed_at=info.committed_at,
        title=info.title,
        body=info.body,
        additions=info.additions,
        deletions=info.deletions,
        files_changed=info.files_changed,
        is_merge=info.is_merge,
        parent_count=len(info.parents),
        branches=info.branches if kind is FeedKind.COMMIT else (),
    )
