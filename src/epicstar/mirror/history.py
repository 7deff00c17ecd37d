"""What a cache's branches gained: the commits reachable from new heads and not from old ones,
read with a bounded number of git processes whatever their count."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from epicstar.mirror.cache import RepoCache

MAX_COMMITS_READ = 5_000
"""The most commits one change is described by (the newest); a rewrite of a huge history
counts them all in the attempt but describes only these."""

# hash, parents, author name/email/date, committer name/email/date, subject, body
_PLACEHOLDERS = ["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%s", "%b"]
_STAT = re.compile(
    r"(?P<files>\d+) files? changed"
    r"(?:, (?P<added>\d+) insertions?\(\+\))?"
    r"(?:, (?P<deleted>\d+) deletions?\(-\))?"
)


@dataclass
class CommitInfo:
    """One commit as git describes it (names and emails as written, not normalised)."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committer_email: str
    committed_at: datetime
    title: str
    body: str
    additions: int
    deletions: int
    files_changed: int
    branches: list[str] = field(default_factory=list)

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def new_commits(
    cache: RepoCache, before: Mapping[str, str], after: Mapping[str, str], *, limit: int
) -> list[CommitInfo]:
    """The commits ``after``'s branches reach and ``before``'s refs do not, newest first, at
    most ``limit``; each names the branches (short names) it arrived on.

    ``before``'s objects must be in the cache (refs it no longer has are left out).
    """
    heads = {
        name.removeprefix("refs/heads/"): sha
        for name, sha in after.items()
        if name.startswith("refs/heads/") and before.get(name) != sha
    }
    if not heads:
        return []
    known = cache.peel_to_commits([*heads.values(), *before.values()])
    tips = sorted({commit for sha in heads.values() if (commit := known.get(sha))})
    if not tips:
        return []
    excluded = sorted({commit for sha in before.values() if (commit := known.get(sha))})
    revisions = [*tips, *(f"^{sha}" for sha in excluded)]
    commits = _log(cache, revisions, walk=True, limit=limit)
    _name_branches(commits, {branch: known.get(sha) for branch, sha in heads.items()})
    return commits


def describe(cache: RepoCache, shas: Iterable[str]) -> dict[str, CommitInfo]:
    """The commits these objects lead to (tags peeled), by the object's name; objects that
    lead to no commit (a tag of a tree or blob, or missing) are left out."""
    known = cache.peel_to_commits(list(shas))
    wanted = sorted({commit for commit in known.values() if commit})
    if not wanted:
        return {}
    by_sha = {info.sha: info for info in _log(cache, wanted, walk=False, limit=len(wanted))}
    return {name: by_sha[commit] for name, commit in known.items() if commit in by_sha}


@dataclass(frozen=True)
class _Separators:
    """Markers no commit message can hold: a message is anyone's text, so each run's
    markers carry a secret nonce."""

    record: str
    field: str

    @classmethod
    def fresh(cls) -> _Separators:
        nonce = secrets.token_hex(8)
        return cls(f"\x1e{nonce}\x1e", f"\x1f{nonce}\x1f")

    @property
    def format(self) -> str:
        # The format ends with a field separator: the stat git prints comes after it.
        return self.record + self.field.join(_PLACEHOLDERS) + self.field


def _log(cache: RepoCache, revisions: Sequence[str], *, walk: bool, limit: int) -> list[CommitInfo]:
    marks = _Separators.fresh()
    args = [
        "log",
        "--stdin",
        f"--format={marks.format}",
        "--shortstat",
        "--diff-merges=first-parent",
        "--no-renames",
        "--no-color",
        "--encoding=UTF-8",
        f"--max-count={limit}",
    ]
    # Children before parents, so the newest ``limit`` commits are whole descendants' chains.
    args.append("--topo-order" if walk else "--no-walk=unsorted")
    output = cache.git_output(args, stdin="".join(f"{line}\n" for line in revisions))
    return [_parse(record, marks.field) for record in output.split(marks.record)[1:]]


def _parse(record: str, separator: str) -> CommitInfo:
    sha, parents, a_name, a_email, a_date, c_name, c_email, c_date, title, body, stats = (
        record.split(separator)
    )
    stat = _STAT.search(stats)
    return CommitInfo(
        sha=sha,
        parents=tuple(parents.split()),
        author_name=a_name,
        author_email=a_email,
        authored_at=datetime.fromisoformat(a_date),
        committer_name=c_name,
        committer_email=c_email,
        committed_at=datetime.fromisoformat(c_date),
        title=title,
        body=body.strip("\n"),
        additions=int(stat["added"] or 0) if stat else 0,
        deletions=int(stat["deleted"] or 0) if stat else 0,
        files_changed=int(stat["files"]) if stat else 0,
    )


def _name_branches(commits: list[CommitInfo], heads: Mapping[str, str | None]) -> None:
    """Give each commit the branches whose new head reaches it through new commits."""
    by_sha = {commit.sha: commit for commit in commits}
    for branch in sorted(heads):
        head = heads[branch]
        waiting = [head] if head is not None and head in by_sha else []
        seen: set[str] = set()
        while waiting:
            sha = waiting.pop()
            if sha in seen:
                continue
            seen.add(sha)
            commit = by_sha[sha]
            commit.branches.append(branch)
            waiting.extend(parent for parent in commit.parents if parent in by_sha)
