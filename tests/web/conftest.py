"""An app on a real database, driven through httpx's ASGI transport, and signed deliveries."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from huey import Huey

from epicstar.config import Settings
from epicstar.discovery.ratelimit import RateLimit
from epicstar.metrics import Metrics
from epicstar.state.database import Database
from epicstar.state.models import Origin, Repository, RepoState, SyncStatus
from epicstar.sync.context import SyncEvents
from epicstar.web import FixedIdentity, WebhookIdentity, create_app
from epicstar.web.api import ApiWork
from epicstar.web.signatures import sign
from epicstar.web.webhooks import QueueWork

# Real deliveries (octokit/webhooks examples, MIT) kept in the project's shared research folder
# beside the checkout; EPICSTAR_TEST_PAYLOADS may point elsewhere. They are not copied here.
PAYLOADS = Path(
    os.environ.get(
        "EPICSTAR_TEST_PAYLOADS",
        Path(__file__).resolve().parents[2].parent / "shared" / "research" / "payloads",
    )
)
SECRET = "webhook-test-secret"
USER = "codertocat"  # the payloads' sender is "Codertocat": logins compare case-insensitively
REPO_ID = 186853002  # the repository of star.created / star.deleted / watch.started
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def repository_row(db: Database, github_id: int = REPO_ID) -> Repository | None:
    with db.session() as session:
        return session.get(Repository, github_id)


def tracked(db: Database, **fields: Any) -> Repository:
    """A repository row as a finished mirror pass leaves it."""
    values: dict[str, Any] = {
        "github_id": REPO_ID,
        "full_name": "Codertocat/Hello-World",
        "origin": Origin.STAR,
        "state": RepoState.ACTIVE,
        "sync_status": SyncStatus.COMPLETED,
        "onedev_path": "github/Codertocat/Hello-World",
        "onedev_project_id": 17,
        "mirrored_refs": {"refs/heads/main": "a" * 40},
        "last_synced_at": LONG_AGO,
        "next_due_at": LONG_AGO + timedelta(days=3650),
        "starred_at": LONG_AGO,
        "clone_url": "https://github.com/Codertocat/Hello-World.git",
        "description": "before",
    }
    values.update(fields)
    with db.session() as session:
        session.add(Repository(**values))
    row = repository_row(db, values["github_id"])
    assert row is not None
    return row


def raw(name: str) -> bytes:
    """A payload file exactly as GitHub sent it."""
    path = PAYLOADS / f"{name}.json"
    if not path.is_file():
        message = f"webhook payload fixtures not found at {PAYLOADS} (set EPICSTAR_TEST_PAYLOADS)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
    return path.read_bytes()


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw(name))
    return data


def repository_event(action: str, **changes: Any) -> dict[str, Any]:
    """A ``repository`` event about the payloads' repository, its object changed by ``changes``."""
    base = payload("star.created")
    repository = copy.deepcopy(base["repository"])
    repository.update(changes)
    return {"action": action, "repository": repository, "sender": base["sender"]}


def push_event(repo_id: int = REPO_ID) -> dict[str, Any]:
    base = payload("star.created")
    repository = copy.deepcopy(base["repository"])
    repository["id"] = repo_id
    repository["pushed_at"] = 1557933565  # push payloads carry epoch seconds
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "a" * 40,
        "repository": repository,
        "pusher": {"name": "Codertocat", "email": "codertocat@example.invalid"},
        "sender": base["sender"],
    }


def encode(body: bytes, *, form: bool) -> tuple[bytes, str]:
    """The body and content type GitHub sends for a JSON payload (``form`` is its default)."""
    if form:
        return urlencode({"payload": body.decode("utf-8")}).encode("ascii"), (
            "application/x-www-form-urlencoded"
        )
    return body, "application/json"


