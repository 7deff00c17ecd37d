"""Pages of repositories are chosen by id and read afterwards: each comes in its page's
order, whatever order the ids have, and the overview's list counts every match."""

from __future__ import annotations

from datetime import timedelta

from epicstar.state import repositories, summary
from epicstar.state.database import Database
from epicstar.state.models import Repository, RepoState, SyncStatus, utcnow


def _track(db: Database, count: int) -> None:
    """Ids in the reverse of the names' order; the newest sync on the middle names."""
    now = utcnow()
    with db.session() as session:
        for number in range(count):
            session.add(
                Repository(
                    github_id=1000 - number,
                    full_name=f"owner/Repo-{number:02d}",
                    onedev_path=f"github/owner/repo-{number:02d}",
                    state=RepoState.SOURCE_GONE if number % 5 == 0 else RepoState.ACTIVE,
                    sync_status=SyncStatus.FAILED if number % 3 == 0 else SyncStatus.COMPLETED,
                    last_synced_at=now - timedelta(hours=abs(number - count // 2)),
                    last_attempt_at=now - timedelta(minutes=number),
                )
            )


def test_a_page_keeps_its_order_however_deep(db: Database) -> None:
    _track(db, 30)
    with db.reading() as session:
        third, total = repositories.page_of(session, offset=20, limit=10)
        newest, _ = repositories.page_of(session, sort="-last_synced_at", limit=3)
    assert total == 30
    assert [row.full_name for row in third] == [f"owner/Repo-{n:02d}" for n in range(20, 30)]
    assert [row.full_name for row in newest] == ["owner/Repo-15", "owner/Repo-16", "owner/Repo-14"]


def test_needing_attention_lists_the_latest_attempted_and_counts_them_all(db: Database) -> None:
    _track(db, 30)
    # gone (every fifth) or active and failed (every third): the latest attempted first
    wanted = [n for n in range(30) if n % 5 == 0 or n % 3 == 0]
    with db.reading() as session:
        rows, total = summary.needing_attention(session, limit=4)
        none_beyond, _ = summary.needing_attention(session, limit=100)
    assert total == len(wanted)
    assert [row.full_name for row in rows] == [f"owner/Repo-{n:02d}" for n in wanted[:4]]
    assert len(none_beyond) == len(wanted)
