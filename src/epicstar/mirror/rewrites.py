"""What a fetch overwrote, kept in the cache: a branch moved other than forward, a branch or
tag deleted, a tag moved. The old tip is stored under :data:`NAMESPACE`, which no fetch writes
to, no push sends and no prune removes; the refs keep its history from git's gc.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from epicstar.mirror.cache import Refs, RepoCache

log = structlog.get_logger("epicstar.sync")

NAMESPACE = "refs/epicstar/rewritten/"
WIKI_REFS = "wiki:"
"""How a rewrite of a repository's wiki names its ref (``wiki:refs/heads/master``)."""
COUNT_LIMIT = 100_000
"""The lost commits read by one pass: beyond, counts are lower bounds (a purged history of a
huge repository is not read whole into memory)."""


class RewriteKind(enum.StrEnum):
    """How GitHub overwrote a branch or tag the mirror held."""

    FORCED = "forced"  # a branch moved other than forward
    DELETED = "deleted"  # a branch or tag deleted
    TAG_MOVED = "tag_moved"  # a tag pointed at another object


@dataclass(frozen=True)
class Rewrite:
    ref: str
    old: str
    new: str | None  # None: deleted
    kind: RewriteKind
    kept_as: str = ""
    commits_lost: int | None = None
    """Commits of ``old`` that no branch or tag reaches any more; None when unknown."""
    commits_lost_partial: bool = False
    """``commits_lost`` is a lower bound: more than COUNT_LIMIT commits were lost at once."""
    whole_repository: bool = False


def find_rewrites(cache: RepoCache, before: Refs, after: Refs) -> list[Rewrite]:
    """The refs of ``before`` that ``after`` overwrote or dropped (a branch moved forward is
    not one: its old commits are still in its history), each with the commits it lost.

    Costs nothing when no ref changed. Otherwise one walk of the commits no ref of ``after``
    reaches any more (a whole history at most, once, however many refs were rewritten), and
    one ``rev-list --max-count=1 old --not new`` per moved branch whose old tip that walk
    did not find. A history rewrite (:func:`_history_rewritten`) marks each of its rewrites
    ``whole_repository``.
    """
    changed = {ref: old for ref, old in before.items() if after.get(ref) != old}
    if not changed:
        return []
    tags = sorted({old for ref, old in changed.items() if ref.startswith("refs/tags/")})
    commit_of: dict[str, str | None] = dict.fromkeys(changed.values())
    commit_of.update({old: old for ref, old in changed.items() if ref.startswith("refs/heads/")})
    commit_of.update(cache.peel_to_commits(tags))
    walk = LostCommits.walk(cache, sorted(set(changed.values())), sorted(set(after.values())))
    kinds: dict[str, RewriteKind] = {}
    for ref, old in sorted(changed.items()):
        new = after.get(ref)
        if new is None:
            kind = RewriteKind.DELETED
        elif ref.startswith("refs/tags/"):
            kind = RewriteKind.TAG_MOVED
        elif old in walk.parents or cache.leaves_behind(old, new):
            kind = RewriteKind.FORCED
        else:
            continue
        kinds[ref] = kind
    counts = walk.counts([commit_of[changed[ref]] for ref in kinds])
    found = []
    for ref, kind in kinds.items():
        old = changed[ref]
        lost, partial = counts[commit_of[old]]
        found.append(
            Rewrite(ref, old, after.get(ref), kind, commits_lost=lost, commits_lost_partial=partial)
        )
    if _history_rewritten(before, after, found):
        found = [replace(r, whole_repository=True) for r in found]
    return found


