"""Git LFS objects mirrored with the refs, through the sandbox's GitHub and OneDev."""

from __future__ import annotations

import json
import os

from epicstar.state.models import AttemptOutcome, SyncAttempt
from tests.e2e.conftest import ONE_DATABASE, World

pytestmark = ONE_DATABASE


def lfs_requests(world: World) -> tuple[int, int]:
    """LFS requests GitHub and OneDev have answered so far."""
    return (
        sum(world.github.count(lfs=kind) for kind in ("batch", "download")),
        sum(world.onedev.count(lfs=kind) for kind in ("batch", "upload", "download", "locks")),
    )


def github_objects(world: World, full_name: str) -> dict[str, bytes]:
    return dict(world.github.lfs_objects(full_name))


def onedev_objects(world: World, github_id: int) -> dict[str, bytes]:
    path = world.row(github_id).onedev_path
    assert path is not None
    return dict(world.onedev.lfs_objects(path))


def last_attempt(world: World, github_id: int) -> SyncAttempt:
    return world.attempts(github_id)[-1]


def test_lfs_objects_arrive_byte_identical_and_an_unchanged_pass_asks_nothing(
    world: World,
) -> None:
    repo = world.github.create_repo("octo", "models", default_branch="main")
    files = {f"weights/{n}.bin": os.urandom(2000 + n) for n in range(5)}
    world.github.commit_lfs("octo/models", "main", files, "add the weights")
    world.add("octo/models")
    assert world.sync().ok

    assert onedev_objects(world, repo.id) == github_objects(world, "octo/models")
    assert len(onedev_objects(world, repo.id)) == 5
    attempt = last_attempt(world, repo.id)
    assert (attempt.lfs_objects_fetched, attempt.lfs_objects_pushed, attempt.lfs_missing) == (
        5,
        5,
        0,
    )
    assert attempt.lfs_bytes_pushed == sum(len(data) for data in files.values())
    row = world.row(repo.id)
    assert row.uses_lfs
    assert row.lfs_missing is None
    assert row.as_status()["warning"] is None

    before = lfs_requests(world)
    summary = world.sync()
    assert summary.ok
    assert [report.outcome for report in summary.reports] == [AttemptOutcome.UNCHANGED]
    assert lfs_requests(world) == before  # not one LFS request for an unchanged repository
    assert last_attempt(world, repo.id).lfs_objects_fetched is None


def test_a_new_lfs_file_moves_only_its_own_object(world: World) -> None:
    repo = world.github.create_repo("octo", "data", default_branch="main")
    world.github.commit_lfs("octo/data", "main", {"a.bin": b"A" * 5000, "b.bin": b"B" * 5000})
    world.add("octo/data")
    assert world.sync().ok
    downloads = world.github.count(lfs="download")
    uploads = world.onedev.count(lfs="upload")

    world.github.commit_lfs("octo/data", "topic", {"c.bin": b"C" * 7000}, "one more")
    assert world.sync().ok

    attempt = last_attempt(world, repo.id)
    assert (attempt.lfs_objects_fetched, attempt.lfs_bytes_fetched) == (1, 7000)
    assert (attempt.lfs_objects_pushed, attempt.lfs_bytes_pushed) == (1, 7000)
    assert world.github.count(lfs="download") == downloads + 1
    assert world.onedev.count(lfs="upload") == uploads + 1
    assert onedev_objects(world, repo.id) == github_objects(world, "octo/data")


def test_a_repository_without_lfs_costs_no_lfs_request(world: World) -> None:
    repo = world.github.create_repo("octo", "plain", default_branch="main")
    world.github.commit("octo/plain", "main", {"README.md": "hello\n"})
    world.add("octo/plain")
    assert world.sync().ok
    world.github.commit("octo/plain", "main", {"more.txt": "more\n"})
    assert world.sync().ok

    assert lfs_requests(world) == (0, 0)
    row = world.row(repo.id)
    assert not row.uses_lfs
    assert row.lfs_refs == row.mirrored_refs
    assert row.as_status()["lfs"]["in_use"] is False


