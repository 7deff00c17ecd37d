"""Reading what a cache's branches gained: merges, limits, odd messages, tags of trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.history import describe, new_commits

WHEN = "2026-01-02T03:04:05+02:00"


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "Ada@Example.org",
        "GIT_COMMITTER_NAME": "Bot",
        "GIT_COMMITTER_EMAIL": "bot@example.org",
        "GIT_AUTHOR_DATE": WHEN,
        "GIT_COMMITTER_DATE": WHEN,
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def commit(repo: Path, name: str, content: str, message: str) -> str:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def refs(repo: Path) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/")
    return {name: sha for sha, name in (line.split(" ") for line in lines.splitlines())}


def make(tmp_path: Path) -> tuple[Path, RepoCache]:
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo, RepoCache(repo / ".git", timeout=30)


def test_a_merge_names_its_branches_and_counts_against_its_first_parent(tmp_path: Path) -> None:
    repo, cache = make(tmp_path)
    base = commit(repo, "a.txt", "a\n", "base")
    before = refs(repo)
    git(repo, "checkout", "-q", "-b", "topic")
    side = commit(repo, "t.txt", "1\n2\n3\n", "topic work")
    git(repo, "checkout", "-q", "main")
    ahead = commit(repo, "a.txt", "a\nb\n", "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    merge = git(repo, "rev-parse", "HEAD")

    found = {info.sha: info for info in new_commits(cache, before, refs(repo), limit=100)}

    assert set(found) == {side, ahead, merge}
    assert base not in found
    assert found[merge].is_merge
    assert len(found[merge].parents) == 2
    # Against its first parent, the merge brings topic's three lines in one file.
    assert (found[merge].additions, found[merge].deletions, found[merge].files_changed) == (
        3,
        0,
        1,
    )
    assert found[side].branches == ["main", "topic"]
    assert found[ahead].branches == ["main"]
    assert found[merge].author_email == "Ada@Example.org"
    assert found[merge].authored_at.isoformat() == WHEN


def test_the_limit_keeps_the_newest_commits(tmp_path: Path) -> None:
    repo, cache = make(tmp_path)
    commit(repo, "f", "0\n", "c0")
    before = refs(repo)
    shas = [commit(repo, "f", f"{n}\n", f"c{n}") for n in range(1, 8)]

    found = new_commits(cache, before, refs(repo), limit=3)

    assert [info.sha for info in found] == shas[::-1][:3]
    assert all(info.branches == ["main"] for info in found)


def test_messages_keep_their_text_whatever_they_hold(tmp_path: Path) -> None:
    repo, cache = make(tmp_path)
    commit(repo, "f", "0\n", "c0")
    before = refs(repo)
    message = "Title with \x1f and </title>\n\nbody line\x1e one\n\nlast"
    sha = commit(repo, "f", "1\n", message)
    (repo / "f").write_text("2\n")
    git(repo, "add", "f")
    git(repo, "-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", "-", stdin=b"caf\xe9\n")
    latin = git(repo, "rev-parse", "HEAD")

    found = {info.sha: info for info in new_commits(cache, before, refs(repo), limit=10)}

    assert found[latin].title == "café"
    assert found[sha].title.startswith("Title with")
    assert found[sha].title.endswith("and </title>")
    assert "last" in found[sha].body


def test_tags_of_trees_and_missing_objects_describe_nothing(tmp_path: Path) -> None:
    repo, cache = make(tmp_path)
    head = commit(repo, "f", "0\n", "c0")
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    git(repo, "tag", "-a", "-m", "a tree", "treetag", tree)
    tag_object = git(repo, "rev-parse", "treetag")

    described = describe(cache, [head, tag_object, "0" * 40])

    assert set(described) == {head}
    assert described[head].title == "c0"


def test_nothing_new_when_no_branch_moved(tmp_path: Path) -> None:
    repo, cache = make(tmp_path)
    commit(repo, "f", "0\n", "c0")
    git(repo, "tag", "v1")
    assert new_commits(cache, refs(repo), refs(repo), limit=10) == []
