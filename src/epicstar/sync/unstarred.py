"""What happens in OneDev to the mirror of a repository that is no longer starred."""

from __future__ import annotations

import shutil

from epicstar.destination import onedev_name
from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext


def apply_unstar_policy(ctx: SyncContext, row: Repository) -> str:
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
        row.onedev_path = path
        return f"mirror moved to {path}"
    ctx.onedev.delete_project(row.onedev_project_id)
    shutil.rmtree(ctx.settings.cache_dir / f"{row.github_id}.git", ignore_errors=True)
    deleted = row.onedev_path
    row.onedev_project_id = None
    row.onedev_path = None
    row.onedev_description = None
    row.onedev_default_branch = None
    row.mirrored_refs = None
    return f"mirror {deleted} deleted"


_DESTINATION = (
    "onedev_project_id",
    "onedev_path",
    "onedev_description",
    "onedev_default_branch",
    "mirrored_refs",
    "error",
)


def keep_destination(changed: Repository, stored: Repository) -> None:
    """Copy what the functions here change (the OneDev side, the error) onto ``stored``."""
    for name in _DESTINATION:
        setattr(stored, name, getattr(changed, name))


def restore_from_holding(ctx: SyncContext, row: Repository) -> str | None:
    """A re-starred repository whose mirror was moved away goes back where mirrors live."""
    holding = ctx.settings.holding_parent + "/"
    if row.onedev_project_id is None or not (row.onedev_path or "").startswith(holding):
        return None
    owner = onedev_name(row.full_name.partition("/")[0])
    parent = f"{ctx.settings.onedev_parent}/{owner}" if ctx.settings.onedev_parent else owner
    path = ctx.placer.move_under(row.onedev_project_id, parent, row.github_id)
    row.onedev_path = path
    return f"mirror moved back to {path}"