class Web:
    """A synchronous client of the app (httpx.ASGITransport in a blocking portal)."""

    def __init__(self, app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> None:
        self.app = app
        self.portal = portal
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://epicstar.test"
        )

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.get, path, **options))

    def form(self, path: str, data: dict[str, Any], **options: Any) -> httpx.Response:
        """A form POST, as a browser sends one (the client keeps the session's cookie)."""
        return self.portal.call(partial(self.client.post, path, data=data, **options))

    def api(self, method: str, path: str, key: str, **options: Any) -> httpx.Response:
        """A call of ``/api/v1`` + ``path`` with ``key``."""
        headers = {**options.pop("headers", {}), "Authorization": f"Bearer {key}"}
        call = partial(self.client.request, method, "/api/v1" + path, headers=headers)
        return self.portal.call(partial(call, **options))

    def post(
        self,
        content: bytes | Callable[[], AsyncIterator[bytes]],
        headers: dict[str, str] | list[tuple[str, str]],
    ) -> httpx.Response:
        async def send() -> httpx.Response:
            body = content() if callable(content) else content
            return await self.client.post("/webhooks/github", content=body, headers=headers)

        return self.portal.call(send)

    def deliver(
        self,
        event: str,
        data: dict[str, Any] | bytes,
        *,
        form: bool = False,
        delivery: str | None = None,
        secret: str | None = SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.post(
            *signed(event, data, form=form, delivery=delivery, secret=secret, headers=headers)
        )

    def together(
        self, calls: list[Callable[[], Awaitable[httpx.Response]]]
    ) -> list[httpx.Response]:
        """Run the calls concurrently in the app's event loop."""

        async def run() -> list[httpx.Response]:
            results: list[httpx.Response | None] = [None] * len(calls)

            async def one(index: int) -> None:
                results[index] = await calls[index]()

            async with anyio.create_task_group() as group:
                for index in range(len(calls)):
                    group.start_soon(one, index)
            return [result for result in results if result is not None]

        return self.portal.call(run)

    def request(
        self, event: str, data: dict[str, Any] | bytes, **kwargs: Any
    ) -> Callable[[], Awaitable[httpx.Response]]:
        """A delivery to run later (with :meth:`together`)."""
        content, headers = signed(event, data, **kwargs)
        return partial(self.client.post, "/webhooks/github", content=content, headers=headers)


def signed(
    event: str,
    data: dict[str, Any] | bytes,
    *,
    form: bool = False,
    delivery: str | None = None,
    secret: str | None = SECRET,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    document = data if isinstance(data, bytes) else json.dumps(data).encode("utf-8")
    body, content_type = encode(document, form=form)
    sent = {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }
    if secret is not None:
        sent["X-Hub-Signature-256"] = sign(secret.encode("utf-8"), body)
    sent.update(headers or {})
    return body, sent


MakeWeb = Callable[..., Web]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """For tests that never reach the database (rejections): one backend is enough."""
    database = Database(f"sqlite:///{tmp_path / 'web.db'}")
    database.upgrade()
    yield database
    database.dispose()


@contextmanager
def serving(database: Database) -> Iterator[MakeWeb]:
    """Make apps on ``database``; their clients are closed on leaving."""
    webs: list[Web] = []
    with anyio.from_thread.start_blocking_portal() as portal:

        def make(
            *,
            login: str | None = USER,
            identity: WebhookIdentity | None = None,
            metrics: Metrics | None = None,
            queue: Huey | None = None,
            work: QueueWork | None = None,
            events: SyncEvents | None = None,
            api_work: ApiWork | None = None,
            rate_limit: Callable[[], RateLimit | None] | None = None,
            **settings: Any,
        ) -> Web:
            """``login`` is the fixed identity's (None: no identity); ``settings`` override."""
            if identity is None and login is not None:
                identity = FixedIdentity(login)
            values: dict[str, Any] = {"webhook_secret": SECRET, **settings}
            app = create_app(
                Settings(**values),
                database,
                identity=identity,
                metrics=metrics,
                queue=queue,
                work=work,
                events=events,
                api_work=api_work,
                rate_limit=rate_limit,
            )
            web = Web(app, portal)
            webs.append(web)
            return web

        yield make
        for web in webs:
            portal.call(web.client.aclose)
            web.app.state.authenticator.verifier.close()  # what the lifespan's end does


@pytest.fixture
def make_web(db: Database) -> Iterator[MakeWeb]:
    with serving(db) as make:
        yield make


@pytest.fixture
def web(make_web: MakeWeb) -> Web:
    """The mirrored user is the token's (identity ``codertocat``); no EPICSTAR_GITHUB_USER."""
    return make_web()


@pytest.fixture
def make_sqlite_web(sqlite_db: Database) -> Iterator[MakeWeb]:
    with serving(sqlite_db) as make:
        yield make
