"""GET /health and GET /ready."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from redis import ConnectionPool

from epicstar.queue.backend import close_huey
from epicstar.state.database import Database
from epicstar.web import app as web_app
from tests.web.conftest import MakeWeb, Web, serving

TIMEOUTS = "socket_connect_timeout=2&socket_timeout=2"


def test_health_answers_without_touching_anything(web: Web) -> None:
    response = web.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_the_database_answers(web: Web) -> None:
    response = web.get("/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@127.0.0.1:1/x", "postgresql://u:hunter2-password@127.0.0.1:1/x"],
)
def test_not_ready_without_the_database_and_the_reason_holds_no_secret(url: str) -> None:
    with serving(Database(url)) as make:
        web = make()
        health = web.get("/health")
        ready = web.get("/ready")
    assert health.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert "127.0.0.1" in body["database"]
    assert "\n" not in body["database"]
    assert "hunter2" not in ready.text
    assert "webhook-test-secret" not in ready.text


def test_not_ready_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "epicstar.db").mkdir()  # a directory where the database file should be
    with serving(Database(f"sqlite:///{tmp_path / 'epicstar.db'}")) as make:
        response = make().get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unable to open database file",
    }


def redis_queue(url: str) -> RedisHuey:
    """A Redis queue whose connections give up after 2 s instead of waiting forever."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    return RedisHuey(name, connection_pool=ConnectionPool.from_url(f"{url}?{TIMEOUTS}"))


@pytest.fixture(params=["memory", "sqlite", "redis"])
def working_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    huey: Huey
    if request.param == "memory":
        huey = MemoryHuey(name)
    elif request.param == "sqlite":
        huey = SqliteHuey(name, filename=str(tmp_path / "queue.db"))
    else:
        huey = redis_queue("redis://127.0.0.1:6379/0")
    yield huey
    if request.param == "redis":
        huey.flush()
    close_huey(huey)
    if request.param == "sqlite":
        huey.storage.close()


def test_ready_when_the_database_and_the_queue_answer(
    make_web: MakeWeb, working_queue: Huey
) -> None:
    response = make_web(queue=working_queue).get("/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_not_ready_when_the_queue_cannot_be_reached_and_the_reason_holds_no_secret(
    make_web: MakeWeb,
) -> None:
    url = "redis://:hunter2-password@127.0.0.1:1/0"
    queue = redis_queue(url)
    client = make_web(queue=queue, queue_url=url)
    started = time.monotonic()
    response = client.get("/ready")
    assert time.monotonic() - started < web_app.READY_TIMEOUT + 1
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"status", "queue"}  # the database is fine
    assert body["status"] == "unavailable"
    assert "127.0.0.1:1" in body["queue"]
    assert "\n" not in body["queue"]
    assert "hunter2" not in response.text
    assert "webhook-test-secret" not in response.text
    close_huey(queue)


class SlowQueue:
    """A queue that takes far longer to answer than the probe waits."""

    ANSWERS_AFTER = 8.0

    def pending_count(self) -> int:
        time.sleep(self.ANSWERS_AFTER)
        return 0


def test_a_queue_that_does_not_answer_in_time_is_not_ready(
    make_web: MakeWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "READY_TIMEOUT", 0.1)
    client = make_web(queue=SlowQueue())
    started = time.monotonic()
    response = client.get("/ready")
    # The probe is abandoned rather than waited for; the margin allows a busy machine.
    assert time.monotonic() - started < SlowQueue.ANSWERS_AFTER / 2
    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "queue": "no answer within 0.1 seconds"},
    )


def test_not_ready_names_every_dependency_that_fails() -> None:
    queue = redis_queue("redis://127.0.0.1:1/0")
    with serving(Database("postgresql://u@127.0.0.1:1/x")) as make:
        response = make(queue=queue).get("/ready")
    close_huey(queue)
    assert response.status_code == 503
    body = response.json()
    assert list(body) == ["status", "database", "queue"]
    assert "127.0.0.1" in body["database"]
    assert "127.0.0.1:1" in body["queue"]


def test_the_openapi_document_lists_the_routes(web: Web) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert {"/health", "/ready", "/metrics", "/webhooks/github"} <= set(paths)
    assert set(paths["/webhooks/github"]) == {"post"}
