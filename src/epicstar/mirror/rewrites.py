"""What a fetch overwrote, kept in the cache: a branch moved other than forward, a branch or
tag deleted, a tag moved. The old tip is stored under :data:`NAMESPACE`, which no fetch writes
to, no push sends and no prune removes; the refs keep its history from git's gc.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.process import GitError

NAMESPACE = "refs/epicstar/rewritten/"
COUNT_LIMIT = 100_000
"""Commits lost are counted up to this many (a purged history of a huge repository would
otherwise be walked whole)."""

FORCED = "forced"
DELETED = "deleted"
TAG_MOVED = "tag_moved"


@dataclass(frozen=True)
class Rewrite:
    ref: str
    old: str
    new: str | None  # None: deleted
    kind: str  # FORCED, DELETED or TAG_MOVED
    kept_as: str = ""
    commits_lost: int | None = None
    """Commits of ``old`` that no branch or tag reaches any more (up to COUNT_LIMIT)."""
    whole_repository: bool = False


def find_rewrites(cache: RepoCache, before: Refs, after: Refs) -> list[Rewrite]:
    """The refs of ``before`` that ``after`` overwrote or dropped (a branch moved forward is
    not one: its old commits are still in its history). Costs nothing when no ref changed;
    one git process per branch that moved. A history rewrite (:func:`_history_rewritten`)
    marks each of its rewrites ``whole_repository``."""
    found: list[Rewrite] = []
    for ref, old in sorted(before.items()):
        new = after.get(ref)
        if new == old:
            continue
        if new is None:
            found.append(Rewrite(ref, old, None, DELETED))
        elif ref.startswith("refs/tags/"):
            found.append(Rewrite(ref, old, new, TAG_MOVED))
        elif cache.leaves_behind(old, new):
            found.append(Rewrite(ref, old, new, FORCED))
    if _history_rewritten(before, after, found):
        found = [replace(r, whole_repository=True) for r in found]
    return found


def _history_rewritten(before: Refs, after: Refs, found: list[Rewrite]) -> bool:
    """Whether every branch that stayed was force-pushed, and more than one ref with it: what
    a history purge (git filter-repo, BFG) does. One branch amended is not one; branches
    deleted are not rewritten."""
    stayed = {ref for ref in before if ref.startswith("refs/heads/") and ref in after}
    forced = {r.ref for r in found if r.kind == FORCED}
    tags = [r for r in found if r.ref.startswith("refs/tags/")]
    return bool(stayed) and stayed == forced and (len(forced) > 1 or bool(tags))


def count_lost(cache: RepoCache, rewrites: list[Rewrite], after: Refs) -> list[Rewrite]:
    """Each rewrite with the commits of its old tip that none of ``after`` reaches: one
    bounded git process per rewrite."""
    keep = sorted(set(after.values()))
    counted = []
    for rewrite in rewrites:
        try:
            lost: int | None = cache.count_only_in(rewrite.old, keep, limit=COUNT_LIMIT)
        except GitError:  # an old tag on a tree or blob, say
            lost = None
        counted.append(replace(rewrite, commits_lost=lost))
    return counted


def preserve(cache: RepoCache, rewrites: list[Rewrite], stamp: str) -> list[Rewrite]:
    """Keep each rewrite's old tip as ``NAMESPACE<stamp>/<ref without refs/>``."""
    kept = [
        replace(r, kept_as=f"{NAMESPACE}{stamp}/{r.ref.removeprefix('refs/')}") for r in rewrites
    ]
    cache.create_refs({r.kept_as: r.old for r in kept})
    return kept


def kept_tips(cache: RepoCache) -> set[tuple[str, str]]:
    """Every (ref, old tip) the cache keeps, whenever it was kept."""
    listed = cache.git_output(["for-each-ref", "--format=%(objectname) %(refname)", NAMESPACE])
    kept = set()
    for line in listed.splitlines():
        sha, _, name = line.partition(" ")
        _stamp, _, ref = name.removeprefix(NAMESPACE).partition("/")
        kept.add((f"refs/{ref}", sha))
    return kept


def restored_branch(kept_as: str) -> str:
    """The branch a preserved tip is restored as by default: ``epicstar/rewritten/...``."""
    return kept_as.removeprefix("refs/")
