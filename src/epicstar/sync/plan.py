"""``epicstar sync --dry-run``: what a sync would create, update, move or delete.

Reads GitHub (the starred list, each repository's advertised refs) and OneDev (project
look-ups); writes nothing anywhere: the table changes of the poll are rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from epicstar.destination import mirror_path
from epicstar.mirror.cache import diff_refs, remote_refs
from epicstar.mirror.process import GitError
from epicstar.state import repositories
from epicstar.state.models import Repository
from epicstar.sync.context import SyncContext
from epicstar.sync.poll import PollReport, poll_stars, stars_source
from epicstar.sync.runner import preflight
from epicstar.sync.stars import Change


@dataclass
class Plan:
    poll: PollReport | None = None
    lines: list[str] = field(default_factory=list)


def plan_sync(ctx: SyncContext, *, full_walk: bool = False) -> Plan:
    preflight(ctx)
    plan = Plan()
    new: dict[int, str] = {}
    if stars_source(ctx) is not None:
        plan.poll = poll_stars(ctx, full=full_walk, dry_run=True)
        for change in plan.poll.changes:
            plan.lines.append(_describe_change(ctx, change))
            if change.kind == "track":
                new[change.github_id] = change.full_name
    with ctx.db.session() as session:
        rows = repositories.to_mirror(session, include_permanent_failures=False)
    for full_name in new.values():
        owner, _, name = full_name.partition("/")
        path = mirror_path(ctx.settings.onedev_parent, owner, name)
        plan.lines.append(f"would create OneDev project {path} and mirror {full_name} into it")
    for row in rows:
        if row.github_id in new:
            continue
        plan.lines.append(_describe_pass(ctx, row))
    return plan


def _describe_change(ctx: SyncContext, change: Change) -> str:
    name = change.full_name
    if change.kind == "unstar":
        policy = ctx.settings.unstar_policy
        outcome = {
            "keep": "its mirror would be kept as it is",
            "move": f"its mirror would be moved under {ctx.settings.holding_parent}",
            "delete": "its mirror would be deleted",
        }[policy]
        return f"{name} is no longer starred: {outcome}"
    verbs = {
        "track": "would start tracking",
        "exclude": "would exclude (never touched in OneDev)",
        "include": "would mirror again (no longer filtered out)",
        "rename": "renamed on GitHub; its OneDev project stays where it is",
        "restar": "starred again: would mirror it again",
        "back": "reachable on GitHub again: would mirror it again",
        "gone": "gone from GitHub (404): its mirror would be kept",
        "blocked": "blocked on GitHub (451): its mirror would be kept",
    }
    detail = f" ({change.detail})" if change.detail else ""
    return f"{name}: {verbs.get(change.kind, change.kind)}{detail}"


def _describe_pass(ctx: SyncContext, row: Repository) -> str:
    if row.onedev_project_id is None or row.clone_url is None:
        owner, _, name = row.full_name.partition("/")
        path = row.onedev_path or mirror_path(ctx.settings.onedev_parent, owner, name)
        return f"would create OneDev project {path} and mirror {row.full_name} into it"
    if row.mirrored_refs is None:
        return f"would push every branch and tag of {row.full_name} to {row.onedev_path}"
    try:
        advertised = remote_refs(
            row.clone_url,
            ctx.github_auth(row.clone_url),
            timeout=ctx.git_timeout(0),
            redact=ctx.secrets,
        )
    except GitError as error:
        return f"{row.full_name}: cannot tell ({error})"
    changed = diff_refs(row.mirrored_refs, advertised)
    if not changed:
        return f"{row.full_name}: up to date in {row.onedev_path}"
    return f"would update {changed} refs of {row.onedev_path} from {row.full_name}"
