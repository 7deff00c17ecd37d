"""GET /health and GET /ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from epicstar.state.database import Database
from tests.web.conftest import Web, serving


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


def test_the_openapi_document_lists_the_routes(web: Web) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert {"/health", "/ready", "/webhooks/github"} <= set(paths)
    assert set(paths["/webhooks/github"]) == {"post"}
