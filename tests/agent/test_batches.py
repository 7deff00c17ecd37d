"""Commits go to the server in batches of at most 1,000 (and a bounded size), order kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from epicstar.agent.delivery import BATCH_COMMITS, batches, commit_json
from epicstar.feed.store import BODY_LIMIT
from epicstar.mirror.history import CommitInfo


def commit(number: int, body: str = "") -> dict[str, object]:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    info = CommitInfo(
        sha=f"{number:040x}",
        parents=("a" * 40, "b" * 40),
        author_name="Ada",
        author_email="Ada@Example.com ",
        authored_at=when,
        committer_name="Bob",
        committer_email="bob@example.com",
        committed_at=when,
        title=f"change {number}",
        body=body,
        additions=3,
        deletions=1,
        files_changed=2,
        branches=["main"],
    )
    return commit_json(info)


def test_batches_hold_at_most_a_thousand_in_order() -> None:
    commits = [commit(n) for n in range(2_501)]
    cut = list(batches(commits))
    assert [len(batch) for batch in cut] == [1_000, 1_000, 501]
    assert [c for batch in cut for c in batch] == commits
    assert max(len(batch) for batch in cut) <= BATCH_COMMITS


def test_long_messages_cut_batches_earlier_and_bodies_are_capped() -> None:
    commits = [commit(n, body="x" * 100_000) for n in range(300)]
    assert all(len(str(c["body"])) == BODY_LIMIT for c in commits)
    cut = list(batches(commits, max_bytes=1_000_000))
    assert all(len(json.dumps(batch)) <= 1_000_000 for batch in cut)
    assert sum(len(batch) for batch in cut) == 300


def test_a_commit_as_the_ingestion_api_takes_it() -> None:
    sent = commit(7)
    assert sent["sha"] == "0" * 39 + "7"
    assert sent["authored_at"] == "2026-01-01T00:00:00+00:00"
    assert sent["is_merge"] is True
    assert sent["parent_count"] == 2
    assert sent["branches"] == ["main"]
    assert sent["author_email"] == "Ada@Example.com"  # trimmed; the server lower-cases
