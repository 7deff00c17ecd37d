"""``POST /api/v1/repositories/{github_id}/commits`` and ``GET .../ingestion``: commit
metadata posted by the agent (or any tool) for repositories in agent mode, checked strictly,
stored all or nothing; the feed of a repository the server mirrors itself is its own."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from epicstar.state.models import SyncMethod
from tests.api.actions import wait_for_attempts
from tests.api.conftest import Api
from tests.api.feed_rows import posted, record, row, sha_of
from tests.e2e.helpers import wait_for


def track_agents(api: Api, github_id: int, full_name: str) -> None:
    """A repository an agent mirrors: the one kind commits are posted for."""
    api.track(github_id, full_name, sync_method=SyncMethod.AGENT)


def post_batch(api: Api, github_id: int, key: str, commits: list[dict[str, Any]], **extra: Any):
    body = {"commits": commits, "client_version": "epicstar-agent 1.0", **extra}
    return api.post(f"/repositories/{github_id}/commits", key, json=body)


def listed(api: Api, github_id: int) -> list[dict[str, Any]]:
    response = api.get("/commits", api.key("read"), params={"repository": github_id})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def summary(api: Api, github_id: int, key: str | None = None) -> dict[str, Any]:
    response = api.get(f"/repositories/{github_id}/ingestion", key or api.key("read"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_valid_batch_is_stored_normalised_and_listed_newest_first(api: Api) -> None:
    track_agents(api, 9101, "ingest/valid")
    newest = posted(
        3,
        sha="ABCDEF" + "0" * 34,
        author_name="  Grace Hopper \n",
        author_email="  Grace@Example.ORG ",
        authored_at="2024-05-01T11:30:00+02:00",
        committer_email="NOREPLY@GitHub.com",
        body="Line one\n\nLine two",
        is_merge=True,
        parent_count=2,
        branches=["main", "release"],
    )
    batch = [newest, posted(2), posted(1)]  # newest first, as git log lists them

    response = post_batch(api, 9101, api.key("agent"), batch)

    assert response.status_code == 201, response.text
    assert response.json() == {
        "total": 3,
        "inserted": 3,
        "skipped": 0,
        "last_ingested_sha": "abcdef" + "0" * 34,
    }
    entries = listed(api, 9101)
    assert [entry["sha"] for entry in entries] == ["abcdef" + "0" * 34, sha_of(2), sha_of(1)]
    first = entries[0]
    assert first["author"] == {
        "name": "Grace Hopper",
        "email": "grace@example.org",
        "date": "2024-05-01T09:30:00+00:00",
    }
    assert first["committer"]["email"] == "noreply@github.com"
    assert (first["title"], first["body"]) == ("posted change 3", "Line one\n\nLine two")
    assert (first["is_merge"], first["parent_count"]) == (True, 2)
    assert first["branches"] == ["main", "release"]
    assert (first["kind"], first["source"]) == ("commit", "ingested")
    assert (entries[1]["additions"], entries[1]["deletions"], entries[1]["files_changed"]) == (
        2,
        1,
        2,
    )


def test_already_stored_commits_are_skipped_within_and_across_batches(api: Api) -> None:
    track_agents(api, 9102, "ingest/duplicates")
    key = api.key("agent")
    first = post_batch(api, 9102, key, [posted(2), posted(1), posted(1)])
    assert first.json() == {"total": 3, "inserted": 2, "skipped": 1, "last_ingested_sha": sha_of(2)}

    again = post_batch(api, 9102, key, [posted(4), posted(3), posted(2), posted(1)])
    assert again.json() == {"total": 4, "inserted": 2, "skipped": 2, "last_ingested_sha": sha_of(4)}

    nothing_new = post_batch(api, 9102, key, [posted(4), posted(3)])
    assert nothing_new.status_code == 201
    assert nothing_new.json() == {
        "total": 2,
        "inserted": 0,
        "skipped": 2,
        "last_ingested_sha": sha_of(4),
    }
    assert [entry["sha"] for entry in listed(api, 9102)] == [sha_of(n) for n in (4, 3, 2, 1)]


def test_an_upper_case_sha_is_the_same_commit_in_lower_case(api: Api) -> None:
    track_agents(api, 9110, "ingest/case")
    key = api.key("agent")
    assert post_batch(api, 9110, key, [posted(0xABC)]).json()["inserted"] == 1
    again = post_batch(api, 9110, key, [posted(0xABC, sha=sha_of(0xABC).upper())])
    assert again.json()["skipped"] == 1
    assert [entry["sha"] for entry in listed(api, 9110)] == [sha_of(0xABC)]


_INVALID_IDS = itertools.count(9200)


@pytest.mark.parametrize(
    ("change", "where", "why"),
    [
        ({"sha": "g" * 40}, "sha", "40 hexadecimal digits"),
        ({"sha": "a" * 39}, "sha", "40 hexadecimal digits"),
        ({"sha": "a" * 41}, "sha", "40 hexadecimal digits"),
        ({"authored_at": "2024-05-01T09:30:00"}, "authored_at", "timezone"),
        ({"committed_at": 1714555800}, "committed_at", "ISO 8601"),
        ({"committed_at": "9999-12-31T23:00:00-05:00"}, "committed_at", "years 1 to 9999"),
        ({"additions": -1}, "additions", "greater than or equal to 0"),
        ({"deletions": "3"}, "deletions", "integer"),
        ({"files_changed": 2**31}, "files_changed", "less than or equal"),
        ({"parent_count": 1.5}, "parent_count", "integer"),
        ({"is_merge": "no"}, "is_merge", "boolean"),
        ({"title": None}, "title", "string"),
        ({"signature": "gpg"}, "signature", "Extra inputs"),
        ({"author_email": None}, "author_email", "string"),
    ],
)
def test_one_invalid_commit_refuses_the_batch_naming_its_index_and_field(
    api: Api, change: dict[str, Any], where: str, why: str
) -> None:
    github_id = next(_INVALID_IDS)
    track_agents(api, github_id, f"ingest/invalid-{github_id}")
    batch = [posted(5), posted(4), {**posted(3), **change}, posted(2)]

    response = post_batch(api, github_id, api.key("agent"), batch)

    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith(f"commits[2].{where}: ")
    assert why in body["detail"]
    assert body["errors"][0]["loc"] == ["commits", 2, where]
    assert listed(api, github_id) == []  # nothing of the batch, not even commits 0 and 1


def test_a_batch_whose_500th_commit_is_bad_stores_none_of_its_1000(api: Api) -> None:
    track_agents(api, 9103, "ingest/atomic")
    batch = [posted(n) for n in range(1000, 0, -1)]
    batch[499]["sha"] = "z" + batch[499]["sha"][1:]

    response = post_batch(api, 9103, api.key("write"), batch)

    assert response.status_code == 422
    assert response.json()["detail"] == "commits[499].sha: not a commit id of 40 hexadecimal digits"
    assert summary(api, 9103)["total_commits"] == 0
    batch[499]["sha"] = sha_of(501)
    assert post_batch(api, 9103, api.key("write"), batch).json()["inserted"] == 1000


def test_a_batch_holds_1_to_1000_commits(api: Api) -> None:
    track_agents(api, 9104, "ingest/sizes")
    key = api.key("agent")
    too_many = post_batch(api, 9104, key, [posted(n) for n in range(1001, 0, -1)])
    assert too_many.status_code == 422
    assert too_many.json()["detail"].startswith("commits: ")
    assert "at most 1000" in too_many.json()["detail"]
    empty = post_batch(api, 9104, key, [])
    assert empty.status_code == 422
    assert "at least 1" in empty.json()["detail"]
    for malformed in ({}, {"commits": "none"}, {"commits": [posted(1)], "extra": True}):
        response = api.post("/repositories/9104/commits", key, json=malformed)
        assert response.status_code == 422, malformed
    not_json = api.post(
        "/repositories/9104/commits",
        key,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert summary(api, 9104)["total_commits"] == 0


def test_a_body_over_32_mib_is_413(api: Api) -> None:
    track_agents(api, 9105, "ingest/huge")
    huge = posted(1, body="x" * (33 * 1024 * 1024))
    response = post_batch(api, 9105, api.key("agent"), [huge])
    assert response.status_code == 413
    assert summary(api, 9105)["total_commits"] == 0
    long_message = post_batch(api, 9105, api.key("agent"), [posted(1, body="y" * 100_000)])
    assert long_message.status_code == 201  # within the limit: stored, its body cut
    assert len(listed(api, 9105)[0]["body"]) == 16_384


def test_an_unknown_repository_is_404(api: Api) -> None:
    response = post_batch(api, 9999, api.key("agent"), [posted(1)])
    assert response.status_code == 404
    assert "9999" in response.json()["detail"]
    assert api.get("/repositories/9999/ingestion", api.key("agent")).status_code == 404


def test_the_ingestion_summary_tells_the_last_posted_commit(api: Api) -> None:
    track_agents(api, 9106, "ingest/summary")
    agent = api.key("agent")
    assert summary(api, 9106, agent) == {
        "github_id": 9106,
        "sync_method": "agent",
        "total_commits": 0,
        "last_ingested_sha": None,
        "last_ingested_at": None,
    }
    before = datetime.now(UTC)
    post_batch(api, 9106, agent, [posted(2), posted(1)])
    record(api, 9106, [row(3)], seen_at=datetime.now(UTC) + timedelta(seconds=5))  # a pass's

    after = summary(api, 9106, agent)
    assert after["total_commits"] == 3  # every commit of the repository's feed
    assert after["last_ingested_sha"] == sha_of(2)  # the newest posted, not the pass's
    last_at = datetime.fromisoformat(after["last_ingested_at"])
    assert before - timedelta(seconds=1) <= last_at <= datetime.now(UTC)
    assert summary(api, 9106, api.key("read")) == after


def test_who_may_post_and_read_ingestion(api: Api) -> None:
    track_agents(api, 9107, "ingest/scopes")
    agent, write, read, feed = (api.key(scope) for scope in ("agent", "write", "read", "feed"))
    assert post_batch(api, 9107, agent, [posted(1)]).status_code == 201
    assert post_batch(api, 9107, write, [posted(2)]).status_code == 201
    assert post_batch(api, 9107, api.key("admin"), [posted(3)]).status_code == 201
    for refused_key in (read, feed):
        refused = post_batch(api, 9107, refused_key, [posted(4)])
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this key lacks the 'agent' or 'write' scope"
    assert post_batch(api, 9107, "esk_wrong_key", [posted(4)]).status_code == 401
    assert summary(api, 9107)["total_commits"] == 3

    assert api.get("/repositories/9107/ingestion", agent).status_code == 200
    assert api.get("/repositories/9107/ingestion", read).status_code == 200
    assert api.get("/repositories/9107/ingestion", feed).status_code == 403
    for path in ("/commits", "/repositories", "/repositories/9107", "/summary"):
        assert api.get(path, agent).status_code == 403, path
        assert api.get(path, feed).status_code == 403, path


def mirrored_by_the_server(api: Api, owner: str, name: str) -> int:
    """A repository added by hand and mirrored by the server's workers (``server`` mode)."""
    repo = api.world.github.create_repo(owner, name)
    write = api.key("write")
    added = api.post("/repositories", write, json={"full_name": f"{owner}/{name}"})
    assert added.status_code == 201, added.text
    assert added.json()["sync_method"] == "server"
    wait_for_attempts(api, write, repo.id, 1)
    return int(repo.id)


