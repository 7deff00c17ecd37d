"""History GitHub overwrites is kept: a force-pushed branch, a deleted branch, a deleted tag and
a moved tag are mirrored exactly, and each old tip stays in the cache, safe from git's gc."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.gitplain import mirrored_part

from epicstar.mirror.rewrites import NAMESPACE
from tests.e2e.conftest import ONE_DATABASE, World


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def kept(cache: Path) -> dict[str, str]:
    """The preserved refs, by the ref they were (their stamp left out)."""
    found = {}
    for line in git(cache, "for-each-ref", "--format=%(objectname) %(refname)", NAMESPACE).split(
        "\n"
    ):
        if line:
            sha, name = line.split(" ")
            found["refs/" + name.removeprefix(NAMESPACE).partition("/")[2]] = sha
    return found


@ONE_DATABASE  # what it checks lives in git
def test_what_github_overwrote_is_mirrored_exactly_and_kept_in_the_cache(world: World) -> None:
    full_name = "octo/rewritten"
    repo = world.github.create_repo("octo", "rewritten")
    first = world.github.commit(full_name, "main", {"a.txt": "a\n"}, "second commit")
    world.github.commit(full_name, "feature", {"f.txt": "f\n"}, "feature work")
    world.github.commit(full_name, "dev", {"d.txt": "d\n"}, "dev work")
    world.github.tag(full_name, "v1", "main", annotated=True)
    world.github.tag(full_name, "v2", "main", annotated=False)
    world.cli("add", full_name)
    assert world.sync().ok
    old = world.github.refs(full_name)
    cache = world.data_dir / "cache" / f"{repo.id}.git"

    parent = git(repo.path, "rev-parse", f"{first}^").strip()
    world.github.commit(full_name, "main", {"b.txt": "b\n"}, "rewritten", parent=parent)
    world.github.delete_branch(full_name, "feature")
    world.github.delete_tag(full_name, "v1")
    world.github.delete_tag(full_name, "v2")
    world.github.tag(full_name, "v2", parent, annotated=False)
    world.github.commit(full_name, "dev", {"d.txt": "more\n"}, "dev moves on")  # forward

    synced = world.sync()

    assert synced.ok
    [report] = synced.reports
    assert {(r.ref, r.kind) for r in report.rewrites} == {
        ("refs/heads/main", "forced"),
        ("refs/heads/feature", "deleted"),
        ("refs/tags/v1", "deleted"),
        ("refs/tags/v2", "tag_moved"),
    }
    now = mirrored_part(world.github.refs(full_name))
    assert mirrored_part(world.onedev.refs(f"github/{full_name}")) == now
    assert not any("epicstar" in name for name in world.onedev.refs(f"github/{full_name}"))
    expected = {ref: old[ref] for ref in ("refs/heads/main", "refs/heads/feature")}
    expected.update({ref: old[ref] for ref in ("refs/tags/v1", "refs/tags/v2")})
    assert kept(cache) == expected

    git(cache, "gc", "--prune=now", "--quiet")
    for sha in expected.values():
        git(cache, "cat-file", "-e", sha)
    assert git(cache, "log", "--format=%s", old["refs/heads/main"]).splitlines()[0] == (
        "second commit"
    )

    again = world.sync()
    assert again.ok
    assert [r.rewrites for r in again.reports] == [[]]
    assert len(kept(cache)) == 4
