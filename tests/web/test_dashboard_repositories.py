"""The overview, the repositories table and their actions, in process: what a browser is sent."""

from __future__ import annotations

import re
from datetime import timedelta

import anyio
import pytest

from epicstar.state.audit import entries
from epicstar.state.database import Database
from epicstar.state.models import Repository, RepoState, SyncAttempt, SyncStatus, utcnow
from epicstar.web.dashboard.access import SCRIPT_HEADER
from epicstar.web.dashboard.live import Changes
from tests.web.conftest import LONG_AGO, MakeWeb, Web, tracked
from tests.web.dashboard_client import csrf_of, signed_in

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Work:
    def __init__(self) -> None:
        self.mirrored: list[int] = []

    def mirror_now(self, github_id: int, *, trigger: str, force: bool = False) -> None:
        self.mirrored.append(github_id)

    def poll_now(self, *, full: bool) -> None:
        raise AssertionError("not asked for here")


def some_repositories(db: Database) -> None:
    tracked(db, github_id=1, full_name="alice/zeta", description=HOSTILE)
    tracked(
        db,
        github_id=2,
        full_name="Bob/alpha",
        onedev_path="github/Bob/alpha",
        sync_status=SyncStatus.FAILED,
        error="push refused: <b>quota</b>",
        last_synced_at=LONG_AGO + timedelta(days=5),
        last_attempt_at=utcnow(),
    )
    tracked(
        db,
        github_id=3,
        full_name="carol/middle",
        onedev_path="github/carol/middle",
        state=RepoState.SOURCE_GONE,
        state_reason="GitHub answered 404",
        last_synced_at=None,
    )


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-github-id="(\d+)"', html)]


