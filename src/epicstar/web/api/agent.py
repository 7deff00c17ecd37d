"""``PUT /api/v1/agent/repositories/{github_id}``: an agent reports a star (with what GitHub
says of the repository) or an unstar, with a key of scope ``agent``.

A star is read as the server's own star poller reads one (:func:`epicstar.sync.stars.apply_star`:
tracked, excluded by the filters, renamed, re-starred), and an unstar as its poller reads one
missing from a complete walk (:func:`epicstar.sync.stars.mark_unstarred`, then the unstar policy
in OneDev). A repository first seen this way is in ``agent`` mode: the server never asks GitHub
about it, and mirrors what the agent pushes (:mod:`epicstar.web.agent_git`).

A repository in ``server`` mode is the server's alone: what GitHub says of it and whether it is
starred come from the server's own requests and star polling. An agent's report changes none of
it: a star is answered with its id, its sync method and that nothing changed, an unstar is
refused (403) with the same, and neither answer shows more of it
(:mod:`epicstar.web.api.servers_own`). What an agent reports would otherwise reach the server's
own fetch (``html_url`` becomes the clone URL it fetches from, with the server's GitHub token)
and its unstar policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError

from epicstar.auth.scopes import Scope
from epicstar.config import Settings
from epicstar.destination import OneDevClient
from epicstar.discovery import Repository as SourceRepository
from epicstar.discovery import Star
from epicstar.state import repositories
from epicstar.state.database import Database
from epicstar.state.models import Repository, SyncMethod, utcnow
from epicstar.sync.filters import Filters
from epicstar.sync.placement import ProjectPlacer
from epicstar.sync.stars import apply_star, mark_unstarred
from epicstar.sync.tracking import BadRepositoryName, parse_full_name
from epicstar.sync.unstarred import settle
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.params import GitHubId
from epicstar.web.api.repositories import not_tracked, repository_detail
from epicstar.web.api.servers_own import refusal_response, servers_own
from epicstar.web.authentication import Caller, require

log = structlog.get_logger("epicstar.api")

router = APIRouter(tags=["agent"])

AgentKey = Annotated[Caller, Depends(require(Scope.AGENT))]
Api = Annotated[ApiContext, Depends(api_context)]


class AgentRepository(BaseModel):
    """What the agent read from GitHub about one of its stars."""

    model_config = ConfigDict(extra="ignore")

    full_name: str = Field(min_length=3, max_length=300, examples=["octo/hello"])
    description: str | None = Field(default=None, max_length=10_000)
    default_branch: str | None = Field(default=None, min_length=1, max_length=255)
    private: bool = False
    archived: bool = False
    fork: bool = False
    size_kb: int = Field(default=0, ge=0, le=2**62)
    language: str | None = Field(default=None, max_length=100)
    html_url: str | None = Field(default=None, max_length=2000)
    starred_at: datetime | None = Field(default=None, description="ISO 8601")
    starred: bool = Field(default=True, description="false: the agent saw it unstarred")

    @field_validator("full_name")
    @classmethod
    def _full_name(cls, value: str) -> str:
        try:
            name = parse_full_name(value)
        except BadRepositoryName as error:
            raise ValueError(str(error)) from None
        if name != value.strip():
            raise ValueError("expected OWNER/NAME, e.g. octo/hello")
        return name

    @field_validator("html_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def source(self, github_id: int) -> SourceRepository:
        owner, _, name = self.full_name.partition("/")
        return SourceRepository(
            id=github_id,
            full_name=self.full_name,
            owner=owner,
            name=name,
            # Never fetched by the server while the agent fetches it; a switch to the server
            # asks GitHub for the repository's own URLs first.
            clone_url=f"{self.html_url}.git" if self.html_url else "",
            html_url=self.html_url or "",
            description=self.description,
            default_branch=self.default_branch,
            private=self.private,
            archived=self.archived,
            disabled=False,
            fork=self.fork,
            size_kb=self.size_kb,
            pushed_at=None,
            language=self.language,
        )

    def star_time(self) -> datetime | None:
        at = self.starred_at
        return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


_STAR_IGNORED = (
    "its metadata and its star come from the server's own requests and star polling; "
    "nothing was changed"
)
_UNSTAR_REFUSED = "its starred state follows the server's star polling; nothing was changed"


@dataclass(frozen=True)
class _Registered:
    created: bool
    onedev_side: str | None  # "unstar" or "restar": the unstar policy, or its undoing, follows
    servers_own: bool = False  # in server mode: left as it was, and not shown


class _UnstarRefused(Exception):
    """An unstar reported for a repository the server mirrors itself."""


@dataclass(frozen=True)
class _OneDevSide:
    settings: Settings
    db: Database
    onedev: OneDevClient
    placer: ProjectPlacer


@router.put(
    "/agent/repositories/{github_id}",
    summary="Report a star or an unstar seen by the agent",
    status_code=200,
    responses={
        200: {
            "description": "a known repository; in `server` mode only its id, its sync method "
            "and that nothing changed",
            "content": {
                "application/json": {
                    "example": {**servers_own(1296269, _STAR_IGNORED), "changed": False}
                }
            },
        },
        201: {"description": "a new repository, tracked in agent mode (or excluded by filters)"},
        **refusal_response(
            "an unstar of a repository in `server` mode: nothing was changed", _UNSTAR_REFUSED
        ),
        404: {"description": "an unstar of a repository the server does not track"},
        422: {"description": "a field is missing or malformed"},
    },
)
def register_repository(
    caller: AgentKey, api: Api, github_id: GitHubId, body: AgentRepository, response: Response
) -> dict[str, Any]:
    """A star: a new repository is tracked in `agent` mode and due at once (201); a known
    one in `agent` mode gets the metadata (a rename is followed by id) and the star's
    consequences (200). An unstar (`"starred": false`) of a repository in `agent` mode is
    handled as the server's star poller handles one. The answer is the repository as
    `GET /repositories/{github_id}` shows it: the agent fetches and pushes it only when its
    `sync_method` is `agent` and its `state` is `active`. A repository in `server` mode is
    left as it is and not shown: a star is answered with its id, its `sync_method` and
    `"changed": false` (200), an unstar is refused (403)."""
    try:
        try:
            registered = _register(api, github_id, body)
        except IntegrityError:  # created by another request meanwhile: now it is known
            registered = _register(api, github_id, body)
    except _UnstarRefused:
        log.warning(
            "agent.unstar_refused",
            github_id=github_id,
            reason="sync_method server",
            key_prefix=caller.principal.prefix,
        )
        response.status_code = 403
        return servers_own(github_id, _UNSTAR_REFUSED)
    if registered.servers_own:
        return {**servers_own(github_id, _STAR_IGNORED), "changed": False}
    if registered.onedev_side is not None:
        url, token = api.settings.require_onedev()
        with OneDevClient(url, token, timeout=float(api.settings.http_timeout)) as onedev:
            side = _OneDevSide(
                api.settings,
                api.database,
                onedev,
                ProjectPlacer(onedev, api.settings.onedev_parent),
            )
            settle(side, registered.onedev_side, github_id)
    if registered.created:
        response.status_code = 201
    with api.database.session() as session:
        row = session.get(Repository, github_id)
        if row is None:
            raise not_tracked(github_id)
        return repository_detail(session, row)


def _register(api: ApiContext, github_id: int, body: AgentRepository) -> _Registered:
    now = utcnow()
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is not None and row.sync_method != SyncMethod.AGENT:
            if not body.starred:
                raise _UnstarRefused
            return _Registered(created=False, onedev_side=None, servers_own=True)
        if not body.starred:
            if row is None:
                raise not_tracked(github_id)
            unstarred = mark_unstarred(row, now)
            return _Registered(created=False, onedev_side="unstar" if unstarred else None)
        star = Star(body.source(github_id), body.star_time())
        filters = Filters.from_settings(api.settings)
        # The agent read the repository from GitHub just now: it is reachable.
        changes = list(apply_star(session, star, filters, now, {github_id: None}))
        stored = session.get(Repository, github_id)
        assert stored is not None  # apply_star tracks every star it is given
        if not stored.clone_url:
            stored.clone_url = None
        if row is None:
            stored.sync_method = SyncMethod.AGENT
        restarred = any(change.kind == "restar" for change in changes)
        return _Registered(created=row is None, onedev_side="restar" if restarred else None)
