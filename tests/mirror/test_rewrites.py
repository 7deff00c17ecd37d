"""What a fetch overwrote, told from the cache's objects: each kind, and commits lost counted as
plain git counts them, whatever the shape of the history and however many refs share it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from epicstar.mirror import rewrites
from epicstar.mirror.cache import Refs, RepoCache
from epicstar.mirror.rewrites import LostCommits, RewriteKind, find_rewrites


def git(repo: Path, *args: str, stdin: str | None = None, when: int = 0) -> str:
    dated = {"GIT_COMMITTER_DATE": f"{1_700_000_000 + when} +0000"} if when else {}
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **dated},
    ).stdout.strip()


class History:
    """A bare repository built commit by commit, on every branch at once if asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
        self.tree = git(path, "mktree", stdin="")
        self.serial = 0

    def commit(self, *parents: str) -> str:
        self.serial += 1
        options = [part for parent in parents for part in ("-p", parent)]
        return git(
            self.path, "commit-tree", self.tree, *options, "-m", f"c{self.serial}", when=self.serial
        )

    def chain(self, length: int, base: str | None = None) -> list[str]:
        commits = []
        for _ in range(length):
            base = self.commit(*([base] if base else []))
            commits.append(base)
        return commits

    def refs(self, refs: Refs) -> None:
        git(
            self.path,
            "update-ref",
            "--stdin",
            stdin="".join(f"update {r} {s}\n" for r, s in refs.items()),
        )

    def tag(self, target: str) -> str:
        return git(
            self.path,
            "mktag",
            stdin=f"object {target}\ntype commit\ntag t\ntagger T <t@t> 0 +0000\n\nt\n",
        )


def plain_git_count(repo: Path, old: str, after: Refs) -> int:
    negatives = "".join(f"^{sha}\n" for sha in after.values())
    return int(git(repo, "rev-list", "--count", "--stdin", stdin=f"{old}\n{negatives}"))


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "repo.git")


def cache_of(history: History) -> RepoCache:
    return RepoCache(history.path, timeout=60)


def test_each_kind_is_told_and_a_fast_forward_is_none(history: History) -> None:
    base = history.chain(3)
    side = history.chain(2, base[0])
    before = {
        "refs/heads/main": base[2],
        "refs/heads/ff": base[1],
        "refs/heads/side": side[1],
        "refs/tags/moved": history.tag(base[1]),
        "refs/tags/gone": base[0],
    }
    rewritten = history.chain(1, base[0])[0]
    after = {
        "refs/heads/main": rewritten,
        "refs/heads/ff": base[2],  # forward: not a rewrite
        "refs/tags/moved": history.tag(base[2]),
        "refs/heads/new": base[2],
    }

    found = {r.ref: r for r in find_rewrites(cache_of(history), before, after)}

    assert {ref: r.kind for ref, r in found.items()} == {
        "refs/heads/main": RewriteKind.FORCED,
        "refs/heads/side": RewriteKind.DELETED,
        "refs/tags/moved": RewriteKind.TAG_MOVED,
        "refs/tags/gone": RewriteKind.DELETED,
    }
    assert found["refs/heads/main"].commits_lost == 0  # base[2] is still on ff
    assert found["refs/heads/side"].commits_lost == 2
    assert found["refs/tags/moved"].commits_lost == 0
    assert not any(r.whole_repository or r.commits_lost_partial for r in found.values())


def test_a_branch_reset_to_an_older_commit_still_reachable_is_forced(history: History) -> None:
    base = history.chain(3)
    before = {"refs/heads/main": base[2], "refs/heads/keep": base[2]}
    after = {"refs/heads/main": base[0], "refs/heads/keep": base[2]}

    [found] = find_rewrites(cache_of(history), before, after)

    assert (found.ref, found.kind, found.commits_lost) == ("refs/heads/main", RewriteKind.FORCED, 0)


def test_lost_commits_are_counted_as_git_counts_them_through_merges(history: History) -> None:
    trunk = history.chain(6)
    topic = history.chain(4, trunk[1])
    merged = history.commit(trunk[5], topic[3])
    more = history.chain(3, merged)
    other = history.chain(2, topic[1])
    before = {
        "refs/heads/main": more[2],
        "refs/heads/topic": topic[3],
        "refs/heads/other": other[1],
        "refs/heads/stays": trunk[2],
        "refs/tags/v1": history.tag(merged),
    }
    purge = history.chain(5)
    after = {"refs/heads/main": purge[4], "refs/heads/stays": trunk[2], "refs/tags/v2": purge[1]}

    found = find_rewrites(cache_of(history), before, after)

    assert len(found) == 4
    for rewrite in found:
        assert rewrite.commits_lost == plain_git_count(history.path, rewrite.old, after), (
            rewrite.ref
        )
    assert not any(r.whole_repository for r in found)  # "stays" was not rewritten


def test_a_purge_of_every_branch_is_one_history_rewrite(history: History) -> None:
    old = history.chain(4)
    side = history.chain(2, old[1])
    before = {"refs/heads/main": old[3], "refs/heads/side": side[1], "refs/tags/v1": old[0]}
    new = history.chain(4)
    after = {"refs/heads/main": new[3], "refs/heads/side": new[2], "refs/tags/v1": new[0]}

    found = find_rewrites(cache_of(history), before, after)

    assert {r.kind for r in found} == {RewriteKind.FORCED, RewriteKind.TAG_MOVED}
    assert all(r.whole_repository for r in found)
    assert {r.ref: r.commits_lost for r in found} == {
        "refs/heads/main": 4,
        "refs/heads/side": 4,
        "refs/tags/v1": 1,
    }


def test_one_branch_amended_is_not_a_history_rewrite(history: History) -> None:
    base = history.chain(2)
    amended = history.commit(base[0])

    [found] = find_rewrites(
        cache_of(history), {"refs/heads/main": base[1]}, {"refs/heads/main": amended}
    )

    assert (found.kind, found.commits_lost, found.whole_repository) == (
        RewriteKind.FORCED,
        1,
        False,
    )


def test_beyond_the_limit_counts_are_lower_bounds(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rewrites, "COUNT_LIMIT", 10)
    old = history.chain(30)
    before = {"refs/heads/main": old[29], "refs/heads/early": old[4]}
    new = history.chain(2)
    after = {"refs/heads/main": new[1], "refs/heads/early": new[0]}

    found = {r.ref: r for r in find_rewrites(cache_of(history), before, after)}

    main, early = found["refs/heads/main"], found["refs/heads/early"]
    assert (main.kind, main.commits_lost, main.commits_lost_partial) == (
        RewriteKind.FORCED,
        10,
        True,
    )
    # Its old tip is past what the walk read: it is asked about on its own.
    assert early.kind == RewriteKind.FORCED
    assert (early.commits_lost, early.commits_lost_partial) == (None, False)


def test_counting_runs_of_a_long_shared_history_matches_a_plain_walk() -> None:
    # 0 <- 1 <- ... <- 99 linear, tips all along it, and a merge of two forks at the top
    parents = {f"c{i}": [f"c{i - 1}"] if i else [] for i in range(100)}
    parents["f1"] = ["c99"]
    parents["f2"] = ["c99"]
    parents["m"] = ["f1", "f2"]
    walk = LostCommits(parents, complete=True)
    tips: list[str | None] = ["m", "f2", "c99", "c50", "c0", "elsewhere", None]

    counts = walk.counts(tips)

    assert counts == {
        "m": (103, False),
        "f2": (101, False),
        "c99": (100, False),
        "c50": (51, False),
        "c0": (1, False),
        "elsewhere": (0, False),
        None: (None, False),
    }
