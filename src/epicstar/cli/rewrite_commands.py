"""``epicstar history``, ``epicstar approve`` and ``epicstar restore``: what GitHub overwrote,
held back, and brought back as a branch."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from epicstar.cli.formatting import describe_report, when
from epicstar.config import Settings
from epicstar.notify import build_notifier
from epicstar.service.events import ServiceEvents
from epicstar.state import repositories, rewrites
from epicstar.state.audit import CLI
from epicstar.state.database import open_database
from epicstar.state.models import RefRewrite, utcnow
from epicstar.sync.context import open_context
from epicstar.sync.mirror_pass import mirror_once
from epicstar.sync.restore import (
    RewriteCommandError,
    remove_restored,
    restore,
    tracked_by_name,
)


def run_history(settings: Settings, full_name: str, *, as_json: bool) -> None:
    database = open_database(settings)
    try:
        with database.session() as session:
            repo = tracked_by_name(session, full_name)
            rows = rewrites.of_repository(session, repo.github_id)
            if as_json:
                print(json.dumps([rewrites.rewrite_view(row) for row in rows], indent=2))
                return
            name, held = repo.full_name, sorted(repo.held_refs or {})
            _print_history(name, rows, held)
    finally:
        database.dispose()


def _print_history(full_name: str, rows: list[RefRewrite], held: list[str]) -> None:
    if not rows:
        print(f"GitHub has overwritten nothing of {full_name} since it is mirrored.")
        return
    console = Console() if sys.stdout.isatty() else Console(width=200)
    table = Table()
    for column in ("id", "found", "ref", "kind", "old → new", "commits lost", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("restored as", overflow="fold")
    for row in rows:
        lost = "?" if row.commits_lost is None else str(row.commits_lost)
        if row.commits_lost_partial:
            lost += "+"
        kind = row.kind + (" (whole history)" if row.whole_repository else "")
        table.add_row(
            str(row.id),
            when(row.found_at),
            row.ref,
            kind,
            f"{row.old_sha[:12]} → {row.new_sha[:12] if row.new_sha else 'deleted'}",
            lost,
            row.status,
            row.restored_as or "-",
        )
    console.print(table)
    print(
        "Each old tip is kept in epicstar's cache of the repository for as long as that cache; "
        f"`epicstar restore {full_name} ID` pushes one to OneDev as a branch."
    )
    if held:
        print(
            f"Held back in OneDev: {', '.join(held)}; `epicstar approve {full_name}` applies them."
        )


def run_approve(settings: Settings, full_name: str) -> int:
    with (
        build_notifier(settings) as notifier,
        open_context(settings, events=ServiceEvents(None, notifier)) as ctx,
    ):
        with ctx.db.session() as session:
            github_id = tracked_by_name(session, full_name).github_id
            repo = repositories.locked(session, github_id)
            assert repo is not None  # just found; a repository row is never deleted
            refs = rewrites.approve(session, repo, actor=CLI, now=utcnow())
            if not refs:
                raise RewriteCommandError(f"{repo.full_name} has nothing held back to approve")
            name = repo.full_name
        print(f"{name}: approved {', '.join(refs)}; mirroring it now.")
        report = mirror_once(ctx, github_id, trigger="approve", wait=ctx.lease_wait)
    print(f"{name}: {describe_report(report)}")
    if report.outcome is None:
        print("The pass that holds it applies the approval next.")
        return 0
    return 1 if report.failed else 0


def run_restore(
    settings: Settings, full_name: str, rewrite_id: int, *, branch: str | None, remove: bool
) -> None:
    with open_context(settings) as ctx:
        if remove:
            name = remove_restored(ctx, full_name, rewrite_id)
            print(f"{full_name}: removed the branch {name!r} from OneDev.")
            return
        done = restore(ctx, full_name, rewrite_id, branch=branch)
    print(
        f"{done.full_name}: rewrite {done.rewrite_id} restored as the branch {done.branch!r} "
        f"({done.commit[:12]}{_lfs_words(done.lfs_objects_pushed)}) in OneDev at "
        f"{done.onedev_path}; later passes leave it alone "
        f"until `epicstar restore --remove {done.full_name} {done.rewrite_id}`."
    )


def _lfs_words(pushed: int) -> str:
    if not pushed:
        return ""
    return f", {pushed} LFS object{'s' if pushed != 1 else ''} put back"
