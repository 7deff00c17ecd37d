"""``/activity``: every repository's attempts, newest first, filtered by outcome and age,
a page at a time, with the filters kept in the URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from epicstar.state.database import Database
from epicstar.state.models import AttemptOutcome, SyncAttempt, utcnow
from tests.web.conftest import MakeWeb
from tests.web.dashboard_client import action_forms, browser, repository

HOSTILE = '<script>alert("name")</script>'
ROW = re.compile(r'<tr data-attempt-id="(\d+)" data-github-id="(\d+)">')


def attempt(
    db: Database, github_id: int, started_at: datetime, outcome: str | None, error: str = ""
) -> int:
    with db.session() as session:
        row = SyncAttempt(
            repository_id=github_id,
            trigger="schedule",
            started_at=started_at,
            finished_at=started_at + timedelta(seconds=3) if outcome else None,
            outcome=outcome,
            error=error or None,
        )
        session.add(row)
        session.flush()
        return row.id


def rows(html: str) -> list[tuple[int, int]]:
    return [(int(attempt_id), int(github_id)) for attempt_id, github_id in ROW.findall(html)]


def test_every_repositorys_attempts_show_newest_first_with_their_repository(
    db: Database, make_web: MakeWeb
) -> None:
    repository(db, 1, "calm/one")
    repository(db, 2, f"evil/{HOSTILE}")
    now = utcnow()
    oldest = attempt(db, 1, now - timedelta(days=3), AttemptOutcome.MIRRORED)
    failed = attempt(db, 2, now - timedelta(hours=2), AttemptOutcome.FAILED, f"boom {HOSTILE}")
    running = attempt(db, 1, now - timedelta(seconds=5), None)

    shown = browser(make_web, db, "read").get("/activity")

    assert shown.status_code == 200
    assert rows(shown.text) == [(running, 1), (failed, 2), (oldest, 1)]
    assert 'data-live="activity"' in shown.text
    assert "3 attempts" in shown.text
    assert "outcome-running" in shown.text
    assert "outcome-failed" in shown.text
    assert HOSTILE not in shown.text
    assert "evil/&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in shown.text
    assert "boom &lt;script&gt;" in shown.text


def test_filters_by_outcome_and_age_live_in_the_url(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "calm/one")
    now = utcnow()
    recent_failure = attempt(db, 1, now - timedelta(minutes=10), AttemptOutcome.FAILED)
    old_failure = attempt(db, 1, now - timedelta(days=2), AttemptOutcome.FAILED)
    recent_mirror = attempt(db, 1, now - timedelta(minutes=20), AttemptOutcome.MIRRORED)
    visitor = browser(make_web, db, "read")

    failures = visitor.get("/activity?outcome=failed")
    this_hour = visitor.get("/activity?since=hour")
    both = visitor.get("/activity?outcome=failed&since=day")
    nonsense = visitor.get("/activity?outcome=%3Cb%3E&since=forever")

    assert [a for a, _ in rows(failures.text)] == [recent_failure, old_failure]
    assert [a for a, _ in rows(this_hour.text)] == [recent_failure, recent_mirror]
    assert [a for a, _ in rows(both.text)] == [recent_failure]
    assert '<option value="failed" selected>' in both.text
    assert '<option value="day" selected>' in both.text
    assert "1 attempt matches" in both.text
    assert len(rows(nonsense.text)) == 3  # an unknown filter means no filter, never an error


def test_many_attempts_come_a_page_at_a_time_keeping_the_filter(
    db: Database, make_web: MakeWeb
) -> None:
    repository(db, 1, "calm/one")
    start = datetime.now(UTC) - timedelta(hours=3)
    made = [
        attempt(db, 1, start + timedelta(minutes=minute), AttemptOutcome.UNCHANGED)
        for minute in range(55)
    ]
    visitor = browser(make_web, db, "read")

    first = visitor.get("/activity?outcome=unchanged")
    second = visitor.get("/activity?outcome=unchanged&page=2")

    assert [a for a, _ in rows(first.text)] == made[::-1][:50]
    assert [a for a, _ in rows(second.text)] == made[::-1][50:]
    assert "Page 1 of 2" in first.text
    assert 'href="/activity?outcome=unchanged&amp;page=2" rel="next"' in first.text


def test_a_read_key_sees_activity_without_a_single_action(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "calm/one")
    attempt(db, 1, utcnow(), AttemptOutcome.FAILED)

    shown = browser(make_web, db, "read").get("/activity")

    assert shown.status_code == 200
    assert action_forms(shown.text) == 0


def test_without_a_session_activity_sends_the_browser_to_sign_in(make_web: MakeWeb) -> None:
    answer = make_web().get("/activity?outcome=failed")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Factivity%3Foutcome%3Dfailed"