def test_no_key_posts_commits_to_a_repository_the_server_mirrors(api: Api) -> None:
    """Its feed is what the server's passes record: a made-up commit would stand among them,
    and one posted with a real commit's sha before the pass found it would take its place."""
    github_id = mirrored_by_the_server(api, "served", "feed")
    real = api.world.github.commit(
        "served/feed", "main", {"news.txt": b"news\n"}, message="The real change"
    )
    made_up = posted(0xBAD, title="A made-up change")
    real_sha_first = posted(0xBAD + 1, sha=real, title="Not what was committed")
    feed_before = listed(api, github_id)
    keys = {scope: api.key(scope) for scope in ("agent", "write", "admin")}

    for scope, key in keys.items():
        for commit in (made_up, real_sha_first):
            refused = post_batch(api, github_id, key, [commit])
            assert refused.status_code == 403, scope
            assert refused.json() == {
                "detail": f"repository {github_id} is mirrored by the server, not by an agent: "
                "the server records its commits from its own mirror passes; nothing of the "
                "batch was stored",
                "github_id": github_id,
                "sync_method": "server",
            }

    assert listed(api, github_id) == feed_before
    prefixes = [
        line["key_prefix"]
        for line in api.served.events("commits.refused")
        if line["github_id"] == github_id
    ]
    assert sorted(prefixes) == sorted(key.split("_")[1] for key in keys.values() for _ in "ab")
    synced = api.post(f"/repositories/{github_id}/sync", keys["write"])
    assert synced.status_code == 202
    wait_for_attempts(api, keys["write"], github_id, 2)
    [entry] = [entry for entry in listed(api, github_id) if entry["sha"] == real]
    assert (entry["title"], entry["source"]) == ("The real change", "pass")
    assert sha_of(0xBAD) not in [entry["sha"] for entry in listed(api, github_id)]
    assert summary(api, github_id)["last_ingested_sha"] is None