def cell(html: str, github_id: int, field: str) -> str:
    row = re.search(rf'<tr data-github-id="{github_id}">(.*?)</tr>', html, re.S)
    assert row is not None
    found = re.search(rf'data-field="{field}">(.*?)</td>', row.group(1), re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.fixture
def admin_web(db: Database, make_web: MakeWeb) -> Web:
    some_repositories(db)
    web = make_web(api_work=Work(), onedev_url="https://onedev.example")
    signed_in(web, db, "admin")
    return web


def test_the_table_lists_filters_searches_sorts_and_pages_in_the_url(admin_web: Web) -> None:
    everything = admin_web.get("/repositories").text
    assert row_ids(everything) == [1, 2, 3]  # by name, any case: alice/, Bob/, carol/
    assert row_ids(admin_web.get("/repositories?sort=-name").text) == [3, 2, 1]
    assert cell(everything, 2, "state") == "active"
    assert cell(everything, 2, "sync_status") == "failed"
    assert cell(everything, 3, "state") == "source gone"
    assert row_ids(admin_web.get("/repositories?status=failed").text) == [2]
    assert row_ids(admin_web.get("/repositories?state=source_gone").text) == [3]
    assert row_ids(admin_web.get("/repositories?q=ALPH").text) == [2]
    assert row_ids(admin_web.get("/repositories?q=%25").text) == []  # a literal %, not a wildcard
    newest = admin_web.get("/repositories?sort=-last_synced_at").text
    assert row_ids(newest) == [2, 1, 3]  # never synced comes last either way
    assert row_ids(admin_web.get("/repositories?sort=last_synced_at").text) == [1, 2, 3]
    first = admin_web.get("/repositories?per_page=25&page=1").text
    assert "Page" not in first  # one page only
    nonsense = admin_web.get("/repositories?state=nope&sort=drop&page=-3&per_page=7")
    assert nonsense.status_code == 200  # ignored, not an error page
    assert row_ids(nonsense.text) == [1, 2, 3]


def test_links_go_to_github_and_onedev(admin_web: Web) -> None:
    html = admin_web.get("/repositories").text
    assert 'href="https://onedev.example/github/Bob/alpha"' in html
    assert 'href="/repositories/2"' in html


def test_text_from_github_is_shown_as_text_on_every_page(admin_web: Web) -> None:
    for path in ("/", "/repositories", "/repositories/1", "/repositories/2"):
        html = admin_web.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<b>quota</b>" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in admin_web.get("/repositories").text


def test_pages_forbid_inline_scripts_and_framing(admin_web: Web) -> None:
    for path in ("/", "/repositories", "/repositories/2", "/login"):
        answer = admin_web.get(path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert re.search(r"<script(?![^>]*\ssrc=)", answer.text) is None  # no inline script
        assert " style=" not in answer.text
        assert " onclick=" not in answer.text


def test_the_overview_counts_and_lists_what_needs_attention(admin_web: Web, db: Database) -> None:
    with db.session() as session:
        session.add(
            SyncAttempt(
                repository_id=2,
                trigger="tick",
                started_at=utcnow(),
                finished_at=utcnow(),
                outcome="failed",
                error="fatal: <remote> hung up",
            )
        )
    html = admin_web.get("/").text
    assert re.search(r'data-count-state="active"><span class="card-number">2<', html)
    assert re.search(r'data-count-status="failed"><span class="card-number">1<', html)
    attention = html.split('id="attention-heading"')[1].split('id="latest-heading"')[0]
    assert row_ids(attention) == [2, 3]  # the failing one, then the one gone from GitHub
    assert "push refused: &lt;b&gt;quota&lt;/b&gt;" in attention
    assert "GitHub answered 404" in attention
    assert "fatal: &lt;remote&gt; hung up" in html


def test_a_write_key_syncs_and_retries_and_each_is_audited(admin_web: Web, db: Database) -> None:
    page = admin_web.get("/repositories")
    csrf = csrf_of(page)
    answer = admin_web.form(
        "/repositories/2/retry", {"csrf": csrf, "next": "/repositories?status=failed"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/repositories?status=failed"
    shown = admin_web.get(answer.headers["location"]).text
    assert "Retry asked for" in shown  # the message, shown once
    assert "Retry asked for" not in admin_web.get("/repositories").text
    scripted = admin_web.form("/repositories/1/sync", {"csrf": csrf}, headers={SCRIPT_HEADER: "1"})
    assert scripted.status_code == 202
    assert scripted.json() == {"message": "Sync asked for: the workers mirror it now."}
    refused = admin_web.form("/repositories/3/sync", {"csrf": csrf}, headers={SCRIPT_HEADER: "1"})
    assert refused.status_code == 409  # gone from GitHub: not mirrored
    assert "not active" in refused.json()["message"]
    work = admin_web.app.state.api.work
    assert work.mirrored == [2, 1]
    with db.session() as session:
        logged, _ = entries(session, action=None, offset=0, limit=10)
        assert [(entry.action, entry.target) for entry in logged[:2]] == [
            ("repository.sync_requested", "repository 1 (alice/zeta)"),
            ("repository.retry_requested", "repository 2 (Bob/alpha)"),
        ]


def test_bulk_actions_act_on_each_selected_repository(admin_web: Web, db: Database) -> None:
    csrf = csrf_of(admin_web.get("/repositories"))
    answer = admin_web.form(
        "/repositories/bulk",
        {"csrf": csrf, "action": "sync", "github_id": ["1", "2", "3"]},
        headers={SCRIPT_HEADER: "1"},
    )
    assert answer.status_code == 202
    message = answer.json()["message"]
    assert message.startswith("Sync asked for 2 of 3 repositories. Not done: carol/middle is")
    assert admin_web.app.state.api.work.mirrored == [1, 2]


def test_stopping_mirroring_keeps_the_project_and_says_who(admin_web: Web, db: Database) -> None:
    csrf = csrf_of(admin_web.get("/repositories/1"))
    answer = admin_web.form("/repositories/1/remove", {"csrf": csrf}, headers={SCRIPT_HEADER: "1"})
    assert answer.status_code == 200
    page = admin_web.get("/repositories/1").text
    assert "excluded" in page
    assert "removed through the dashboard by API key &#39;in process&#39;" in page


def test_a_read_key_sees_no_action_and_its_forged_posts_are_refused(
    db: Database, make_web: MakeWeb
) -> None:
    some_repositories(db)
    work = Work()
    web = make_web(api_work=work)
    signed_in(web, db, "read")
    pages = {path: web.get(path).text for path in ("/", "/repositories", "/repositories/2")}
    for path, html in pages.items():
        assert 'method="post" action="/repositories' not in html, path
        assert "/stars/poll" not in html, path
        assert 'name="github_id"' not in html, path
    csrf = csrf_of(web.get("/"))  # the sign-out form's token is the session's
    for path, form in (
        ("/repositories/2/sync", {}),
        ("/repositories/2/retry", {}),
        ("/repositories/2/remove", {}),
        ("/repositories/bulk", {"action": "sync", "github_id": "2"}),
        ("/repositories", {"full_name": "octo/cat"}),
        ("/stars/poll", {}),
    ):
        answer = web.form(path, {"csrf": csrf, **form})
        assert answer.status_code == 403, path
        assert "lacks the &#39;write&#39; scope" in answer.text
    assert work.mirrored == []
    with db.session() as session:
        logged, _ = entries(session, action=None, offset=0, limit=5)
        assert [entry.action for entry in logged] == ["key.created"]  # only the test's key


def test_a_post_without_the_session_token_or_from_another_site_is_refused(
    admin_web: Web, db: Database
) -> None:
    csrf = csrf_of(admin_web.get("/repositories"))
    assert admin_web.form("/repositories/2/sync", {}).status_code == 403
    assert admin_web.form("/repositories/2/sync", {"csrf": "0" * 64}).status_code == 403
    cross = admin_web.form(
        "/repositories/2/sync", {"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    assert admin_web.app.state.api.work.mirrored == []
    assert admin_web.form("/repositories/2/sync", {"csrf": csrf}).status_code == 303


def test_an_unknown_repository_is_a_not_found_page(admin_web: Web) -> None:
    for path in ("/repositories/999", "/repositories/abc", "/repositories/99999999999999999999"):
        answer = admin_web.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text


def test_the_fingerprint_moves_with_every_change_a_page_shows(db: Database) -> None:
    changes = Changes(db, interval=0.0)

    def now() -> str:
        return anyio.run(changes.fingerprint)

    before = now()
    tracked(db)
    after_add = now()
    assert after_add != before
    with db.session() as session:
        session.add(SyncAttempt(repository_id=186853002, trigger="tick", started_at=utcnow()))
    after_attempt = now()
    assert after_attempt != after_add
    with db.session() as session:
        row = session.get(Repository, 186853002)
        assert row is not None
        row.sync_status = SyncStatus.IN_PROGRESS
    assert now() != after_attempt


def test_missing_lfs_objects_and_the_wiki_mirror_are_shown(db: Database, make_web: MakeWeb) -> None:
    tracked(
        db,
        github_id=40,
        full_name="octo/models",
        onedev_path="github/octo/models",
        uses_lfs=True,
        lfs_missing={
            "count": 3,
            "objects": [
                {"oid": "a" * 64, "size": 9, "path": "a.bin", "reason": "GitHub does not have it"},
                {"oid": "b" * 64, "size": 9, "path": "b.bin", "reason": "GitHub does not have it"},
                {"oid": "c" * 64, "size": 9, "path": "c.bin", "reason": HOSTILE},
            ],
        },
        wiki_state="mirrored",
        wiki_path="github/octo/models/wiki",
        wiki_synced_at=LONG_AGO,
    )
    tracked(db, github_id=41, full_name="octo/plain", onedev_path="github/octo/plain")
    web = make_web(api_work=Work(), onedev_url="https://onedev.example")
    signed_in(web, db, "read")

    listing = web.get("/repositories").text
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert cell(listing, 40, "error") == (
        f"3 LFS objects not mirrored: 2: GitHub does not have it; 1: {escaped}"
    )
    assert cell(listing, 41, "error") == ""

    page = web.get("/repositories/40").text
    assert "Not everything is mirrored" in page
    assert "<li>2: GitHub does not have it</li>" in page
    assert "<script>alert" not in page
    assert "3 not mirrored" in page
    assert 'href="https://onedev.example/github/octo/models/wiki"' in page

    plain = web.get("/repositories/41").text
    assert "Not everything is mirrored" not in plain
    assert "none found" in plain
    assert "not looked for yet" in plain
