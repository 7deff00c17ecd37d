"""History GitHub overwrites is kept: a force-pushed branch, a deleted branch, a deleted tag and
a moved tag are mirrored exactly, and each old tip stays in the cache, safe from git's gc."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from benchmarks.gitplain import mirrored_part
from sqlalchemy import select

from epicstar.mirror.rewrites import NAMESPACE
from epicstar.state import rewrites
from epicstar.state.audit import CLI
from epicstar.state.models import AttemptOutcome, AuditEntry, Repository, utcnow
from epicstar.sync import mirror_pass
from tests.e2e.conftest import ONE_DATABASE, World
from tests.notify_endpoint import NotificationEndpoint


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
    recorded = {
        (row["ref"], row["kind"], row["old"], row["new"]) for row in history(world, full_name)
    }
    assert recorded == {
        ("refs/heads/main", "forced", old["refs/heads/main"], now["refs/heads/main"]),
        ("refs/heads/feature", "deleted", old["refs/heads/feature"], None),
        ("refs/tags/v1", "deleted", old["refs/tags/v1"], None),
        ("refs/tags/v2", "tag_moved", old["refs/tags/v2"], now["refs/tags/v2"]),
    }


def history(world: World, full_name: str) -> list[dict[str, Any]]:
    result = world.cli("history", full_name, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def status_of(world: World, github_id: int) -> dict[str, Any]:
    result = world.cli("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return next(row for row in json.loads(result.stdout) if row["github_id"] == github_id)


def audit_actions(world: World) -> list[tuple[str, dict[str, Any] | None]]:
    database = world.db()
    try:
        with database.session() as session:
            entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
            return [(entry.action, entry.details) for entry in entries]
    finally:
        database.dispose()


def rewritten_repo(world: World, full_name: str) -> tuple[int, dict[str, str]]:
    """A mirrored repository whose main was then force-pushed and whose feature branch was
    deleted on GitHub; its id and its refs before."""
    owner, name = full_name.split("/")
    repo = world.github.create_repo(owner, name)
    world.github.tag(full_name, "v1", "main", annotated=True)
    first = world.github.commit(full_name, "main", {"a.txt": "a\n"}, "kept only in the cache")
    world.github.commit(full_name, "feature", {"f.txt": "f\n"}, "feature work")
    world.cli("add", full_name)
    assert world.sync().ok
    old = world.github.refs(full_name)
    parent = git(repo.path, "rev-parse", f"{first}^").strip()
    world.github.commit(full_name, "main", {"b.txt": "b\n"}, "rewritten", parent=parent)
    world.github.delete_branch(full_name, "feature")
    return repo.id, old


@ONE_DATABASE
def test_rewrites_are_recorded_counted_and_cost_nothing_once_mirrored(world: World) -> None:
    full_name = "octo/recorded"
    github_id, old = rewritten_repo(world, full_name)
    world.github.commit(full_name, "dev", {"d.txt": "d\n"}, "dev work")
    plan = world.cli("sync", "--dry-run")
    assert "(1 deleted upstream: their old tips are kept)" in plan.stdout

    assert world.sync().ok

    rows = history(world, full_name)
    by_ref = {row["ref"]: row for row in rows}
    assert set(by_ref) == {"refs/heads/main", "refs/heads/feature"}
    main, feature = by_ref["refs/heads/main"], by_ref["refs/heads/feature"]
    assert (main["kind"], main["old"], main["status"]) == (
        "forced",
        old["refs/heads/main"],
        "applied",
    )
    assert main["new"] == world.github.refs(full_name)["refs/heads/main"]
    assert main["commits_lost"] == 1  # "kept only in the cache": v1 tags its parent
    assert (feature["kind"], feature["new"], feature["commits_lost"]) == ("deleted", None, 2)
    assert not any(row["whole_repository"] for row in rows)
    assert main["attempt_id"] == world.attempts(github_id)[-1].id
    assert status_of(world, github_id)["rewrites"] == 2
    table = world.cli("history", full_name)
    assert "refs/heads/feature" in table.stdout
    assert "epicstar restore" in table.stdout

    world.github.clear_log()
    world.onedev.clear_log()
    unchanged = world.sync()
    assert [r.outcome for r in unchanged.reports] == [AttemptOutcome.UNCHANGED]
    assert len(world.github.requests(git=True)) == 2, "one ls-remote, as without rewrites"
    assert world.onedev.count(git=True) == 0, "nothing is pushed"
    assert world.onedev.count(method="POST") == 0, "nothing is created or updated"
    assert len(history(world, full_name)) == 2


@ONE_DATABASE
def test_a_whole_history_rewrite_is_one_event(world: World) -> None:
    full_name = "octo/purged"
    repo = world.github.create_repo("octo", "purged")
    world.github.commit(full_name, "main", {"secret.txt": "oops\n"}, "a secret")
    world.github.commit(full_name, "dev", {"d.txt": "d\n"}, "dev")
    world.github.tag(full_name, "v1", "main", annotated=False)
    world.cli("add", full_name)
    assert world.sync().ok
    for branch in ("main", "dev"):  # new roots, as git filter-repo leaves them
        tree = git(repo.path, "rev-parse", f"refs/heads/{branch}^{{tree}}").strip()
        root = git(repo.path, "commit-tree", tree, "-m", f"{branch}, purged").strip()
        world.github.reset_branch(full_name, branch, root)
    world.github.delete_tag(full_name, "v1")

    synced = world.sync()

    [report] = synced.reports
    assert len(report.rewrites) == 3
    assert all(r.whole_repository for r in report.rewrites)
    assert all(row["whole_repository"] for row in history(world, full_name))
    assert mirrored_part(world.onedev.refs(f"github/{full_name}")) == mirrored_part(
        world.github.refs(full_name)
    )


@ONE_DATABASE
def test_restore_makes_old_history_a_branch_that_passes_leave_alone(world: World) -> None:
    full_name = "octo/restored"
    _github_id, old = rewritten_repo(world, full_name)
    assert world.sync().ok
    ids = {row["ref"]: row["id"] for row in history(world, full_name)}
    project = f"github/{full_name}"

    world.onedev.faults.inject("POST", r"git-receive-pack$", 500, body="down", times=1)
    failed = world.cli("restore", full_name, str(ids["refs/heads/main"]))
    assert failed.returncode != 0
    assert failed.stderr.startswith("epicstar: error: the branch"), failed.stderr
    assert "nothing was restored" in failed.stderr
    assert world.onedev_token not in failed.stdout + failed.stderr
    assert all(row["restored_as"] is None for row in history(world, full_name))
    assert "repository.rewrite_restored" not in [action for action, _ in audit_actions(world)]

    done = world.cli("restore", full_name, str(ids["refs/heads/main"]))
    assert done.returncode == 0, done.stdout + done.stderr
    [row] = [r for r in history(world, full_name) if r["ref"] == "refs/heads/main"]
    branch = row["restored_as"]
    assert branch.startswith("epicstar/rewritten/")
    assert branch.endswith("/heads/main")
    assert world.onedev.refs(project)[f"refs/heads/{branch}"] == old["refs/heads/main"]
    named = world.cli("restore", full_name, str(ids["refs/heads/feature"]), "--as", "old-feature")
    assert named.returncode == 0, named.stdout + named.stderr
    assert world.onedev.refs(project)["refs/heads/old-feature"] == old["refs/heads/feature"]

    clash = world.cli("restore", full_name, str(ids["refs/heads/feature"]), "--as", "other")
    assert clash.returncode != 0
    assert "already restored" in clash.stderr
    taken = world.cli("restore", full_name, str(ids["refs/heads/main"]), "--as", "main")
    assert taken.returncode != 0
    unknown = world.cli("restore", full_name, "999999")
    assert unknown.returncode != 0
    assert "no rewrite 999999" in unknown.stderr

    world.github.commit(full_name, "main", {"c.txt": "c\n"}, "moves on")
    world.github.commit(full_name, "other", {"o.txt": "o\n"}, "a new branch")
    assert world.sync(force=True).ok
    refs = world.onedev.refs(project)
    assert refs["refs/heads/main"] == world.github.refs(full_name)["refs/heads/main"]
    assert refs[f"refs/heads/{branch}"] == old["refs/heads/main"]
    assert refs["refs/heads/old-feature"] == old["refs/heads/feature"]

    removed = world.cli("restore", "--remove", full_name, str(ids["refs/heads/feature"]))
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "refs/heads/old-feature" not in world.onedev.refs(project)
    assert world.sync(force=True).ok
    assert "refs/heads/old-feature" not in world.onedev.refs(project)
    assert f"refs/heads/{branch}" in world.onedev.refs(project)
    actions = [action for action, _ in audit_actions(world)]
    assert actions.count("repository.rewrite_restored") == 2
    assert actions.count("repository.restored_branch_removed") == 1


@ONE_DATABASE
def test_hold_keeps_rewritten_refs_until_approved_and_notifies_once(world: World) -> None:
    endpoint = NotificationEndpoint()
    world.overrides.update(EPICSTAR_REWRITE_POLICY="hold", EPICSTAR_NOTIFY_URLS=endpoint.url())
    full_name = "octo/held"
    project = f"github/{full_name}"
    try:
        github_id, old = rewritten_repo(world, full_name)
        world.github.commit(full_name, "dev", {"d.txt": "d\n"}, "moves forward")
        endpoint.received.clear()

        held = world.cli("sync")
        assert held.returncode == 0, held.stdout + held.stderr
        assert "HELD" in held.stdout
        refs = world.onedev.refs(project)
        assert refs["refs/heads/main"] == old["refs/heads/main"]
        assert refs["refs/heads/feature"] == old["refs/heads/feature"]
        assert refs["refs/heads/dev"] == world.github.refs(full_name)["refs/heads/dev"]
        status = status_of(world, github_id)
        assert status["sync_status"] == "held"
        assert status["held_refs"] == ["refs/heads/feature", "refs/heads/main"]
        assert {row["status"] for row in history(world, full_name)} == {"held"}
        [message] = endpoint.received
        assert "2 refs of octo/held" in message["title"]
        assert "epicstar approve octo/held" in message["message"]

        world.github.clear_log()
        again = world.cli("sync")
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(world.github.requests(git=True)) == 2, "held refs are not fetched again"
        assert len(history(world, full_name)) == 2
        assert len(endpoint.received) == 1
        plan = world.cli("sync", "--dry-run")
        assert f"{full_name}: up to date" in plan.stdout

        approved = world.cli("approve", full_name)
        assert approved.returncode == 0, approved.stdout + approved.stderr
    finally:
        endpoint.stop()
    refs = world.onedev.refs(project)
    assert mirrored_part(refs) == mirrored_part(world.github.refs(full_name))
    status = status_of(world, github_id)
    assert (status["sync_status"], status["held_refs"]) == ("completed", [])
    rows = history(world, full_name)
    assert {row["status"] for row in rows} == {"applied"}
    assert {row["approved_by"] for row in rows} == {"the command line"}
    assert (
        "repository.rewrites_approved",
        {"refs": ["refs/heads/feature", "refs/heads/main"]},
    ) in (audit_actions(world))
    nothing = world.cli("approve", full_name)
    assert nothing.returncode != 0
    assert "nothing held" in nothing.stderr


@ONE_DATABASE
def test_a_deleted_cache_still_keeps_what_github_overwrites_from_onedev(world: World) -> None:
    full_name = "octo/uncached"
    repo = world.github.create_repo("octo", "uncached")
    world.github.commit(full_name, "feature", {"f.txt": "f\n"}, "feature work")
    first = world.github.commit(full_name, "main", {"a.txt": "a\n"}, "only in OneDev soon")
    world.cli("add", full_name)
    assert world.sync().ok
    old = world.github.refs(full_name)
    shutil.rmtree(world.data_dir / "cache" / f"{repo.id}.git")
    parent = git(repo.path, "rev-parse", f"{first}^").strip()
    world.github.commit(full_name, "main", {"b.txt": "b\n"}, "rewritten", parent=parent)
    world.onedev.clear_log()

    assert world.sync().ok

    assert world.onedev.count(git_service="git-upload-pack") > 0, "fetched back from OneDev"

    cache = world.data_dir / "cache" / f"{repo.id}.git"
    assert kept(cache) == {"refs/heads/main": old["refs/heads/main"]}
    [row] = history(world, full_name)
    assert (row["ref"], row["kind"]) == ("refs/heads/main", "forced")
    assert world.cli("restore", full_name, str(row["id"]), "--as", "before").returncode == 0
    restored = world.onedev.refs(f"github/{full_name}")["refs/heads/before"]
    assert restored == old["refs/heads/main"]


@ONE_DATABASE
def test_an_approval_while_a_pass_runs_is_applied_by_the_next(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.overrides["EPICSTAR_REWRITE_POLICY"] = "hold"
    full_name = "octo/raced"
    github_id, _old = rewritten_repo(world, full_name)
    assert world.sync().ok
    assert world.row(github_id).held_refs is not None
    world.github.commit(full_name, "main", {"c.txt": "c\n"}, "GitHub moves again")
    feed_rows = mirror_pass._feed_rows

    def approve_meanwhile(*args: Any, **kwargs: Any) -> Any:
        database = world.db()
        try:
            with database.session() as session:
                row = session.get(Repository, github_id)
                assert row is not None
                assert rewrites.approve(session, row, actor=CLI, now=utcnow())
        finally:
            database.dispose()
        return feed_rows(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(mirror_pass, "_feed_rows", approve_meanwhile)
        assert world.sync().ok  # held its refs again, not knowing of the approval

    assert world.row(github_id).held_refs is None
    assert {row["status"] for row in history(world, full_name)} == {"approved"}
    assert world.sync().ok
    assert {row["status"] for row in history(world, full_name)} == {"applied"}
    refs = world.onedev.refs(f"github/{full_name}")
    assert mirrored_part(refs) == mirrored_part(world.github.refs(full_name))


@ONE_DATABASE
def test_a_wikis_overwritten_history_is_kept_and_restored_too(world: World) -> None:
    full_name = "octo/wikied"
    repo = world.github.create_repo("octo", "wikied")
    world.github.create_wiki(full_name, {"Home.md": "Welcome\n"})
    world.cli("add", full_name)
    assert world.sync().ok
    first = world.github.wiki_refs(full_name)["refs/heads/master"]
    edited = world.github.edit_wiki(full_name, "Home.md", "A page someone will force away\n")
    assert world.sync().ok
    git(repo.wiki_path, "update-ref", "refs/heads/master", first)  # a force-push to the wiki
    wiki = f"github/{full_name}/wiki"

    assert world.sync().ok

    assert world.onedev.refs(wiki)["refs/heads/master"] == first
    [row] = history(world, full_name)
    assert (row["ref"], row["kind"], row["old"], row["commits_lost"]) == (
        "wiki:refs/heads/master",
        "forced",
        edited,
        1,
    )
    wiki_cache = world.data_dir / "cache" / f"{repo.id}.wiki.git"
    assert kept(wiki_cache) == {"refs/heads/master": edited}
    restored = world.cli("restore", full_name, str(row["id"]), "--as", "before-the-push")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert world.onedev.refs(wiki)["refs/heads/before-the-push"] == edited
    assert "refs/heads/before-the-push" not in world.onedev.refs(f"github/{full_name}")

    world.github.edit_wiki(full_name, "Home.md", "Edited again\n")
    assert world.sync().ok
    refs = world.onedev.refs(wiki)
    assert refs["refs/heads/master"] == world.github.wiki_refs(full_name)["refs/heads/master"]
    assert refs["refs/heads/before-the-push"] == edited


@ONE_DATABASE
def test_restore_puts_back_the_lfs_objects_only_the_old_history_holds(world: World) -> None:
    full_name = "octo/weights"
    world.github.create_repo("octo", "weights")
    world.github.commit_lfs(full_name, "main", {"kept.bin": b"kept\n" * 100}, "on main")
    world.github.commit_lfs(full_name, "experiment", {"tried.bin": b"tried\n" * 100}, "tried")
    world.cli("add", full_name)
    assert world.sync().ok
    project = f"github/{full_name}"
    tried = hashlib.sha256(b"tried\n" * 100).hexdigest()
    assert tried in world.onedev.lfs_objects(project)
    world.github.delete_branch(full_name, "experiment")
    assert world.sync().ok
    world.onedev.lfs_object_paths(project)[tried].unlink()  # as if OneDev had dropped it

    [row] = history(world, full_name)
    restored = world.cli("restore", full_name, str(row["id"]), "--as", "experiment")

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "1 LFS object put back" in restored.stdout
    assert world.onedev.lfs_objects(project)[tried] == b"tried\n" * 100
    assert world.onedev.refs(project)["refs/heads/experiment"] == row["old"]
