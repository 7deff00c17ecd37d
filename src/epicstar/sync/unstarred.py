"""What happens in OneDev to the mirror of a repository that is no longer starred."""

from __future__ import annotations

import shutil
from typing import Protocol

from sqlalchemy import delete

from epicstar.config import Settings
from epicstar.destination import OneDevClient, onedev_name
from epicstar.state.database import Database
from epicstar.state.models import RefRewrite, Repository
from epicstar.sync.context import cache_path, wiki_cache_path
from epicstar.sync.placement import ProjectPlacer


class Destination(Protocol):
    """What the OneDev side of an unstar needs (a :class:`~epicstar.sync.context.SyncContext`
    has it all)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def onedev(self) -> OneDevClient: ...

    @property
    def placer(self) -> ProjectPlacer: ...


def settle(ctx: Destination, kind: str, github_id: int) -> str | None:
    """The OneDev side of an ``unstar`` or a ``restar`` of a repository whose row says so
    already; what was done. The row is read, OneDev is asked outside any transaction, and only
    what changed in OneDev is written back. None when the repository is no longer tracked."""
    with ctx.db.session() as session:
        row = session.get(Repository, github_id)
    if row is None:
        return None
    try:
        if kind == "unstar":
            done = apply_unstar_policy(ctx, row)
        else:
            done = restore_from_holding(ctx, row) or "mirror in place"
    except Exception as error:  # recorded on the row; the caller goes on
        row.error = f"{kind}: {error}"
        done = f"failed: {error}"
    with ctx.db.session() as session:
        stored = session.get(Repository, github_id)
        if stored is not None:
            keep_destination(row, stored)
        if stored is not None and stored.onedev_project_id is None:
            # The mirror and its cache are deleted: so is what the cache kept of its history.
            session.execute(delete(RefRewrite).where(RefRewrite.repository_id == github_id))
    return done


def apply_unstar_policy(ctx: Destination, row: Repository) -> str:
    """Carry out ``EPICSTAR_UNSTAR_POLICY`` for ``row``; say what was done.

    ``keep`` leaves the mirror where it is; ``move`` puts it under the holding parent;
    ``delete`` removes the project and its cache. Only called after a complete star list.
    """
    policy = ctx.settings.unstar_policy
    if policy == "keep" or row.onedev_project_id is None:
        return "mirror kept as it is"
    if policy == "move":
        holding = ctx.settings.holding_parent
        path = ctx.placer.move_under(row.onedev_project_id, holding, row.github_id)
        _moved(row, path)
        return f"mirror moved to {path}"
    ctx.onedev.delete_project(row.onedev_project_id)  # its wiki's project with it
    shutil.rmtree(cache_path(ctx.settings, row.github_id), ignore_errors=True)
    shutil.rmtree(wiki_cache_path(ctx.settings, row.github_id), ignore_errors=True)
    deleted = row.onedev_path
    row.onedev_project_id = None
    row.onedev_path = None
    row.onedev_description = None
    row.onedev_default_branch = None
    row.mirrored_refs = None
    row.wiki_state = None  # nothing mirrored is kept: as if never looked at
    row.wiki_checked_at = None
    row.wiki_project_id = None
    row.wiki_path = None
    row.wiki_refs = None
    row.wiki_onedev_default_branch = None
    return f"mirror {deleted} deleted"


def _moved(row: Repository, path: str) -> None:
    """The mirror's project is at ``path`` now, and its wiki's project (a child) under it."""
    row.onedev_path = path
    if row.wiki_path is not None:
        row.wiki_path = f"{path}/{row.wiki_path.rpartition('/')[2]}"


_DESTINATION = (
    "onedev_project_id",
    "onedev_path",
    "onedev_description",
    "onedev_default_branch",
    "mirrored_refs",
    "wiki_state",
    "wiki_checked_at",
    "wiki_project_id",
    "wiki_path",
    "wiki_refs",
    "wiki_onedev_default_branch",
    "error",
)


def keep_destination(changed: Repository, stored: Repository) -> None:
    """Copy what the functions here change (the OneDev side, the error) onto ``stored``."""
    for name in _DESTINATION:
        setattr(stored, name, getattr(changed, name))


def restore_from_holding(ctx: Destination, row: Repository) -> str | None:
    """A re-starred repository whose mirror was moved away goes back where mirrors live."""
    holding = ctx.settings.holding_parent + "/"
    if row.onedev_project_id is None or not (row.onedev_path or "").startswith(holding):
        return None
    owner = onedev_name(row.full_name.partition("/")[0])
    parent = f"{ctx.settings.onedev_parent}/{owner}" if ctx.settings.onedev_parent else owner
    path = ctx.placer.move_under(row.onedev_project_id, parent, row.github_id)
    _moved(row, path)
    return f"mirror moved back to {path}"
