"""``epicstar restore``: a preserved old tip pushed to OneDev as a branch, and removed again.

The branch is outside what the mirror manages: every later push spares it (its name is kept
in the rewrite's row, which passes read before they prune). Restoring and removing take the
cache's lock, so no pass pushes between the row and the branch changing.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.lfs.batch import LfsError
from epicstar.mirror.lfs.pointers import scan_pointers
from epicstar.mirror.process import GitError
from epicstar.mirror.rewrites import WIKI_REFS, restored_branch
from epicstar.state import repositories
from epicstar.state.audit import CLI, Actor, record_change, repository_target
from epicstar.state.models import RefRewrite, Repository
from epicstar.sync.context import SyncContext
from epicstar.sync.lfs_step import transfer_lfs


class RewriteCommandError(ValueError):
    """A rewrite that cannot be restored (or removed) as asked; the message says why."""


@dataclass(frozen=True)
class Restored:
    full_name: str
    rewrite_id: int
    branch: str
    commit: str
    onedev_path: str
    lfs_objects_pushed: int = 0


def restored_branches(ctx: SyncContext, github_id: int, *, wiki: bool) -> tuple[str, ...]:
    """The branches `epicstar restore` made in the repository's project (or its wiki's): no
    push prunes them."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(RefRewrite.ref, RefRewrite.restored_as).where(
                RefRewrite.repository_id == github_id, RefRewrite.restored_as.is_not(None)
            )
        ).all()
    return tuple(sorted({name for ref, name in rows if name and ref.startswith(WIKI_REFS) == wiki}))


def tracked_by_name(session: Session, full_name: str) -> Repository:
    row = repositories.by_name(session, full_name)
    if row is None:
        raise RewriteCommandError(f"{full_name} is not tracked (see `epicstar status`)")
    return row


def restore(
    ctx: SyncContext,
    full_name: str,
    rewrite_id: int,
    *,
    branch: str | None = None,
    actor: Actor = CLI,
) -> Restored:
    """Push rewrite ``rewrite_id``'s old tip to the repository's project as ``branch``
    (default ``epicstar/rewritten/<time>/<ref>``)."""
    with ctx.db.session() as session:
        repo, row = _rewrite_of(session, full_name, rewrite_id)
        if row.restored_as is not None:
            raise RewriteCommandError(
                f"rewrite {rewrite_id} is already restored as the branch {row.restored_as!r}; "
                f"`epicstar restore --remove {repo.full_name} {rewrite_id}` removes it"
            )
        name = branch or restored_branch(row.kept_as)
        place = _Place.of(ctx, repo, row)
        _check_branch_name(name, session, place)
        if place.path is None:
            raise RewriteCommandError(f"{repo.full_name} has no such project in OneDev yet")
        path, old = place.path, row.old_sha
    cache = place.cache(ctx)
    with cache.locked(wait=ctx.lease.total_seconds()):
        commit = cache.peel_to_commits([old]).get(old) if cache.exists else None
        if commit is None:
            raise RewriteCommandError(
                f"the cache no longer holds {old[:12]} (was {cache.path} removed?), or it is "
                "not a commit: there is nothing to restore"
            )
        with ctx.db.session() as session:
            ref = _claim(session, place.github_id, rewrite_id, name, ctx).ref
        try:
            cache.push_branch(ctx.onedev.git_url(path), ctx.onedev_auth(), name, commit)
        except GitError as error:
            with ctx.db.session() as session:
                failed = session.get(RefRewrite, rewrite_id)
                if failed is not None:
                    failed.restored_as = failed.restored_at = None
            raise RewriteCommandError(
                f"the branch {name!r} could not be pushed to OneDev, nothing was restored: {error}"
            ) from error
        source = place.lfs_source
        lfs_pushed = _push_lfs(ctx, cache, path, source, commit) if source else 0
        with ctx.db.session() as session:
            record_change(
                session,
                actor,
                "repository.rewrite_restored",
                repository_target(place.github_id, place.full_name),
                {"rewrite_id": rewrite_id, "ref": ref, "branch": name, "commit": commit},
            )
    return Restored(place.full_name, rewrite_id, name, commit, path, lfs_pushed)


