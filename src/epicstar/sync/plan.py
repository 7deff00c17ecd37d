"""``epicstar sync --dry-run``: what a sync would create, update, move or delete.

It selects the repositories as the run does, on the table as the poll would leave it, and asks
each question the run's pass would ask, by reading only: GitHub (the starred list, each
repository's metadata and advertised refs) and OneDev (project look-ups, the placement the
run would choose). It writes nothing anywhere: the table changes of the poll are rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from epicstar.discovery import GitHubAuthError, GitHubError, SourceBlocked, SourceGone
from epicstar.mirror.cache import Refs, diff_refs, remote_refs
from epicstar.mirror.process import GitError
from epicstar.state import repositories
from epicstar.state.models import AttemptOutcome, Repository, SyncMethod
from epicstar.sync.context import SyncContext
from epicstar.sync.failures import StepFailed, classify
from epicstar.sync.metadata import refresh_metadata
from epicstar.sync.placement import Choice
from epicstar.sync.poll import PollReport, dry_poll, stars_source
from epicstar.sync.rewrite_step import upstream_refs
from epicstar.sync.runner import preflight
from epicstar.sync.selection import select_repositories
from epicstar.sync.stars import Change
from epicstar.sync.visibility import check_private_mirror, check_private_parents


@dataclass
class PlannedPass:
    """What one repository's pass would do, and the outcome it would record."""

    github_id: int
    full_name: str
    outcome: AttemptOutcome
    action: str
    onedev_path: str | None = None
    project_created: bool = False
    refs_changed: int | None = None  # None: not known before fetching
    renamed_from: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in (AttemptOutcome.FAILED, AttemptOutcome.PERMANENT_FAILURE)


@dataclass
class Plan:
    poll: PollReport | None = None
    poll_error: str | None = None
    changes: list[str] = field(default_factory=list)
    passes: list[PlannedPass] = field(default_factory=list)
    skipped_permanent: int = 0

    @property
    def ok(self) -> bool:
        """Whether the real run would end with every repository up to date (exit code 0),
        by the same rule as :attr:`epicstar.sync.runner.RunSummary.ok`."""
        if self.skipped_permanent or self.poll_error:
            return False
        return not any(planned.failed for planned in self.passes)

    @property
    def lines(self) -> list[str]:
        return [*self.changes, *(planned.action for planned in self.passes)]


def plan_sync(
    ctx: SyncContext,
    *,
    full_walk: bool = False,
    retry_failed: bool = False,
    due_only: bool = False,
    force: bool = False,
) -> Plan:
    preflight(ctx)
    plan = Plan()
    with _table_after_poll(ctx, plan, full_walk=full_walk) as session:
        selection = select_repositories(
            session, retry_failed=retry_failed, due_only=due_only, now=ctx.clock()
        )
        for row in selection.todo:
            session.expunge(row)  # kept as the poll left it, for the passes below
    if plan.poll is not None:
        plan.changes = [_describe_change(ctx, change) for change in plan.poll.changes]
    plan.skipped_permanent = selection.skipped_permanent
    claimed: dict[str, int] = {}  # paths the passes before would have taken
    for row in selection.todo:
        plan.passes.append(_plan_pass(ctx, row, claimed, force=force))
    return plan


@contextmanager
def _table_after_poll(ctx: SyncContext, plan: Plan, *, full_walk: bool) -> Iterator[Session]:
    """A session on the table as the run's poll would leave it (as it is if the poll fails)."""
    with ExitStack() as stack:
        session: Session | None = None
        if stars_source(ctx) is not None:
            try:
                plan.poll, session = stack.enter_context(dry_poll(ctx, full=full_walk))
            except GitHubAuthError:
                raise
            except GitHubError as error:  # as in the run: known repositories still get a pass
                plan.poll_error = str(error)
        yield session or stack.enter_context(ctx.db.session())


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