def test_a_missing_object_is_reported_until_it_can_be_mirrored(world: World) -> None:
    repo = world.github.create_repo("octo", "gaps", default_branch="main")
    world.github.commit_lfs("octo/gaps", "main", {"here.bin": b"here" * 100})
    world.github.commit_lfs("octo/gaps", "main", {"lost.bin": b"lost" * 100}, store=False)
    world.add("octo/gaps")
    summary = world.sync()
    assert summary.ok  # the code is mirrored: the pass succeeds, and says what it lacks

    status = world.row(repo.id).as_status()
    assert status["sync_status"] == "completed"
    assert status["lfs"]["missing"] == 1
    [reason] = status["lfs"]["missing_by_reason"]
    assert "404" in reason
    assert "GitHub" in reason
    assert status["warning"] is not None
    assert "1 LFS object not mirrored" in status["warning"]
    assert last_attempt(world, repo.id).lfs_missing == 1
    report = summary.reports[0].lfs
    assert report is not None
    assert report.missing == 1

    shown = world.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    [listed] = json.loads(shown.stdout)
    assert listed["warning"] == status["warning"]
    table = world.cli("status")
    assert "1 LFS object not mirrored" in table.stdout

    # GitHub has it again, and a new commit comes: the next pass mirrors it too.
    world.github.commit_lfs("octo/gaps", "main", {"lost.bin": b"lost" * 100}, "restore")
    world.github.commit("octo/gaps", "main", {"note.txt": "restored\n"})
    assert world.sync().ok
    row = world.row(repo.id)
    assert row.lfs_missing is None
    assert row.as_status()["warning"] is None
    assert onedev_objects(world, repo.id) == github_objects(world, "octo/gaps")


def test_a_private_repositorys_objects_are_fetched_with_the_token(world: World) -> None:
    repo = world.github.create_repo("octo", "secret", default_branch="main", private=True)
    world.github.commit_lfs("octo/secret", "main", {"key.bin": b"k" * 3000})
    world.add("octo/secret")
    assert world.sync().ok
    assert onedev_objects(world, repo.id) == github_objects(world, "octo/secret")

    # Nothing of either token stays behind: not in the cache's config or its LFS store.
    cache = world.data_dir / "cache" / f"{repo.id}.git"
    written = b"".join(
        path.read_bytes()
        for path in cache.rglob("*")
        if path.is_file() and path.stat().st_size < 1_000_000
    )
    for token in (world.github_token, world.onedev_token):
        assert token.encode() not in written


def test_objects_over_the_size_limit_are_skipped_and_said_so(world: World) -> None:
    repo = world.github.create_repo("octo", "huge", default_branch="main")
    world.github.commit_lfs(
        "octo/huge", "main", {"small.bin": b"s" * 1000, "big.bin": os.urandom(1_100_000)}
    )
    world.overrides["EPICSTAR_LFS_MAX_OBJECT_MB"] = "1"
    world.add("octo/huge")
    assert world.sync().ok

    assert list(onedev_objects(world, repo.id).values()) == [b"s" * 1000]
    status = world.row(repo.id).as_status()
    assert status["lfs"]["missing"] == 1
    [reason] = status["lfs"]["missing_by_reason"]
    assert "EPICSTAR_LFS_MAX_OBJECT_MB" in reason
    assert world.github.count(lfs="download") == 1  # the large one was never downloaded


def test_github_lfs_quota_is_reported_as_such(world: World) -> None:
    repo = world.github.create_repo("octo", "popular", default_branch="main")
    world.github.commit_lfs("octo/popular", "main", {"a.bin": b"a" * 100, "b.bin": b"b" * 100})
    world.github.set_lfs_over_quota("octo/popular", True)
    world.add("octo/popular")
    summary = world.sync()
    assert summary.ok

    status = world.row(repo.id).as_status()
    assert status["lfs"]["missing"] == 2
    assert "quota" in status["warning"]
    assert summary.reports[0].lfs is not None
    assert summary.reports[0].lfs.quota_exceeded


def test_with_lfs_off_no_lfs_request_is_made(world: World) -> None:
    repo = world.github.create_repo("octo", "models", default_branch="main")
    world.github.commit_lfs("octo/models", "main", {"a.bin": b"a" * 100})
    world.overrides["EPICSTAR_LFS"] = "off"
    world.add("octo/models")
    assert world.sync().ok
    assert lfs_requests(world) == (0, 0)
    assert world.row(repo.id).lfs_refs is None
    assert last_attempt(world, repo.id).lfs_missing is None
