"""What a ``write`` key does from the dashboard: sync, retry, add, stop mirroring (one
repository or a selection), approve what a repository holds back, poll the stars and replay
a delivery. Each calls the API's own
route function, so both check, audit and hand work to the workers the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from epicstar.auth.scopes import Scope
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.repository_actions import (
    AddRepository,
    add_repository,
    remove_repository,
    retry_repository,
    sync_repository,
)
from epicstar.web.api.rewrites import approve_rewrites
from epicstar.web.api.stars import poll_stars
from epicstar.web.api.webhooks import replay_delivery
from epicstar.web.dashboard.access import Action, Refusal, acting, answer, via_api
from epicstar.web.dashboard.listing import github_id_of
from epicstar.web.webhooks import WebhookReceiver

router = APIRouter(include_in_schema=False)

Writer = Annotated[Action, Depends(acting(Scope.WRITE))]
Api = Annotated[ApiContext, Depends(api_context)]

MAX_SELECTION = 500


@router.post("/repositories/{github_id}/sync")
async def sync(request: Request, action: Writer, api: Api, github_id: str) -> Response:
    await via_api(sync_repository, action.visitor.caller, api, github_id_of(github_id))
    return answer(request, action, "Sync asked for: the workers mirror it now.", status=202)


@router.post("/repositories/{github_id}/retry")
async def retry(request: Request, action: Writer, api: Api, github_id: str) -> Response:
    await via_api(retry_repository, action.visitor.caller, api, github_id_of(github_id))
    return answer(request, action, "Retry asked for: its attempts start afresh.", status=202)


@router.post("/repositories/{github_id}/remove")
async def remove(request: Request, action: Writer, api: Api, github_id: str) -> Response:
    await via_api(remove_repository, action.visitor.caller, api, github_id_of(github_id))
    return answer(request, action, "No longer mirrored; its OneDev project and cache are kept.")


@router.post("/repositories/{github_id}/approve")
async def approve(request: Request, action: Writer, api: Api, github_id: str) -> Response:
    approved = await via_api(approve_rewrites, action.visitor.caller, api, github_id_of(github_id))
    count = len(approved.approved)
    return answer(
        request,
        action,
        f"Approved {count} held ref{'' if count == 1 else 's'}: the workers mirror what "
        "GitHub has now; the old tips stay in the cache.",
        status=202,
    )


@router.post("/repositories")
async def add(request: Request, action: Writer, api: Api) -> Response:
    name = action.text("full_name")
    if not name or len(name) > 500:
        raise Refusal(422, "type a repository as owner/name, or paste its GitHub URL")

    body = AddRepository(full_name=name)
    added = await via_api(add_repository, action.visitor.caller, api, body, request, Response())
    return answer(
        request,
        action,
        f"{added['full_name']} is tracked (state {added['state']}, {added['sync_status']}).",
        status=201,
    )


@router.post("/repositories/bulk")
async def bulk(request: Request, action: Writer, api: Api) -> Response:
    """Sync or retry every selected repository; each is audited on its own."""
    chosen: dict[str, Callable[..., object]] = {"sync": sync_repository, "retry": retry_repository}
    verb = action.text("action")
    if verb not in chosen:
        raise Refusal(422, "choose Sync or Retry for the selection")
    ids = list(dict.fromkeys(github_id_of(text) for text in action.texts("github_id")))
    if not ids:
        raise Refusal(422, "select at least one repository")
    if len(ids) > MAX_SELECTION:
        raise Refusal(422, f"select at most {MAX_SELECTION} repositories at once")

    def run_all() -> list[str]:
        refused: list[str] = []
        for number in ids:
            try:
                chosen[verb](action.visitor.caller, api, number)
            except HTTPException as error:
                refused.append(str(error.detail))
        return refused

    refused = await run_in_threadpool(run_all)
    done = len(ids) - len(refused)
    message = f"{verb.capitalize()} asked for {done} of {len(ids)} repositories."
    if refused:
        message += " Not done: " + "; ".join(refused[:5]) + ("…" if len(refused) > 5 else "")
    return answer(request, action, message, status=202 if done else 409)


@router.post("/stars/poll")
async def poll(request: Request, action: Writer, api: Api) -> Response:
    await via_api(poll_stars, action.visitor.caller, api)
    return answer(request, action, "The starred list is polled now.", status=202)


@router.post("/deliveries/{delivery_id}/replay")
async def replay(request: Request, action: Writer, delivery_id: str) -> Response:
    receiver: WebhookReceiver = request.app.state.webhooks
    if not delivery_id or len(delivery_id) > 100 or not delivery_id.isprintable():
        raise Refusal(404, "no such delivery")
    replayed = await via_api(replay_delivery, action.visitor.caller, receiver, delivery_id)
    return answer(
        request,
        action,
        f"Delivery {delivery_id} replayed: {replayed['outcome'] or replayed['status']}.",
        status=202,
    )