def remove_restored(
    ctx: SyncContext, full_name: str, rewrite_id: int, *, actor: Actor = CLI
) -> str:
    """Delete the branch rewrite ``rewrite_id`` was restored as; its name."""
    with ctx.db.session() as session:
        repo, row = _rewrite_of(session, full_name, rewrite_id)
        if row.restored_as is None:
            raise RewriteCommandError(f"rewrite {rewrite_id} is not restored")
        place = _Place.of(ctx, repo, row)
        path, name = place.path, row.restored_as
    cache = place.cache(ctx)
    with cache.locked(wait=ctx.lease.total_seconds()):
        if path is not None:
            cache.ensure()
            try:
                cache.push_branch(ctx.onedev.git_url(path), ctx.onedev_auth(), name, None)
            except GitError as error:
                raise RewriteCommandError(
                    f"the branch {name!r} could not be deleted in OneDev: {error}"
                ) from error
        with ctx.db.session() as session:
            removed = session.get(RefRewrite, rewrite_id)
            if removed is not None:
                removed.restored_as = removed.restored_at = None
            record_change(
                session,
                actor,
                "repository.restored_branch_removed",
                repository_target(place.github_id, place.full_name),
                {"rewrite_id": rewrite_id, "branch": name},
            )
    return name


def _push_lfs(ctx: SyncContext, cache: RepoCache, path: str, source: str, commit: str) -> int:
    """The LFS objects only the restored history references, put in OneDev (which may have
    dropped them once no branch referenced them); how many it lacked."""
    pointers = scan_pointers(cache, [commit], sorted(set(cache.local_refs().values())))
    if not pointers:
        return 0
    try:
        tally, missing = transfer_lfs(ctx, path, cache, source, pointers)
    except LfsError as error:
        raise RewriteCommandError(
            f"the branch is restored, but its LFS objects could not be put in OneDev: {error}; "
            "`epicstar restore --remove` and restore again to retry"
        ) from error
    if missing:
        raise RewriteCommandError(
            f"the branch is restored, but {len(missing)} of its LFS objects could not be put "
            f"in OneDev (first: {missing[0].reason})"
        )
    return tally.objects_pushed


def _rewrite_of(session: Session, full_name: str, rewrite_id: int) -> tuple[Repository, RefRewrite]:
    repo = tracked_by_name(session, full_name)
    row = session.get(RefRewrite, rewrite_id)
    if row is None or row.repository_id != repo.github_id:
        raise RewriteCommandError(
            f"{repo.full_name} has no rewrite {rewrite_id}: "
            f"`epicstar history {repo.full_name}` lists them"
        )
    return repo, row


def _claim(
    session: Session, github_id: int, rewrite_id: int, name: str, ctx: SyncContext
) -> RefRewrite:
    """Name the branch in the row before it exists, so that no pass prunes it meanwhile."""
    row = session.get(RefRewrite, rewrite_id)
    if row is None or row.repository_id != github_id:
        raise RewriteCommandError(f"rewrite {rewrite_id} was removed meanwhile")
    if row.restored_as is not None:
        raise RewriteCommandError(f"rewrite {rewrite_id} was restored meanwhile")
    row.restored_as, row.restored_at = name, ctx.clock()
    return row


@dataclass(frozen=True)
class _Place:
    """Where a rewrite's old tip is kept and goes back to: the code's, or the wiki's."""

    github_id: int
    full_name: str
    size_kb: int
    wiki: bool
    path: str | None  # the OneDev project's
    mirrored: frozenset[str]  # the refs the mirror holds there
    lfs_source: str | None  # where LFS objects come from, when they are mirrored there

    @classmethod
    def of(cls, ctx: SyncContext, repo: Repository, row: RefRewrite) -> _Place:
        if row.ref.startswith(WIKI_REFS):
            wiki_refs = frozenset(repo.wiki_refs or {})
            return cls(repo.github_id, repo.full_name, 0, True, repo.wiki_path, wiki_refs, None)
        holds = frozenset(repo.mirrored_refs or {}) | frozenset(repo.held_refs or {})
        lfs = repo.clone_url if ctx.settings.lfs and repo.uses_lfs else None
        return cls(
            repo.github_id, repo.full_name, repo.size_kb, False, repo.onedev_path, holds, lfs
        )

    def cache(self, ctx: SyncContext) -> RepoCache:
        if self.wiki:
            return ctx.wiki_cache(self.github_id)
        return ctx.cache(self.github_id, self.size_kb)


def _check_branch_name(name: str, session: Session, place: _Place) -> None:
    valid = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
    )
    if valid.returncode != 0 or name.startswith("-") or name == "HEAD":
        raise RewriteCommandError(f"{name!r} is not a valid branch name")
    if f"refs/heads/{name}" in place.mirrored:
        raise RewriteCommandError(
            f"{name!r} is a branch the mirror holds: choose another name with --as"
        )
    taken = session.scalars(
        select(RefRewrite.id).where(
            RefRewrite.repository_id == place.github_id, RefRewrite.restored_as == name
        )
    ).first()
    if taken is not None:
        raise RewriteCommandError(f"the branch {name!r} already holds restored rewrite {taken}")
