"""What a fetch overwrote, kept in the cache: a branch moved other than forward, a branch or
tag deleted, a tag moved. The old tip is stored under :data:`NAMESPACE`, which no fetch writes
to, no push sends and no prune removes; the refs keep its history from git's gc.
"""

from __future__ import annotations

from dataclasses import dataclass

from epicstar.mirror.cache import Refs, RepoCache

NAMESPACE = "refs/epicstar/rewritten/"


@dataclass(frozen=True)
class Rewrite:
    ref: str
    old: str
    new: str | None  # None: deleted
    kind: str  # "forced", "deleted" or "tag moved"
    kept_as: str = ""


def find_rewrites(cache: RepoCache, before: Refs, after: Refs) -> list[Rewrite]:
    """The refs of ``before`` that ``after`` overwrote or dropped (a branch moved forward is
    not one: its old commits are still in its history). Costs nothing when no ref changed."""
    found: list[Rewrite] = []
    for ref, old in sorted(before.items()):
        new = after.get(ref)
        if new == old:
            continue
        if new is None:
            found.append(Rewrite(ref, old, None, "deleted"))
        elif ref.startswith("refs/tags/"):
            found.append(Rewrite(ref, old, new, "tag moved"))
        elif cache.leaves_behind(old, new):
            found.append(Rewrite(ref, old, new, "forced"))
    return found


def preserve(cache: RepoCache, rewrites: list[Rewrite], stamp: str) -> list[Rewrite]:
    """Keep each rewrite's old tip as ``NAMESPACE<stamp>/<ref without refs/>``."""
    kept = [
        Rewrite(r.ref, r.old, r.new, r.kind, f"{NAMESPACE}{stamp}/{r.ref.removeprefix('refs/')}")
        for r in rewrites
    ]
    cache.create_refs({r.kept_as: r.old for r in kept})
    return kept
