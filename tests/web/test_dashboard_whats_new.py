"""``/whats-new``: new commits, tags and first mirrors of every repository, newest first,
filtered by repository, author and words in the URL, and how to subscribe to the feed."""

from __future__ import annotations

import re
from datetime import timedelta

from epicstar.feed import FeedRow
from epicstar.state.database import Database
from epicstar.state.models import FeedKind, utcnow
from tests.web.conftest import MakeWeb
from tests.web.dashboard_client import action_forms, browser
from tests.web.test_feed_atom import add, commit, repository

HOSTILE = '<script>alert("x")</script>'
ROW = re.compile(r'<tr data-entry-id="(\d+)" data-github-id="(\d+)">')


def shown_repositories(html: str) -> list[int]:
    return [int(github_id) for _entry, github_id in ROW.findall(html)]


def test_entries_show_newest_first_with_what_a_reader_needs(
    db: Database, make_web: MakeWeb
) -> None:
    repository(db, 1, "octo/hello")
    repository(db, 2, "calm/tools")
    now = utcnow()
    mirror = FeedRow(kind=FeedKind.MIRROR, sha="c" * 40, ref="main", title="start")
    add(db, 2, mirror, now - timedelta(hours=3))
    add(db, 1, commit("a", title=f"Fix {HOSTILE}", body=HOSTILE), now - timedelta(hours=2))
    add(db, 1, FeedRow(kind=FeedKind.TAG, sha="a" * 40, ref="v1.2"), now - timedelta(minutes=5))

    shown = browser(make_web, db, "read").get("/whats-new")

    assert shown.status_code == 200
    html = shown.text
    assert shown_repositories(html) == [1, 1, 2]
    assert '<a href="/whats-new" aria-current="page">What&#39;s new</a>' in html
    assert "tag v1.2" in html
    assert ">new mirror<" in html
    assert "now mirrored" in html
    assert HOSTILE not in html
    assert "Fix &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert '<a href="/repositories/1">octo/hello</a>' in html
    assert f'href="https://github.com/octo/hello/commit/{"a" * 40}"' in html
    assert f"<code>{'a' * 7}</code>" in html
    assert "Ada Lovelace" in html
    assert "ada@example.com" not in html
    assert '<span class="tag">fix/parser</span>' in html
    assert '+12</span> <span class="deleted">\u22123</span>' in html
    assert "2 files" in html
    assert re.search(
        r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d [\d:]+ UTC">5 min ago</time>', html
    )
    assert action_forms(html) == 0


def test_the_page_filters_by_repository_author_and_words(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    repository(db, 2, "calm/tools")
    now = utcnow()
    add(db, 1, commit("a", title="Fix the parser"), now - timedelta(hours=2))
    grace = {"author_name": "Grace Hopper", "author_email": "grace@example.com"}
    add(db, 2, commit("b", title="Speed up", **grace), now - timedelta(hours=1))
    reader = browser(make_web, db, "read")

    assert shown_repositories(reader.get("/whats-new?repository=CALM/Tools").text) == [2]
    assert shown_repositories(reader.get("/whats-new?repository=1").text) == [1]
    assert shown_repositories(reader.get("/whats-new?author=grace+hopper").text) == [2]
    assert shown_repositories(reader.get("/whats-new?author=ada@example.com").text) == [1]
    assert shown_repositories(reader.get("/whats-new?q=parser").text) == [1]
    nothing = reader.get("/whats-new?q=nothing+like+it")
    assert shown_repositories(nothing.text) == []
    assert "Nothing matches these filters." in nothing.text
    unknown = reader.get(f"/whats-new?repository={HOSTILE}")
    assert unknown.status_code == 200
    assert shown_repositories(unknown.text) == []
    assert "No tracked repository is named" in unknown.text
    assert HOSTILE not in unknown.text
    # The filters stay in the form and in the feed's address shown for subscribing.
    filtered = reader.get("/whats-new?repository=calm/tools&q=speed").text
    assert 'value="calm/tools"' in filtered
    assert "http://epicstar.test/feed.atom?key=…&amp;repository=2&amp;q=speed" in filtered


def test_pages_go_from_newer_to_older(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    now = utcnow()
    for n in range(55):
        add(db, 1, commit("a", sha=f"{n:040x}", title=f"n{n}"), now - timedelta(minutes=n))
    reader = browser(make_web, db, "read")

    first = reader.get("/whats-new").text
    second = reader.get("/whats-new?page=2").text

    assert len(ROW.findall(first)) == 50
    assert len(ROW.findall(second)) == 5
    assert 'href="/whats-new?page=2" rel="next"' in first
    assert 'href="/whats-new?page=1" rel="prev"' in second
    assert ">n54<" in second


def test_subscribing_is_explained_without_showing_a_key(db: Database, make_web: MakeWeb) -> None:
    reader = browser(make_web, db, "read")
    admin = browser(make_web, db, "admin")

    as_reader = reader.get("/whats-new").text
    as_admin = admin.get("/whats-new").text

    assert "http://epicstar.test/feed.atom?key=…" in as_reader
    assert "epicstar keys create --name reader --scope feed" in as_reader
    assert 'href="/keys?scope=feed"' not in as_reader
    assert 'href="/keys?scope=feed"' in as_admin
    assert not re.search(r"esk_[a-z0-9]+_[A-Za-z0-9]{20}", as_reader + as_admin)
    # The link leads to a form with the feed scope chosen, which an admin may grant.
    form = admin.get("/keys?scope=feed").text
    assert re.search(r'<input type="checkbox" name="scopes" value="feed" checked>', form)
    created = admin.act("/keys", name="reader", scopes="feed", expiry="365")
    assert created.status_code == 201
    key = re.search(r'<code id="new-key">(esk_[^<]+)</code>', created.text)
    assert key is not None
    assert make_web().get("/feed.atom", params={"key": key[1]}).status_code == 200