def test_an_agent_key_learns_only_the_sync_method_of_a_server_repositorys_feed(
    api: Api,
) -> None:
    api.track(9111, "served/private-name")
    record(api, 9111, [row(1)], seen_at=datetime.now(UTC))  # a pass's

    answer = api.get("/repositories/9111/ingestion", api.key("agent"))

    assert answer.status_code == 403
    assert answer.json() == {
        "detail": "repository 9111 is mirrored by the server, not by an agent: what its feed "
        "holds is shown to keys of scope read only",
        "github_id": 9111,
        "sync_method": "server",
    }
    assert "private-name" not in answer.text
    assert summary(api, 9111, api.key("read"))["total_commits"] == 1
    assert summary(api, 9111, api.key("read", "agent"))["total_commits"] == 1


def test_each_batch_is_logged_once_with_its_counts_and_the_key_prefix_only(api: Api) -> None:
    track_agents(api, 9108, "ingest/logged")
    key = api.key("agent")
    post_batch(api, 9108, key, [posted(2), posted(1), posted(1)])

    def logged_lines() -> list[dict[str, Any]]:
        events = api.served.events("commits.ingested")
        return [line for line in events if line["github_id"] == 9108]

    wait_for(logged_lines, 10)  # the server's log is read as it comes, after the answer
    time.sleep(0.2)  # a second line, were there one, would come at once
    logged = logged_lines()
    assert len(logged) == 1
    assert (logged[0]["total"], logged[0]["inserted"], logged[0]["skipped"]) == (3, 2, 1)
    assert logged[0]["client_version"] == "epicstar-agent 1.0"
    prefix = key.split("_")[1]
    assert logged[0]["key_prefix"] == prefix
    assert key not in api.served.log_text()
    assert key.split("_")[2] not in api.served.log_text()


def test_ingested_commits_are_not_audited(api: Api) -> None:
    track_agents(api, 9109, "ingest/not-audited")
    post_batch(api, 9109, api.key("agent"), [posted(1)])
    entries = api.get("/audit", api.key("admin"), params={"per_page": 100}).json()["items"]
    about_it = [
        entry
        for entry in entries
        if "9109" in str(entry["target"]) + str(entry["details"]) or "commit" in entry["action"]
    ]
    assert not about_it  # (not `"9109" in str(entry)`: a timestamp may hold those digits)
