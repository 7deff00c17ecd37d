"""``GET /feed.atom``: the feed as Atom for feed readers, with a feed key in the URL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from epicstar.feed import FeedRow, store
from epicstar.state.database import Database
from epicstar.state.models import FeedKind, FeedSource
from tests.web.conftest import MakeWeb, Web, tracked
from tests.web.dashboard_client import new_key

ATOM = "{http://www.w3.org/2005/Atom}"
SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = '</title><script>alert("x")</script>'


def repository(db: Database, github_id: int, full_name: str, html_url: str | None = None) -> None:
    tracked(
        db,
        github_id=github_id,
        full_name=full_name,
        html_url=html_url if html_url is not None else f"https://github.com/{full_name}",
        onedev_path=f"github/mirror-{github_id}",
        onedev_project_id=github_id,
    )


def add(db: Database, github_id: int, row: FeedRow, seen_at: datetime) -> None:
    with db.session() as session:
        store(session, github_id, [row], source=FeedSource.PASS, seen_at=seen_at)


def commit(sha_digit: str, title: str = "Fix the parser", **fields: object) -> FeedRow:
    values: dict[str, object] = {
        "kind": FeedKind.COMMIT,
        "sha": sha_digit * 40,
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "authored_at": SEEN - timedelta(days=1),
        "committer_name": "Ada Lovelace",
        "committer_email": "ada@example.com",
        "committed_at": SEEN - timedelta(days=1),
        "title": title,
        "body": "It read past the end.",
        "additions": 12,
        "deletions": 3,
        "files_changed": 2,
        "branches": ["main", "fix/parser"],
    }
    values.update(fields)
    return FeedRow(**values)  # type: ignore[arg-type]


def feed(web: Web, key: str, **params: str) -> tuple[ET.Element, str]:
    """The parsed feed and its text, as a feed reader reads them."""
    answer = web.get("/feed.atom", params={"key": key, **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(answer.content), answer.text  # noqa: S314 - our own answer


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{ATOM}entry")


def text(element: ET.Element, name: str) -> str:
    found = element.find(f"{ATOM}{name}")
    assert found is not None, f"no <{name}>"
    return found.text or ""


def test_the_feed_is_atom_with_the_newest_entries_first(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    repository(db, 2, "calm/tools")
    add(db, 1, FeedRow(kind=FeedKind.MIRROR, sha="c" * 40, ref="main", title="start"), SEEN)
    add(db, 1, commit("a"), SEEN + timedelta(minutes=1))
    tag = FeedRow(kind=FeedKind.TAG, sha="a" * 40, ref="v1.2", title="Fix the parser")
    add(db, 2, tag, SEEN + timedelta(minutes=2))
    key = new_key(db, "feed")

    root, _raw = feed(make_web(), key)

    assert text(root, "id") == "urn:epicstar:feed"
    assert "What's new" in text(root, "title")
    assert text(root, "updated").startswith("2026-03-01T12:02:00")
    [self_link] = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href") == "http://epicstar.test/feed.atom"
    tagged, committed, mirrored = entries(root)
    assert text(tagged, "title") == "calm/tools: tag v1.2"
    assert text(committed, "title") == "octo/hello: Fix the parser"
    assert text(mirrored, "title") == "octo/hello: now mirrored"
    assert text(committed, "id") == f"urn:epicstar:1:commit::{'a' * 40}"
    assert text(tagged, "id") == f"urn:epicstar:2:tag:v1.2:{'a' * 40}"
    assert [link.get("href") for link in committed.findall(f"{ATOM}link")] == [
        f"https://github.com/octo/hello/commit/{'a' * 40}"
    ]
    assert [link.get("href") for link in tagged.findall(f"{ATOM}link")] == [
        "https://github.com/calm/tools/releases/tag/v1.2"
    ]
    assert text(committed, "updated").startswith("2026-03-01T12:01:00")
    assert text(committed, "published").startswith("2026-02-28T12:00:00")
    author = committed.find(f"{ATOM}author")
    assert author is not None
    assert text(author, "name") == "Ada Lovelace"
    assert author.find(f"{ATOM}email") is None
    content = committed.find(f"{ATOM}content")
    assert content is not None
    assert content.get("type") == "text"
    assert "Branches: fix/parser, main" in (content.text or "")
    assert "+12 \u22123, 2 files changed" in (content.text or "")
    assert "It read past the end." in (content.text or "")


def test_no_email_address_is_published(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    add(db, 1, commit("a", committer_name="Bot", committer_email="bot@example.org"), SEEN)

    _root, raw = feed(make_web(), new_key(db, "feed"))

    assert "@example" not in raw


def test_hostile_text_from_github_is_escaped_and_control_characters_dropped(
    db: Database, make_web: MakeWeb
) -> None:
    repository(db, 1, f"evil/{HOSTILE}", html_url="javascript:alert(1)")
    hostile = commit(
        "b",
        title=f"{HOSTILE}\x01\x1b[31m & ]]> \ufffe",
        body="line\x0b\x0cbreak <![CDATA[ x ]]> &amp;",
        author_name="<b>Mallory</b>\x07",
        branches=["main\x08<i>"],
    )
    add(db, 1, hostile, SEEN)

    root, raw = feed(make_web(), new_key(db, "feed"))  # it parses

    assert "<script>" not in raw
    [entry] = entries(root)
    assert text(entry, "title") == f"evil/{HOSTILE}: {HOSTILE}[31m & ]]> "
    author = entry.find(f"{ATOM}author")
    assert author is not None
    assert text(author, "name") == "<b>Mallory</b>"
    assert "linebreak <![CDATA[ x ]]> &amp;" in text(entry, "content")
    assert "Branches: main<i>" in text(entry, "content")
    assert entry.findall(f"{ATOM}link") == []  # not a web address: no link at all


@pytest.mark.parametrize(
    "scopes", [("read",), ("admin",), ("write",), ("feed", "read"), ("agent",)]
)
def test_only_a_feed_key_is_accepted_in_the_url(
    db: Database, make_web: MakeWeb, scopes: tuple[str, ...]
) -> None:
    answer = make_web().get("/feed.atom", params={"key": new_key(db, *scopes)})

    assert answer.status_code == 403
    assert "--scope feed" in answer.json()["detail"]


def test_no_key_or_a_bad_key_gets_401(db: Database, make_web: MakeWeb) -> None:
    web = make_web()
    feed_key = new_key(db, "feed")
    assert web.get("/feed.atom").status_code == 401
    assert web.get("/feed.atom", params={"key": feed_key[:-3] + "zzz"}).status_code == 401
    assert web.get("/feed.atom", params={"key": "not a key"}).status_code == 401
    header_only = web.get("/feed.atom", headers={"Authorization": f"Bearer {feed_key}"})
    assert header_only.status_code == 401
    assert "?key=" in header_only.json()["detail"]


def test_an_unchanged_feed_answers_304_to_its_etag(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    add(db, 1, commit("a"), SEEN)
    web = make_web()
    key = new_key(db, "feed")
    first = web.get("/feed.atom", params={"key": key})
    etag = first.headers["etag"]

    again = web.get("/feed.atom", params={"key": key}, headers={"If-None-Match": etag})
    weakly = web.get("/feed.atom", params={"key": key}, headers={"If-None-Match": f"W/{etag}"})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert weakly.status_code == 304
    other_filter = web.get(
        "/feed.atom", params={"key": key, "q": "parser"}, headers={"If-None-Match": etag}
    )
    assert other_filter.status_code == 200

    add(db, 1, commit("d", title="Another"), SEEN + timedelta(hours=1))
    changed = web.get("/feed.atom", params={"key": key}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert b"Another" in changed.content
    # A bad key gets no 304, whatever it offers.
    refused = web.get("/feed.atom", params={"key": "x"}, headers={"If-None-Match": "*"})
    assert refused.status_code == 401


def test_the_feed_takes_the_apis_filters(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    repository(db, 2, "calm/tools")
    add(db, 1, commit("a", title="Fix the parser"), SEEN)
    grace = {"author_name": "Grace Hopper", "author_email": "grace@example.com"}
    add(db, 2, commit("b", title="Speed up", **grace), SEEN)
    web = make_web()
    key = new_key(db, "feed")

    def titles(**params: str) -> list[str]:
        root, _raw = feed(web, key, **params)
        return [text(entry, "title") for entry in entries(root)]

    assert titles(repository="2") == ["calm/tools: Speed up"]
    assert titles(author="grace hopper") == ["calm/tools: Speed up"]
    assert titles(author="ADA@example.com") == ["octo/hello: Fix the parser"]
    assert titles(q="PARSER") == ["octo/hello: Fix the parser"]
    assert titles(q="nothing like it") == []
    root, _raw = feed(web, key, repository="2", q="speed")
    assert text(root, "title").startswith("What's new in calm/tools")
    [self_link] = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href") == "http://epicstar.test/feed.atom?repository=2&q=speed"
    assert text(root, "id") == "urn:epicstar:feed:repository=2:q=speed"
    assert web.get("/feed.atom", params={"key": key, "repository": "x"}).status_code == 422
    assert web.get("/feed.atom", params={"key": key, "q": "a\x00"}).status_code == 422


def test_the_feed_holds_the_newest_50(db: Database, make_web: MakeWeb) -> None:
    repository(db, 1, "octo/hello")
    with db.session() as session:
        rows = [commit(f"{n:040x}"[0], sha=f"{n:040x}", title=f"n{n}") for n in range(60)]
        for n, row in enumerate(rows):
            store(session, 1, [row], source=FeedSource.PASS, seen_at=SEEN + timedelta(seconds=n))

    root, _raw = feed(make_web(), new_key(db, "feed"))

    shown = [text(entry, "title") for entry in entries(root)]
    assert shown[0] == "octo/hello: n59"
    assert len(shown) == 50
