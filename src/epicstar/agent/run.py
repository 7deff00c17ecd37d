"""One ``epicstar agent sync``: poll the stars, tell the server of unstars and stars, then
deliver each repository the server leaves to the agent.

    poll stars (ETags) → report unstars → for each star: register → agent + active? deliver

A dry run reads GitHub and the server's refs and changes nothing on the server (no PUT, no
push, no post) nor in the agent's records; it may bring its local cache up to date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from epicstar.agent.config import AgentSettings
from epicstar.agent.delivery import Deliverer, Delivery, Outcome, StepFailed
from epicstar.agent.server import (
    AgentServer,
    KeyRefused,
    RepositoryRefused,
    ServerError,
    ServerUnavailable,
)
from epicstar.agent.stars import Change, read_stars, record_stars
from epicstar.agent.state import Star, open_state, record, single_run, starred, unstars_owed
from epicstar.discovery import GitHubAuthError, GitHubClient, GitHubError, GitHubForbidden
from epicstar.mirror.process import GitError
from epicstar.state.database import Database
from epicstar.state.models import utcnow
from epicstar.sync.context import user_agent

log = structlog.get_logger("epicstar.agent")


@dataclass
class StarsRead:
    requests: int = 0
    not_modified: bool = False
    full_walk: bool = False
    stars: int = 0
    changes: list[Change] = field(default_factory=list)


@dataclass
class RunReport:
    dry_run: bool
    stars: StarsRead = field(default_factory=StarsRead)
    deliveries: list[Delivery] = field(default_factory=list)
    aborted: str | None = None

    @property
    def ok(self) -> bool:
        return self.aborted is None and all(delivery.ok for delivery in self.deliveries)

    @property
    def exit_code(self) -> int:
        return 2 if self.aborted else 0 if self.ok else 1


@dataclass
class Hooks:
    """What a display wants to hear while a run goes on."""

    polled: Callable[[StarsRead], None] = lambda stars: None
    started: Callable[[str, int, int], None] = lambda full_name, index, total: None
    finished: Callable[[Delivery], None] = lambda delivery: None


def _stops_the_run(error: ServerError) -> bool:
    """The key refused, or the server not reachable at all: no other repository can fare
    better in this run (a 5xx or a refusal concerns one repository)."""
    return isinstance(error, KeyRefused) or (
        isinstance(error, ServerUnavailable) and error.status is None
    )


def run_agent_sync(
    settings: AgentSettings,
    *,
    dry_run: bool = False,
    full: bool = False,
    hooks: Hooks | None = None,
) -> RunReport:
    hooks = hooks or Hooks()
    report = RunReport(dry_run=dry_run)
    url, key = settings.require_server()
    token = settings.require_github_token()
    with (
        single_run(settings),
        GitHubClient(
            settings.github_api_url,
            token,
            user_agent=user_agent(),
            max_wait=float(settings.github_max_wait),
            timeout=settings.http_timeout,
        ) as github,
        AgentServer(url, key, timeout=settings.http_timeout) as server,
    ):
        database = open_state(settings)
        try:
            _run(settings, database, github, server, report=report, hooks=hooks, full=full)
        except (ServerError, GitHubAuthError, GitHubForbidden) as error:
            report.aborted = str(error)
        except GitHubError as error:
            report.aborted = f"reading the starred list: {error}"
        finally:
            database.dispose()
    log.info(
        "agent.sync",
        dry_run=dry_run,
        delivered=sum(1 for d in report.deliveries if d.outcome == Outcome.DELIVERED),
        failed=sum(1 for d in report.deliveries if not d.ok),
        aborted=report.aborted,
    )
    return report


def _run(
    settings: AgentSettings,
    database: Database,
    github: GitHubClient,
    server: AgentServer,
    *,
    report: RunReport,
    hooks: Hooks,
    full: bool,
) -> None:
    reading = read_stars(database, github, settings, now=utcnow(), full=full)
    with database.session() as session:
        report.stars = StarsRead(
            requests=reading.walk.requests,
            not_modified=reading.walk.not_modified,
            full_walk=reading.walk.complete,
            stars=len(reading.walk.stars),
            changes=record_stars(session, reading, settings),
        )
        stars, unstars = starred(session), unstars_owed(session)
        if report.dry_run:
            session.rollback()  # the next real run must see the same changes
    hooks.polled(report.stars)
    deliverer = Deliverer(settings, server, dry_run=report.dry_run)
    work: list[tuple[Star, bool]] = [(star, False) for star in unstars]
    work += [(star, True) for star in stars]
    for index, (star, is_starred) in enumerate(work, start=1):
        hooks.started(star.full_name, index, len(work))
        if is_starred:
            delivery = _deliver(database, server, deliverer, star, report.dry_run)
        else:
            delivery = _report_unstar(database, server, star, report.dry_run)
        report.deliveries.append(delivery)
        hooks.finished(delivery)


def _report_unstar(database: Database, server: AgentServer, star: Star, dry_run: bool) -> Delivery:
    if dry_run:
        return Delivery(star.github_id, star.full_name, Outcome.WOULD_REPORT_UNSTAR)
    try:
        server.register(star.github_id, star.registration)
    except RepositoryRefused as refused:
        # The server follows its own star polling for it: told once, that is its answer.
        record(database, star.github_id, now=utcnow())
        return _skipped(star, f"unstar not applied: {refused.detail}")
    except ServerError as error:
        if _stops_the_run(error):
            raise
        if error.status != 404:  # 404: the server never had it, nothing to tell
            return _failed(database, star, str(error))
    record(database, star.github_id, now=utcnow())
    return Delivery(star.github_id, star.full_name, Outcome.UNSTAR_REPORTED)


def _deliver(
    database: Database, server: AgentServer, deliverer: Deliverer, star: Star, dry_run: bool
) -> Delivery:
    try:
        if dry_run:
            return deliverer.deliver(star, first_time=not star.delivered_before)
        answer = server.register(star.github_id, star.registration)
        if not answer.for_the_agent:
            record(database, star.github_id, now=utcnow())
            if answer.sync_method != "agent":
                why = f"the server fetches it itself (sync method {answer.sync_method})"
            else:
                why = f"{answer.state} on the server"
            return _skipped(star, why)
        delivery = deliverer.deliver(star)
    except RepositoryRefused as refused:
        record(database, star.github_id, now=utcnow())
        return _skipped(star, refused.detail)
    except ServerError as error:
        if _stops_the_run(error):
            raise
        return _failed(database, star, str(error))
    except (StepFailed, GitError) as error:
        return _failed(database, star, str(error))
    if not dry_run:
        record(
            database,
            star.github_id,
            now=utcnow(),
            refs=delivery.server_refs,
        )
    return delivery


def _skipped(star: Star, why: str) -> Delivery:
    return Delivery(star.github_id, star.full_name, Outcome.SKIPPED, detail=why)


def _failed(database: Database, star: Star, error: str) -> Delivery:
    log.warning("agent.delivery_failed", github_id=star.github_id, error=error)
    record(database, star.github_id, now=utcnow(), error=error)
    return Delivery(star.github_id, star.full_name, Outcome.FAILED, error=error)