@dataclass
class LostCommits:
    """The commits the old tips reach and no new ref does, with their parents among them."""

    parents: dict[str, list[str]]
    complete: bool
    """False when there were more than :data:`COUNT_LIMIT` (only the newest were read)."""

    @classmethod
    def walk(cls, cache: RepoCache, tips: list[str], keep: list[str]) -> LostCommits:
        lines = cache.git_output(
            ["rev-list", "--parents", f"--max-count={COUNT_LIMIT + 1}", "--stdin"],
            stdin="".join(f"{tip}\n" for tip in tips) + "".join(f"^{sha}\n" for sha in keep),
        ).splitlines()
        complete = len(lines) <= COUNT_LIMIT
        parents = {}
        for line in lines[:COUNT_LIMIT]:
            commit, *of = line.split()
            parents[commit] = of
        return cls(parents, complete)

    def counts(self, tips: list[str | None]) -> dict[str | None, tuple[int | None, bool]]:
        """For each tip, the lost commits it reaches and whether that is only a lower bound;
        None when it cannot be told (an old tag on a tree, or a walk cut short before it).

        Linear runs of commits are counted as one step each, so that many tips sharing one
        long lost history (a purge) cost the number of its merges and forks, not commits."""
        answers: dict[str | None, tuple[int | None, bool]] = {}
        inside = [tip for tip in tips if tip in self.parents]
        for tip in tips:
            if tip is None or tip not in self.parents:
                answers[tip] = (0, False) if tip is not None and self.complete else (None, False)
        if not inside:
            return answers
        runs = self._runs(set(inside))
        for tip in inside:
            seen, waiting, total = set(), [tip], 0
            while waiting:
                start = waiting.pop()
                if start not in seen:
                    seen.add(start)
                    length, below = runs[start]
                    total += length
                    waiting.extend(below)
            answers[tip] = (total, not self.complete)
        return answers

    def _runs(self, tips: set[str]) -> dict[str, tuple[int, list[str]]]:
        """Each run of lost commits by its first: its length and the runs below it. A run
        ends above a tip, a merge's parents, and a commit more than one lost commit descends
        from; every lost commit is in exactly one run."""
        below = {c: [p for p in ps if p in self.parents] for c, ps in self.parents.items()}
        children: dict[str, int] = dict.fromkeys(below, 0)
        starts = set(tips)
        for parents in below.values():
            for parent in parents:
                children[parent] += 1
            if len(parents) > 1:
                starts.update(parents)
        starts.update(c for c, n in children.items() if n != 1)
        runs = {}
        for start in starts:
            commit, length = start, 1
            while len(below[commit]) == 1 and below[commit][0] not in starts:
                commit = below[commit][0]
                length += 1
            runs[start] = (length, below[commit])
        return runs


def _history_rewritten(before: Refs, after: Refs, found: list[Rewrite]) -> bool:
    """Whether every branch that stayed was force-pushed, and more than one ref with it: what
    a history purge (git filter-repo, BFG) does. One branch amended is not one; branches
    deleted are not rewritten."""
    stayed = {ref for ref in before if ref.startswith("refs/heads/") and ref in after}
    forced = {r.ref for r in found if r.kind == RewriteKind.FORCED}
    tags = [r for r in found if r.ref.startswith("refs/tags/")]
    return bool(stayed) and stayed == forced and (len(forced) > 1 or bool(tags))


def preserve(
    cache: RepoCache, rewrites: list[Rewrite], now: datetime, *, label: str = ""
) -> list[Rewrite]:
    """Keep each rewrite's old tip as ``NAMESPACE<now>/<ref without refs/>``, and log it
    (``pass.rewritten``, its ref named with ``label`` before it)."""
    stamp = f"{now:%Y%m%dT%H%M%S%fZ}"
    kept = [
        replace(r, kept_as=f"{NAMESPACE}{stamp}/{r.ref.removeprefix('refs/')}") for r in rewrites
    ]
    cache.create_refs({r.kept_as: r.old for r in kept})
    for rewrite in kept:
        log.info(
            "pass.rewritten",
            ref=f"{label}{rewrite.ref}",
            kind=rewrite.kind,
            old=rewrite.old,
            new=rewrite.new,
            commits_lost=rewrite.commits_lost,
        )
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