def _plan_pass(
    ctx: SyncContext, repo: Repository, claimed: dict[str, int], *, force: bool
) -> PlannedPass:
    """The pass of :mod:`epicstar.sync.mirror_pass`, step by step, with reads only."""
    planned = PlannedPass(
        repo.github_id, repo.full_name, AttemptOutcome.UNCHANGED, "", repo.onedev_path
    )
    agent = repo.sync_method == SyncMethod.AGENT
    try:
        if agent and _agent_refs(ctx, repo) is None:
            planned.action = f"{repo.full_name}: waits for its agent's first push"
            return planned
        if not agent:  # GitHub is never asked about an agent's repository
            planned.renamed_from = refresh_metadata(ctx.github, repo)
        planned.full_name = repo.full_name
        if repo.disabled:
            planned.action = f"{repo.full_name}: disabled on GitHub, would not be fetched"
            return planned
        choice = _choose_project(ctx, repo, claimed)
        planned.onedev_path = choice.path
        _plan_refs(ctx, repo, choice, planned, force=force)
    except (SourceGone, SourceBlocked) as gone:
        planned.outcome = (
            AttemptOutcome.SOURCE_GONE if isinstance(gone, SourceGone) else AttemptOutcome.BLOCKED
        )
        planned.error = f"{gone}; the mirror in OneDev is kept as it was"
        planned.action = f"{repo.full_name}: {planned.error}"
    except Exception as error:  # what the pass would record, as the pass classifies it
        failure = classify(error)
        if failure.fatal:
            raise
        retries_left = repo.retry_count + 1 < ctx.settings.max_attempts
        planned.outcome = (
            AttemptOutcome.FAILED
            if retries_left and not failure.permanent
            else AttemptOutcome.PERMANENT_FAILURE
        )
        planned.error = failure.message
        planned.action = f"{repo.full_name}: would fail ({planned.outcome}): {failure.message}"
    return planned


def _choose_project(ctx: SyncContext, repo: Repository, claimed: dict[str, int]) -> Choice:
    def path_in_use(path: str) -> bool:
        if claimed.get(path.lower(), repo.github_id) != repo.github_id:
            return True
        with ctx.db.session() as session:
            return repositories.path_taken(session, path, except_id=repo.github_id)

    owner, _, name = repo.full_name.partition("/")
    choice = ctx.placer.choose(
        github_id=repo.github_id,
        owner=owner,
        name=name,
        stored_id=repo.onedev_project_id,
        stored_path=repo.onedev_path,
        path_in_use=path_in_use,
    )
    claimed[choice.path.lower()] = repo.github_id
    if repo.private and choice.project_id is not None:
        check_private_mirror(ctx.onedev, choice.project_id, repo.full_name)
    elif repo.private and "/" in choice.path:
        check_private_parents(ctx.onedev, choice.path.rpartition("/")[0], repo.full_name)
    return choice


def _plan_refs(
    ctx: SyncContext, repo: Repository, choice: Choice, planned: PlannedPass, *, force: bool
) -> None:
    name, path = repo.full_name, choice.path
    planned.outcome = AttemptOutcome.MIRRORED
    if choice.project_id is None:
        planned.project_created = True
        planned.action = f"would create OneDev project {path} and mirror {name} into it"
        return
    if choice.project_id != repo.onedev_project_id:
        planned.action = (
            f"would adopt OneDev project {path} (epicstar's mirror of {name}, or empty) "
            "and push every branch and tag into it"
        )
        return
    if repo.mirrored_refs is None:
        planned.action = f"would push every branch and tag of {name} to {path}"
        return
    expected: Refs = repo.mirrored_refs
    if repo.sync_method == SyncMethod.AGENT:
        advertised = _agent_refs(ctx, repo) or {}
    else:
        advertised = _advertised(ctx, repo)
        expected = upstream_refs(repo) or expected
    changed = diff_refs(expected, advertised)
    planned.refs_changed = changed
    if changed:
        planned.action = f"would update {changed} refs of {path} from {name}"
        deleted = sum(1 for ref in expected if ref not in advertised)
        if deleted:
            planned.action += f" ({deleted} deleted upstream: their old tips are kept)"
    elif force:
        planned.action = f"would fetch and push {name} to {path} again (--force)"
    else:
        planned.outcome = AttemptOutcome.UNCHANGED
        planned.action = f"{name}: up to date in {path}"


def _agent_refs(ctx: SyncContext, repo: Repository) -> Refs | None:
    """The refs an agent pushed into the cache; None before its first push."""
    return ctx.cache(repo.github_id, repo.size_kb).local_refs() or None


def _advertised(ctx: SyncContext, repo: Repository) -> Refs:
    if repo.clone_url is None:
        raise LookupError("GitHub gave no clone_url for this repository")
    try:
        return remote_refs(
            repo.clone_url,
            ctx.github_auth(repo.clone_url),
            timeout=ctx.git_timeout(repo.size_kb),
            redact=ctx.secrets,
        )
    except GitError as error:
        raise StepFailed("ls-remote", error) from error
