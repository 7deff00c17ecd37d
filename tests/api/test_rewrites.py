"""``GET /api/v1/repositories/{github_id}/rewrites`` and ``POST …/approve``: what GitHub
overwrote or deleted, and the approval that lets a repository held back follow GitHub."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from epicstar.state.models import RefRewrite, Repository, RewriteStatus, SyncStatus
from tests.api.actions import assert_names_the_key, audited, row, wait_for_attempts
from tests.api.conftest import GENEROUS_RATE, Api, api_world, serving

START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def record_rewrite(
    api: Api,
    github_id: int,
    found_at: datetime,
    *,
    ref: str = "refs/heads/main",
    status: str = RewriteStatus.APPLIED,
    **fields: Any,
) -> int:
    """A rewrite as a pass records it; its old tip kept under ``refs/epicstar/rewritten/``."""
    values: dict[str, Any] = {
        "old_sha": "1" * 40,
        "new_sha": "2" * 40,
        "kind": "forced",
        "commits_lost": 3,
        "kept_as": f"refs/epicstar/rewritten/{found_at:%Y%m%dT%H%M%S}/{ref.removeprefix('refs/')}",
    }
    values.update(fields)
    with api.database.session() as session:
        rewrite = RefRewrite(
            repository_id=github_id, ref=ref, status=status, found_at=found_at, **values
        )
        session.add(rewrite)
        session.flush()
        return rewrite.id


def rewrite_rows(api: Api, github_id: int) -> dict[int, RefRewrite]:
    with api.database.session() as session:
        found = session.scalars(select(RefRewrite).where(RefRewrite.repository_id == github_id))
        return {rewrite.id: rewrite for rewrite in found}


def test_a_repositorys_rewrites_come_newest_first_in_pages(api: Api) -> None:
    api.track(7401, "rewritten/one")
    api.track(7402, "rewritten/other")
    ids = [
        record_rewrite(api, 7401, START + timedelta(hours=hour), ref=f"refs/heads/b{hour}")
        for hour in range(4)
    ]
    record_rewrite(api, 7402, START + timedelta(hours=2))
    deleted_tag = record_rewrite(
        api,
        7401,
        START + timedelta(hours=5),
        ref="refs/tags/v1",
        kind="deleted",
        new_sha=None,
        commits_lost=100_000,
        commits_lost_partial=True,
        whole_repository=True,
        status=RewriteStatus.HELD,
    )
    key = api.key("read")

    first = api.get("/repositories/7401/rewrites", key, params={"per_page": 2})

    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["total"], body["page"], body["per_page"]) == (5, 1, 2)
    assert [item["id"] for item in body["items"]] == [deleted_tag, ids[3]]
    assert body["items"][0] == {
        "id": deleted_tag,
        "ref": "refs/tags/v1",
        "kind": "deleted",
        "old": "1" * 40,
        "new": None,
        "commits_lost": 100_000,
        "commits_lost_at_least": True,
        "whole_repository": True,
        "status": "held",
        "found_at": "2024-05-01T17:00:00+00:00",
        "attempt_id": None,
        "kept_as": "refs/epicstar/rewritten/20240501T170000/tags/v1",
        "approved_at": None,
        "approved_by": None,
        "restored_as": None,
        "restored_at": None,
    }
    assert body["items"][1]["commits_lost_at_least"] is False
    last = api.get("/repositories/7401/rewrites", key, params={"per_page": 2, "page": 3}).json()
    assert [item["id"] for item in last["items"]] == [ids[0]]
    assert api.get("/repositories/7401/rewrites", key, params={"page": 4}).json()["items"] == []

    held = api.get("/repositories/7401/rewrites", key, params={"status": "held"}).json()
    assert ([item["id"] for item in held["items"]], held["total"]) == ([deleted_tag], 1)
    other = api.get("/repositories/7402/rewrites", key).json()
    assert (other["total"], [item["ref"] for item in other["items"]]) == (1, ["refs/heads/main"])


def test_rewrites_of_what_is_not_tracked_or_asked_badly(api: Api) -> None:
    api.track(7405, "rewritten/none")
    key = api.key("read")

    empty = api.get("/repositories/7405/rewrites", key)
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "total": 0, "page": 1, "per_page": 50}
    missing = api.get("/repositories/7406/rewrites", key)
    assert missing.status_code == 404
    assert "7406" in missing.json()["detail"]
    for params in ({"status": "lost"}, {"page": 0}, {"per_page": 101}):
        assert api.get("/repositories/7405/rewrites", key, params=params).status_code == 422
    assert api.get("/repositories/0/rewrites", key).status_code == 422


def test_each_repository_counts_its_rewrites_in_the_list_and_alone(api: Api) -> None:
    api.track(7411, "counted/many")
    api.track(7412, "counted/one")
    api.track(7413, "counted/none")
    for hour in range(3):
        record_rewrite(api, 7411, START + timedelta(hours=hour))
    record_rewrite(api, 7412, START, status=RewriteStatus.WITHDRAWN)
    key = api.key("read")

    listed = api.get("/repositories", key, params={"q": "counted/"}).json()["items"]

    assert {item["full_name"]: item["rewrites"] for item in listed} == {
        "counted/many": 3,
        "counted/none": 0,
        "counted/one": 1,
    }
    for github_id, count in ((7411, 3), (7412, 1), (7413, 0)):
        assert api.get(f"/repositories/{github_id}", key).json()["rewrites"] == count


def test_who_may_read_and_approve_rewrites(api: Api) -> None:
    api.track(7421, "guarded/held", sync_status=SyncStatus.HELD, held_refs={"refs/heads/x": None})
    held = record_rewrite(api, 7421, START, ref="refs/heads/x", status=RewriteStatus.HELD)

    anonymous = api.get("/repositories/7421/rewrites")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    for scope in ("agent", "feed"):
        assert api.get("/repositories/7421/rewrites", api.key(scope)).status_code == 403
    unsigned = api.post("/repositories/7421/approve")
    assert unsigned.status_code == 401
    assert unsigned.headers["www-authenticate"] == "Bearer"
    for scope in ("read", "agent"):
        refused = api.post("/repositories/7421/approve", api.key(scope))
        assert refused.status_code == 403
        assert "'write' scope" in refused.json()["detail"]

    assert rewrite_rows(api, 7421)[held].status == "held", "nothing was approved"
    assert row(api, 7421).sync_status == "held"
    assert audited(api, "repository.rewrites_approved", 7421) == []


def test_approving_what_is_not_held_is_refused(api: Api) -> None:
    api.track(7431, "refused/applied")
    applied = record_rewrite(api, 7431, START)
    due = row(api, 7431).next_due_at
    key = api.key("write")

    refused = api.post("/repositories/7431/approve", key)

    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "refused/applied has nothing held back to approve (its sync status is completed)"
    )
    after = row(api, 7431)
    assert (after.sync_status, after.next_due_at) == ("completed", due), "left as it was"
    assert rewrite_rows(api, 7431)[applied].status == "applied"
    assert audited(api, "repository.rewrites_approved", 7431) == []
    assert api.post("/repositories/7432/approve", key).status_code == 404
    assert api.post("/repositories/0/approve", key).status_code == 422


def test_approving_lets_the_held_refs_go_and_hands_the_repository_to_the_workers(
    api: Api,
) -> None:
    key = api.key("write", name="approver")
    repo = api.world.github.create_repo("approved", "direct")
    assert api.post("/repositories", key, json={"full_name": "approved/direct"}).status_code == 201
    wait_for_attempts(api, key, repo.id, 1)
    held_refs = {"refs/heads/rewritten": "3" * 40, "refs/tags/gone": None}
    with api.database.session() as session:
        session.execute(
            update(Repository)
            .where(Repository.github_id == repo.id)
            .values(sync_status=SyncStatus.HELD, held_refs=held_refs)
        )
    earlier = record_rewrite(api, repo.id, START, ref="refs/heads/rewritten")
    branch = record_rewrite(
        api, repo.id, START + timedelta(days=1), ref="refs/heads/rewritten", status="held"
    )
    tag = record_rewrite(
        api,
        repo.id,
        START + timedelta(days=1),
        ref="refs/tags/gone",
        kind="deleted",
        new_sha=None,
        status="held",
    )
    shown = api.get(f"/repositories/{repo.id}", key).json()
    assert (shown["sync_status"], shown["held_refs"], shown["rewrites"]) == (
        "held",
        ["refs/heads/rewritten", "refs/tags/gone"],
        3,
    )

    response = api.post(f"/repositories/{repo.id}/approve", key)

    assert response.status_code == 202, response.text
    assert response.json() == {
        "github_id": repo.id,
        "approved": ["refs/heads/rewritten", "refs/tags/gone"],
    }
    rows = rewrite_rows(api, repo.id)
    prefix = key.split("_")[1]
    for approved in (branch, tag):
        assert rows[approved].status == "approved"
        assert rows[approved].approved_by == f"API key 'approver' (esk_{prefix}_…)"
        assert rows[approved].approved_at is not None
    assert (rows[earlier].status, rows[earlier].approved_at) == ("applied", None)
    assert row(api, repo.id).held_refs is None
    [entry] = audited(api, "repository.rewrites_approved", repo.id)
    assert_names_the_key(entry, key, "approver")
    assert entry.details == {"refs": ["refs/heads/rewritten", "refs/tags/gone"]}
    newest = wait_for_attempts(api, key, repo.id, 2)[0]
    assert (newest["trigger"], newest["outcome"]) == ("approve", "unchanged")
    after = api.get(f"/repositories/{repo.id}", key).json()
    assert (after["sync_status"], after["held_refs"]) == ("completed", [])
    assert {r.status for r in rewrite_rows(api, repo.id).values()} == {"applied", "approved"}

    again = api.post(f"/repositories/{repo.id}/approve", key)
    assert again.status_code == 409, "nothing is held any more"
    assert len(audited(api, "repository.rewrites_approved", repo.id)) == 1


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def holding(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """A served API whose passes hold rewritten refs back (``EPICSTAR_REWRITE_POLICY=hold``)."""
    env = {"EPICSTAR_API_RATE_LIMIT": GENEROUS_RATE, "EPICSTAR_REWRITE_POLICY": "hold"}
    with api_world(request.param, tmp_path_factory) as world, serving(world, env) as client:
        yield client


def test_a_force_push_held_back_is_mirrored_once_approved(holding: Api) -> None:
    api = holding
    world = api.world
    key = api.key("write")
    full_name = "held/pushed"
    repo = world.github.create_repo("held", "pushed")
    first = world.github.commit(full_name, "main", {"a.txt": "a\n"}, "to be overwritten")
    assert api.post("/repositories", key, json={"full_name": full_name}).status_code == 201
    wait_for_attempts(api, key, repo.id, 1)
    parent = subprocess.run(
        ["git", "--git-dir", str(repo.path), "rev-parse", f"{first}^"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    forced = world.github.commit(full_name, "main", {"b.txt": "b\n"}, "rewritten", parent=parent)

    assert api.post(f"/repositories/{repo.id}/sync", key).status_code == 202
    wait_for_attempts(api, key, repo.id, 2)

    shown = api.get(f"/repositories/{repo.id}", key).json()
    assert (shown["sync_status"], shown["held_refs"], shown["rewrites"]) == (
        "held",
        ["refs/heads/main"],
        1,
    )
    [held] = api.get(f"/repositories/{repo.id}/rewrites", key).json()["items"]
    assert (held["ref"], held["kind"], held["status"]) == ("refs/heads/main", "forced", "held")
    assert (held["old"], held["new"], held["commits_lost"]) == (first, forced, 1)
    onedev = f"github/{full_name}"
    assert world.onedev.refs(onedev)["refs/heads/main"] == first, "OneDev keeps the old tip"

    approved = api.post(f"/repositories/{repo.id}/approve", key)

    assert approved.status_code == 202, approved.text
    assert approved.json() == {"github_id": repo.id, "approved": ["refs/heads/main"]}
    newest = wait_for_attempts(api, key, repo.id, 3)[0]
    assert (newest["trigger"], newest["outcome"]) == ("approve", "mirrored")
    assert world.onedev.refs(onedev)["refs/heads/main"] == forced
    after = api.get(f"/repositories/{repo.id}", key).json()
    assert (after["sync_status"], after["held_refs"], after["rewrites"]) == ("completed", [], 1)
    [applied] = api.get(f"/repositories/{repo.id}/rewrites", key).json()["items"]
    assert (applied["id"], applied["status"]) == (held["id"], "applied")
    assert applied["approved_by"] is not None
