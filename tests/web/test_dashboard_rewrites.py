"""A repository's page lists what GitHub overwrote or deleted, and approves what it holds back,
in process: what a browser is sent."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from epicstar.state.audit import entries
from epicstar.state.database import Database
from epicstar.state.models import RefRewrite, RewriteStatus, SyncStatus
from epicstar.web.dashboard.access import SCRIPT_HEADER
from epicstar.web.dashboard.repository_pages import REWRITES_SHOWN
from tests.web.conftest import LONG_AGO, MakeWeb, tracked
from tests.web.dashboard_client import csrf_of, repository, signed_in
from tests.web.test_dashboard_repositories import Work

HOSTILE = 'refs/heads/"><script>alert(1)</script>'


def rewrite(db: Database, github_id: int, ref: str, hours: int, **fields: object) -> int:
    values: dict[str, object] = {
        "old_sha": "a" * 40,
        "new_sha": "b" * 40,
        "kind": "forced",
        "commits_lost": 1,
        "kept_as": f"refs/epicstar/rewritten/{hours}/{ref.removeprefix('refs/')}",
        "status": RewriteStatus.APPLIED,
    }
    values.update(fields)
    with db.session() as session:
        row = RefRewrite(
            repository_id=github_id,
            ref=ref,
            found_at=LONG_AGO + timedelta(hours=hours),
            **values,
        )
        session.add(row)
        session.flush()
        return row.id


def held_repository(db: Database) -> int:
    tracked(
        db,
        github_id=5,
        full_name="octo/held",
        sync_status=SyncStatus.HELD,
        held_refs={HOSTILE: "b" * 40},
    )
    rewrite(
        db,
        5,
        HOSTILE,
        2,
        status=RewriteStatus.HELD,
        commits_lost=100_000,
        commits_lost_partial=True,
    )
    return 5


def test_a_held_repository_is_approved_from_its_page(db: Database, make_web: MakeWeb) -> None:
    github_id = held_repository(db)
    work = Work()
    web = make_web(api_work=work)
    signed_in(web, db, "write")
    page = web.get(f"/repositories/{github_id}")
    html = page.text

    assert 'data-field="held"' in html
    assert f'action="/repositories/{github_id}/approve"' in html
    assert "<script>alert(1)</script>" not in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "100,000+" in html
    csrf = csrf_of(page)
    assert web.form(f"/repositories/{github_id}/approve", {}).status_code == 403
    cross = web.form(
        f"/repositories/{github_id}/approve",
        {"csrf": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert work.mirrored == []

    answer = web.form(
        f"/repositories/{github_id}/approve", {"csrf": csrf}, headers={SCRIPT_HEADER: "1"}
    )

    assert answer.status_code == 202
    assert answer.json()["message"].startswith("Approved 1 held ref: the workers mirror")
    assert work.mirrored == [github_id]
    with db.session() as session:
        [row] = session.scalars(select(RefRewrite).where(RefRewrite.repository_id == github_id))
        assert row.status == "approved"
        assert (row.approved_by or "").startswith("API key 'in process' (esk_")
        [entry], _total = entries(session, action="repository.rewrites_approved", offset=0, limit=5)
        assert (entry.target, entry.details) == ("repository 5 (octo/held)", {"refs": [HOSTILE]})
    after = web.get(f"/repositories/{github_id}").text
    assert 'data-field="held"' not in after
    assert "/approve" not in after

    again = web.form(
        f"/repositories/{github_id}/approve", {"csrf": csrf}, headers={SCRIPT_HEADER: "1"}
    )
    assert again.status_code == 409
    assert "nothing held back" in again.json()["message"]


def test_a_read_key_sees_what_is_held_but_no_approve_button(
    db: Database, make_web: MakeWeb
) -> None:
    github_id = held_repository(db)
    web = make_web(api_work=Work())
    signed_in(web, db, "read")
    html = web.get(f"/repositories/{github_id}").text

    assert 'data-field="held"' in html
    assert "/approve" not in html
    assert "a <code>write</code> key approves" in html


def test_the_page_shows_the_newest_rewrites_and_counts_the_rest(
    db: Database, make_web: MakeWeb
) -> None:
    repository(db, 6, "octo/busy")
    repository(db, 7, "octo/calm")
    for hour in range(REWRITES_SHOWN + 2):
        rewrite(db, 6, f"refs/heads/b{hour}", hour)
    web = make_web(api_work=Work())
    signed_in(web, db, "read")

    busy = web.get("/repositories/6").text
    shown = re.findall(r'<tr data-rewrite-id="(\d+)"', busy)
    assert len(shown) == REWRITES_SHOWN
    assert '<code title="refs/heads/b51">b51</code>' in busy  # the newest first
    assert 'title="refs/heads/b0"' not in busy
    assert 'title="refs/heads/b1"' not in busy
    assert "2 older ones are not shown here" in busy
    assert "epicstar restore octo/busy ID" in busy
    calm = web.get("/repositories/7").text
    assert "has not overwritten or deleted any of its branches or tags" in calm
    assert "data-rewrite-id" not in calm
