"""``/api/v1/repositories/{github_id}/rewrites`` and ``/approve``: the branches and tags GitHub
overwrote or deleted, and the approval that lets a repository held back follow GitHub again.

Every old tip is kept in the repository's cache whatever happens here; approving only decides
that OneDev's mirror may follow what GitHub did.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from epicstar.auth.scopes import Scope
from epicstar.state import repositories, rewrites
from epicstar.state.models import Repository, RepoState, RewriteStatus, utcnow
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.hand_off import due_time, hand_to_workers
from epicstar.web.api.paging import Paging, paging
from epicstar.web.api.params import NOT_FOUND, GitHubId
from epicstar.web.api.repositories import not_tracked
from epicstar.web.authentication import Caller, require

router = APIRouter(tags=["rewrites"])

TRIGGER = "approve"
"""The trigger of the pass an approval asks for, as its attempt records it."""


class Approved(BaseModel):
    github_id: int
    approved: list[str]
    """The refs that now follow GitHub: each held rewrite's, and any other ref held back."""


@router.get(
    "/repositories/{github_id}/rewrites",
    summary="List what GitHub overwrote or deleted in one repository",
    responses=NOT_FOUND,
)
def list_repository_rewrites(
    _caller: Annotated[Caller, Depends(require(Scope.READ))],
    api: Annotated[ApiContext, Depends(api_context)],
    github_id: GitHubId,
    page: Annotated[Paging, Depends(paging)],
    status: Annotated[
        RewriteStatus | None, Query(description="only the rewrites in this status")
    ] = None,
) -> dict[str, Any]:
    """The repository's force-pushed, deleted and moved branches and tags, newest first: each
        with its old and new tips (`new` null: deleted), the commits no branch or tag reaches any
        more (`commits_lost`; `commits_lost_at_least` when more than 100,000 were lost at once and
    it is a lower bound), where the old
        tip is kept in the cache (`kept_as`), its `status` (`applied`, `held`, `approved`,
        `withdrawn`), who approved it, and the branch it was restored as, if any."""
    with api.database.reading() as session:
        if session.get(Repository, github_id) is None:
            raise not_tracked(github_id)
        rows, total = rewrites.page_of(
            session, github_id, status=status, offset=page.offset, limit=page.per_page
        )
        return page.answer([rewrites.rewrite_view(row) for row in rows], total)


@router.post(
    "/repositories/{github_id}/approve",
    summary="Let a repository held back follow GitHub's rewritten history",
    status_code=202,
    responses={**NOT_FOUND, 409: {"description": "nothing of the repository is held back"}},
)
def approve_rewrites(
    caller: Annotated[Caller, Depends(require(Scope.WRITE))],
    api: Annotated[ApiContext, Depends(api_context)],
    github_id: GitHubId,
) -> Approved:
    """Under `EPICSTAR_REWRITE_POLICY=hold`, a rewritten ref is held back: OneDev keeps its
    old tip and the repository is `held`. Approving marks every held rewrite `approved`,
    forgets the held refs, and hands an active repository to the workers for a pass now
    (trigger `approve`), which mirrors what GitHub has. The old tips stay in the cache. 409
    when nothing is held back. Audited as `repository.rewrites_approved` with the refs."""
    with api.database.session() as session:
        row = repositories.locked(session, github_id)
        if row is None:
            raise not_tracked(github_id)
        refs = rewrites.approve(session, row, actor=caller.actor, now=utcnow())
        if not refs:
            raise HTTPException(
                409,
                f"{row.full_name} has nothing held back to approve (its sync status is "
                f"{row.sync_status})",
            )
        row.next_due_at = due_time(api)  # claimed, as /sync does, so the tick leaves it be
        active = row.state == RepoState.ACTIVE
    if active:
        hand_to_workers(api, github_id, trigger=TRIGGER)
    return Approved(github_id=github_id, approved=refs)
