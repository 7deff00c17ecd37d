"""``POST /webhooks/github``: GitHub's deliveries, checked in a fixed order.

1. size: more than :data:`MAX_BODY_BYTES` (by ``Content-Length`` or as streamed) is 413,
   and the rest of the body is not read;
2. signature: without ``EPICSTAR_WEBHOOK_SECRET`` every delivery is refused (401); with it,
   ``X-Hub-Signature-256`` must match the raw body (401 otherwise), before anything is parsed;
3. headers and body: ``X-GitHub-Event`` and ``X-GitHub-Delivery`` are required, the body is
   JSON or a form with a ``payload`` field (400 when malformed, 415 for other content types);
4. the delivery is recorded once, with what it changed (:mod:`epicstar.web.deliveries`); a
   redelivery answers ``200 {"status": "duplicate"}``.

Answers are JSON; what each event does is described in :mod:`epicstar.web.effects`. No
input makes it answer 5xx; 503 means the database could not be reached (nothing was
recorded, so GitHub's redelivery will be processed).

A recorded delivery keeps its raw body for ``EPICSTAR_WEBHOOK_RETENTION_DAYS``, and
:meth:`WebhookReceiver.replay` processes it again as on arrival, with the same code, minus
the signature (checked on arrival) and the duplicate check.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from epicstar.config import Settings
from epicstar.metrics import Metrics
from epicstar.state import webhook_deliveries
from epicstar.state.audit import Actor, record_change
from epicstar.state.database import Database
from epicstar.state.models import utcnow
from epicstar.state.retention import body_retention, kept_since
from epicstar.sync.context import SyncEvents, claim_period
from epicstar.sync.filters import Filters
from epicstar.sync.stars import list_key
from epicstar.web import signatures
from epicstar.web.deliveries import Delivery, Work, record, record_again
from epicstar.web.effects import Result, Rules, apply, immediate
from epicstar.web.events import (
    PayloadError,
    UnsupportedContentType,
    decode_body,
    interpret,
    media_type,
    printable,
)
from epicstar.web.identity import WebhookIdentity

__all__ = ["MAX_BODY_BYTES", "PATH", "QueueWork", "Replayed", "WebhookReceiver", "read_capped"]

PATH = "/webhooks/github"
MAX_BODY_BYTES = 25 * 1024 * 1024
"""GitHub caps payloads at 25 MB and fires nothing larger (research/github.md §3)."""

UNCONFIGURED = (
    "webhooks are refused: EPICSTAR_WEBHOOK_SECRET must be set "
    "(and the same secret given to the GitHub webhook) so deliveries can be verified"
)
BAD_SIGNATURE = f"{signatures.SIGNATURE_HEADER} is missing, malformed or does not match the body"

_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,100}")  # a GUID in practice
_EVENT = re.compile(r"[\x21-\x7e]{1,64}")
_LENGTH = re.compile(r"[0-9]{1,20}")

_log = structlog.get_logger("epicstar.web")


class QueueWork(Protocol):
    """Where the receiver hands work to the workers (:class:`epicstar.queue.jobs.Jobs`)."""

    def refresh(self, github_ids: list[int]) -> None: ...

    def walk_stars(self) -> None: ...


def _error(status_code: int, message: str) -> Result:
    return Result(status_code, {"error": message}, f"rejected: {message}")


def _header(headers: Headers, name: str, pattern: re.Pattern[str]) -> str | None:
    value = headers.get(name)
    return value if value is not None and pattern.fullmatch(value) else None


@dataclass(frozen=True)
class _Understood:
    """A delivery decoded and interpreted: what it does, and what is stored with it."""

    action: str | None  # the payload's ``action``, made printable
    media_type: str
    work: Work


@dataclass(frozen=True)
class Replayed:
    delivery_id: str
    event: str
    action: str | None
    result: Result


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows beyond ``limit`` bytes (unread after)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookReceiver:
    """The route's state: secret, database, identity, and the rules from the settings."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        identity: WebhookIdentity | None,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        metrics: Metrics | None = None,
        work: QueueWork | None = None,
        events: SyncEvents | None = None,
    ) -> None:
        secret = settings.webhook_secret
        self._secret = secret.get_secret_value().encode("utf-8") if secret else None
        self._database = database
        # SQLite has one writer at a time, and a writer that finds it busy sleeps in growing
        # steps (1, 2, 5, 10... ms): this process's deliveries queue on a lock instead.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if database.engine.dialect.name == "sqlite" else nullcontext()
        )
        self._identity = identity
        self._configured_user = settings.github_user
        self._rules = Rules(
            filters=Filters.from_settings(settings),
            star_list_key=list_key(settings.github_user),
            claim=claim_period(settings) if work is not None else None,
        )
        self._work = work
        self._events = events
        self.max_body_bytes = max_body_bytes
        self._metrics = metrics
        self.retention = body_retention(settings.webhook_retention_days)

    def mirrored_login(self) -> str | None:
        """``EPICSTAR_GITHUB_USER``, else the token's login (cached by the identity)."""
        if self._configured_user:
            return self._configured_user
        return self._identity.login() if self._identity is not None else None

    async def receive(self, request: Request) -> Response:
        """Receive one GitHub webhook delivery."""
        started = time.perf_counter()
        log = _log.bind(
            correlation_id=_header(request.headers, "x-github-delivery", _DELIVERY_ID),
            github_event=_header(request.headers, "x-github-event", _EVENT),
        )
        result = await self._receive(request)
        if self._metrics is not None:
            self._metrics.count_webhook_delivery(
                request.headers.get("x-github-event"), result.status_code, result.body.get("status")
            )
        fields: dict[str, Any] = {
            "status": result.status_code,
            "outcome": result.outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if result.status_code >= 500:
            log.error("webhook delivery", **fields)
        elif result.status_code >= 400:
            log.warning("webhook delivery", **fields)
        else:
            log.info("webhook delivery", **fields)
        return JSONResponse(result.body, status_code=result.status_code)

    async def _receive(self, request: Request) -> Result:
        length = request.headers.get("content-length")
        if length is not None:
            if not _LENGTH.fullmatch(length):
                return _error(400, "Content-Length is not a number")
            if int(length) > self.max_body_bytes:
                return self._too_large()
        if self._secret is None:
            return _error(401, UNCONFIGURED)
        try:
            body = await read_capped(request, self.max_body_bytes)
        except ClientDisconnect:
            return _error(400, "the client went away before sending the whole body")
        if body is None:
            return self._too_large()
        return await run_in_threadpool(self.process, request.headers, body)

    def _too_large(self) -> Result:
        return _error(413, f"the body is larger than {self.max_body_bytes} bytes")

    def process(self, headers: Headers, body: bytes) -> Result:
        """Verify, decode, interpret and record a whole body (blocking: runs in a thread)."""
        if self._secret is None:
            return _error(401, UNCONFIGURED)
        signature = headers.getlist(signatures.SIGNATURE_HEADER)
        if len(signature) != 1 or not signatures.verify(self._secret, body, signature[0]):
            return _error(401, BAD_SIGNATURE)
        delivery_id = _header(headers, "x-github-delivery", _DELIVERY_ID)
        if delivery_id is None:
            return _error(400, "X-GitHub-Delivery is missing or malformed")
        event = _header(headers, "x-github-event", _EVENT)
        if event is None:
            return _error(400, "X-GitHub-Event is missing or malformed")
        now = utcnow()
        understood = self._understand(event, headers.get("content-type"), body, now)
        if isinstance(understood, Result):
            return understood  # not recorded: a redelivery is processed
        delivery = Delivery(
            delivery_id=delivery_id,
            event=event,
            action=understood.action,
            received_at=now,
            body=body,
            content_type=understood.media_type,
        )
        try:
            with self._write_lock:
                result = record(self._database, delivery, understood.work)
        except SQLAlchemyError as error:
            _log.error(
                "webhook delivery not recorded",
                correlation_id=delivery_id,
                error=type(error).__name__,
            )
            return Result(
                503,
                {"status": "unavailable", "error": "the database cannot be reached; retry later"},
                "database unavailable",
            )
        self._follow_up(delivery_id, result)
        return result

    def replay(self, delivery_id: str, actor: Actor) -> Replayed | None:
        """Process a kept delivery again, as on arrival, and audit it (blocking).

        The signature was checked on arrival and is not checked again, so a replay needs no
        ``EPICSTAR_WEBHOOK_SECRET``. The new outcome replaces the old one; the audit entry is
        written in the same transaction as what the replay changed. None when the delivery
        is unknown or its body is no longer kept. Database errors propagate.
        """
        now = utcnow()
        since = kept_since(now, self.retention)
        with self._database.session() as session:
            kept = webhook_deliveries.kept(session, delivery_id, since)
        if kept is None:
            return None
        understood = self._understand(kept.event, kept.content_type, kept.body, now)
        work = understood if isinstance(understood, Result) else understood.work

        def audit(session: Session, result: Result) -> None:
            details = {"event": kept.event, "action": kept.action, "outcome": result.outcome}
            record_change(session, actor, "webhook.replayed", delivery_id, details, at=now)

        with self._write_lock:
            result = record_again(
                self._database, delivery_id, kept_since=since, work=work, also=audit
            )
        if result is None:  # pruned meanwhile
            return None
        _log.info(
            "webhook delivery replayed",
            correlation_id=delivery_id,
            github_event=kept.event,
            status=result.status_code,
            outcome=result.outcome,
        )
        self._follow_up(delivery_id, result)
        return Replayed(delivery_id, kept.event, kept.action, result)

    def _understand(
        self, event: str, content_type: str | None, body: bytes, now: datetime
    ) -> _Understood | Result:
        """What a delivery does, or why it cannot be processed (an error result)."""
        try:
            payload = decode_body(content_type, body)
            action = interpret(event, payload, self.mirrored_login)
        except UnsupportedContentType as error:
            return _error(415, str(error))
        except PayloadError as error:
            return _error(400, str(error))
        name = payload.get("action")
        return _Understood(
            action=printable(name, 60) if isinstance(name, str) else None,
            media_type=media_type(content_type),
            work=immediate(action) or partial(apply, action=action, now=now, rules=self._rules),
        )

    def _follow_up(self, delivery_id: str, result: Result) -> None:
        """What the recorded delivery made due goes to the workers; a loss is announced."""
        if self._work is not None and (result.due or result.walk_stars):
            self._hand_to_queue(self._work, delivery_id, result)
        if self._events is not None and result.lost is not None:
            github_id, full_name = result.lost
            self._events.source_lost(github_id, full_name, "source_gone", "deleted on GitHub")

    def _hand_to_queue(self, work: QueueWork, delivery_id: str, result: Result) -> None:
        """What the delivery made due, to the workers now.

        The database holds it already (repositories due and claimed, the starred list due
        for a walk): should the queue fail, the tick does it later, so the delivery is still
        answered as accepted.
        """
        try:
            if result.due:
                work.refresh(list(result.due))
            if result.walk_stars:
                work.walk_stars()
        except Exception as error:
            _log.warning(
                "webhook work not queued; the next tick after the claim hands it out",
                correlation_id=delivery_id,
                error=type(error).__name__,
            )
