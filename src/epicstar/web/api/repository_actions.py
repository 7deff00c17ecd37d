"""What a ``write`` key may do to a repository: track it, stop mirroring it, sync or retry it,
choose who fetches it from GitHub.

Each change is audited in its own transaction; a pass asked for is handed to the workers
once that transaction is committed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from epicstar.auth.scopes import Scope
from epicstar.discovery import GitHubError
from epicstar.discovery import Repository as SourceRepository
from epicstar.state import repositories
from epicstar.state.audit import record_change, repository_target
from epicstar.state.models import Origin, Repository, RepoState, SyncMethod
from epicstar.sync.failures import RETRYABLE, retry_afresh
from epicstar.sync.tracking import (
    Added,
    BadRepositoryName,
    look_up,
    parse_full_name,
    remove,
    switch_method,
    track,
)
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.github_answers import github_refusal
from epicstar.web.api.hand_off import due_time, hand_to_workers
from epicstar.web.api.params import NOT_FOUND, GitHubId
from epicstar.web.api.repositories import not_tracked, viewed
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["repositories"])

Writer = Annotated[Caller, Depends(require(Scope.WRITE))]
Api = Annotated[ApiContext, Depends(api_context)]


class AddRepository(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(
        min_length=1,
        max_length=500,
        description="`owner/name`, or the repository's GitHub URL",
        examples=["fastapi/fastapi"],
    )


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False,
        description="fetch and push even when GitHub advertises the refs already mirrored",
    )


class RepositoryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sync_method: SyncMethod = Field(
        description="`server`: the server's workers fetch it from GitHub; `agent`: an agent "
        "where the GitHub token lives pushes it to the server"
    )


class Accepted(BaseModel):
    status: str = "accepted"
    github_id: int


@router.post(
    "/repositories",
    summary="Track a repository",
    status_code=201,
    responses={
        200: {"description": "already tracked and active (nothing changed but its metadata)"},
        201: {"description": "tracked, or tracked again, and handed to the workers"},
        404: {"description": "GitHub has no such repository (or the token cannot see it)"},
        422: {"description": "not a repository name or URL"},
        451: {"description": "GitHub blocks the repository for legal reasons"},
        503: {"description": "GitHub cannot be asked now (unreachable, rate limit, token)"},
    },
)
def add_repository(
    caller: Writer, api: Api, body: AddRepository, request: Request, response: Response
) -> dict[str, Any]:
    """Track a repository by hand, as `epicstar add` does: a new one, or a known one made
    active again whatever its state (unstarred, excluded, removed, gone). From then on the
    starred list and the filters no longer decide for it. The answer is the repository."""
    try:
        full_name = parse_full_name(body.full_name)
    except BadRepositoryName as error:
        raise HTTPException(422, str(error)) from None
    try:
        with api.github() as github:
            source = look_up(github, full_name)
    except GitHubError as error:
        raise github_refusal(error) from None
    try:
        added, view = _track(api, caller, source)
    except IntegrityError:  # added by another request meanwhile: now it is known
        added, view = _track(api, caller, source)
    if added.created or added.reactivated_from is not None:
        hand_to_workers(api, added.github_id, trigger="api")
    else:
        response.status_code = 200
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{added.github_id}"
    return view


def _track(
    api: ApiContext, caller: Caller, source: SourceRepository
) -> tuple[Added, dict[str, Any]]:
    with api.database.session() as session:
        added = track(session, source, due_at=due_time(api))
        if added.changed:
            details = {
                "created": added.created,
                "reactivated_from": added.reactivated_from,
                "previous_reason": added.reason,
                "previous_origin": added.previous_origin,
            }
            record_change(
                session,
                caller.actor,
                "repository.added",
                repository_target(added.github_id, added.full_name),
                details,
            )
        session.flush()
        row = session.get(Repository, added.github_id)
        assert row is not None
        return added, viewed(session, row)


@router.delete(
    "/repositories/{github_id}",
    summary="Stop mirroring a repository",
    status_code=204,
    responses=NOT_FOUND,
)
def remove_repository(caller: Writer, api: Api, github_id: GitHubId) -> Response:
    """Stop mirroring: the repository becomes `excluded`, with a reason naming the key. Its
    OneDev project and cache are kept, and neither the starred list nor the filters bring it
    back: only `POST /repositories` (or `epicstar add`) does. Removing a repository already
    removed by hand changes nothing."""
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None:
            raise not_tracked(github_id)
        if row.state != RepoState.EXCLUDED or row.origin != Origin.MANUAL:
            details = {"previous_state": row.state, "previous_origin": row.origin}
            remove(row, f"removed through the {caller.channel} by {caller.actor.describe()}")
            record_change(
                session,
                caller.actor,
                "repository.removed",
                repository_target(row.github_id, row.full_name),
                details,
            )
    return Response(status_code=204)


@router.post(
    "/repositories/{github_id}/sync",
    summary="Mirror a repository now",
    status_code=202,
    responses={**NOT_FOUND, 409: {"description": "the repository is not active"}},
)
def sync_repository(
    caller: Writer, api: Api, github_id: GitHubId, body: SyncRequest | None = None
) -> Accepted:
    """Hand an active repository to the workers for a pass now (after the running one, if
    any). Its retries are not reset: see `/retry`. A repository that is not `active` is not
    mirrored: 409."""
    force = body.force if body is not None else False
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None:
            raise not_tracked(github_id)
        if row.state != RepoState.ACTIVE:
            raise HTTPException(
                409,
                f"{row.full_name} is {row.state}, not active, so it is not mirrored; "
                "POST /repositories to track it again",
            )
        row.next_due_at = due_time(api)
        record_change(
            session,
            caller.actor,
            "repository.sync_requested",
            repository_target(row.github_id, row.full_name),
            {"force": force},
        )
    hand_to_workers(api, github_id, trigger="api", force=force)
    return Accepted(github_id=github_id)


@router.post(
    "/repositories/{github_id}/retry",
    summary="Retry a failed repository from scratch",
    status_code=202,
    responses={
        **NOT_FOUND,
        409: {"description": "the repository has not failed, or is not active"},
    },
)
def retry_repository(caller: Writer, api: Api, github_id: GitHubId) -> Accepted:
    """A `failed` or `permanent_failure` repository gets its full count of attempts again
    (`retry_count` 0, status `failed`, so it is no longer left out as a permanent failure)
    and a pass now. Its `error` stays until that pass replaces or clears it."""
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None:
            raise not_tracked(github_id)
        if row.state != RepoState.ACTIVE or row.sync_status not in RETRYABLE:
            raise HTTPException(
                409,
                f"{row.full_name} is {row.state} and {row.sync_status}: only an active "
                "repository that failed is retried",
            )
        details = {"previous_status": row.sync_status, "previous_retry_count": row.retry_count}
        retry_afresh(row, due_time(api))
        record_change(
            session,
            caller.actor,
            "repository.retry_requested",
            repository_target(row.github_id, row.full_name),
            details,
        )
    hand_to_workers(api, github_id, trigger="api")
    return Accepted(github_id=github_id)


@router.patch(
    "/repositories/{github_id}",
    summary="Choose who fetches a repository from GitHub",
    responses={**NOT_FOUND, 422: {"description": "not `agent` or `server`"}},
)
def change_repository(
    caller: Writer, api: Api, github_id: GitHubId, body: RepositoryChange
) -> dict[str, Any]:
    """Switch the repository's `sync_method`. Back to `server`, an active repository is
    mirrored from GitHub at once. The answer is the repository; a switch is audited as
    `repository.sync_method_changed` (a request that changes nothing is not)."""
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None:
            raise not_tracked(github_id)
        due = due_time(api)
        previous = switch_method(row, body.sync_method, due)
        if previous is not None:
            record_change(
                session,
                caller.actor,
                "repository.sync_method_changed",
                repository_target(row.github_id, row.full_name),
                {"old": previous, "new": body.sync_method.value},
            )
        active = row.state == RepoState.ACTIVE
        view = viewed(session, row)
    if previous is not None and body.sync_method == SyncMethod.SERVER and active:
        hand_to_workers(api, github_id, trigger="api")
    return view
