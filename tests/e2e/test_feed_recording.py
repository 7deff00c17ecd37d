"""What mirror passes add to the feed of what is new, through the sandbox."""

from __future__ import annotations

from sqlalchemy import select

from epicstar.feed import FeedFilter, page_of
from epicstar.state.models import Commit, FeedKind
from tests.e2e.conftest import World


def feed_of(world: World, github_id: int) -> list[Commit]:
    database = world.db()
    try:
        with database.session() as session:
            query = select(Commit).where(Commit.repository_id == github_id).order_by(Commit.id)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows
    finally:
        database.dispose()


def test_a_first_mirror_is_one_entry_not_its_whole_history(world: World) -> None:
    repo = world.github.create_repo("octo", "hello", default_branch="main")
    world.github.commit("octo/hello", "main", {"a.txt": "a\n"}, "first")
    head = world.github.commit("octo/hello", "main", {"b.txt": "b\n"}, "second\n\nwith a body")
    world.github.tag("octo/hello", "v1", head)
    world.add("octo/hello")
    assert world.sync().ok

    [entry] = feed_of(world, repo.id)
    assert (entry.kind, entry.ref, entry.sha) == (FeedKind.MIRROR, "main", head)
    assert (entry.title, entry.body) == ("second", "with a body")
    assert entry.committed_at is not None


def test_new_commits_tags_and_a_force_push_record_only_what_is_new(world: World) -> None:
    repo = world.github.create_repo("octo", "hello", default_branch="main")
    base = world.github.commit("octo/hello", "main", {"a.txt": "a\n"}, "base")
    world.add("octo/hello")
    assert world.sync().ok

    one = world.github.commit("octo/hello", "main", {"a.txt": "a\nb\nc\n"}, "grow a")
    two = world.github.commit("octo/hello", "topic", {"t.txt": "t\n"}, "topic work")
    world.github.tag("octo/hello", "v2", one, annotated=True, message="two")
    assert world.sync().ok

    entries = feed_of(world, repo.id)[1:]
    commits = {entry.sha: entry for entry in entries if entry.kind == FeedKind.COMMIT}
    assert set(commits) == {one, two}
    assert commits[one].branches == ["main", "topic"]  # topic was cut from main's new tip
    assert commits[two].branches == ["topic"]
    assert (commits[one].additions, commits[one].deletions, commits[one].files_changed) == (
        2,
        0,
        1,
    )
    assert not commits[one].is_merge
    assert commits[one].parent_count == 1
    [tag] = [entry for entry in entries if entry.kind == FeedKind.TAG]
    assert (tag.ref, tag.sha) == ("v2", one)

    # A force-push back to an older commit plus one new commit: only that commit is new.
    world.github.reset_branch("octo/hello", "main", base)
    rewritten = world.github.commit("octo/hello", "main", {"r.txt": "r\n"}, "rewritten")
    world.github.delete_branch("octo/hello", "topic")
    assert world.sync().ok
    latest = feed_of(world, repo.id)[len(entries) + 1 :]
    assert [(entry.kind, entry.sha, entry.branches) for entry in latest] == [
        (FeedKind.COMMIT, rewritten, ["main"])
    ]

    # Nothing changed: nothing new.
    assert world.sync().ok
    assert len(feed_of(world, repo.id)) == len(entries) + 2


def test_the_feed_lists_newest_first_and_filters(world: World) -> None:
    repo = world.github.create_repo("octo", "hello", default_branch="main")
    world.github.commit("octo/hello", "main", {"a.txt": "a\n"}, "base")
    world.add("octo/hello")
    assert world.sync().ok
    older = world.github.commit("octo/hello", "main", {"b.txt": "b\n"}, "Fix 100% of bugs")
    newer = world.github.commit("octo/hello", "main", {"c.txt": "c\n"}, "Add c")
    assert world.sync().ok

    database = world.db()
    try:
        with database.reading() as session:
            page = page_of(session, FeedFilter(repository=repo.id), offset=0, limit=2)
            assert [entry.commit.sha for entry in page.entries] == [newer, older]
            assert {entry.full_name for entry in page.entries} == {"octo/hello"}
            assert page.has_more  # the first mirror's entry
            found = page_of(session, FeedFilter(words="100%"), offset=0, limit=10)
            assert [entry.commit.sha for entry in found.entries] == [older]
            assert not page_of(session, FeedFilter(words="1%"), offset=0, limit=10).entries
            everything = page_of(session, FeedFilter(), offset=0, limit=10).entries
            [author] = {entry.commit.author_email for entry in everything}
            by_author = page_of(session, FeedFilter(author=author.upper()), offset=0, limit=10)
            assert len(by_author.entries) == 3
    finally:
        database.dispose()
