"""The git engine on local repositories: exact refs, prune, force, locks, deadlines."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.credentials import HttpAuth
from epicstar.mirror.process import GitError, GitTimeout


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def refs(repo: Path) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(objectname) %(refname)", cwd=repo)
    return {name: sha for sha, name in (line.split(" ") for line in out.splitlines())}


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A bare repository with two branches, two tags and GitHub-style pull refs."""
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("branch", "feature", cwd=work)
    git("tag", "-a", "v1", "-m", "release 1", cwd=work)
    git("tag", "light", cwd=work)
    bare = tmp_path / "upstream.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    git("update-ref", "refs/pull/1/head", "refs/heads/feature", cwd=bare)
    git("update-ref", "refs/pull/1/merge", "refs/heads/main", cwd=bare)
    return bare


def commit_on(bare: Path, branch: str, message: str) -> str:
    tree = git("rev-parse", f"{branch}^{{tree}}", cwd=bare)
    parent = git("rev-parse", branch, cwd=bare)
    sha = git("commit-tree", tree, "-p", parent, "-m", message, cwd=bare)
    git("update-ref", f"refs/heads/{branch}", sha, cwd=bare)
    return sha


def test_fetch_copies_branches_and_tags_only(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    wanted = {k: v for k, v in refs(upstream).items() if not k.startswith("refs/pull/")}
    assert refs(cache.path) == wanted
    assert cache.local_refs() == wanted
    assert cache.remote_refs(str(upstream), None) == wanted


def test_fetch_prunes_and_forces(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    git("update-ref", "-d", "refs/heads/feature", cwd=upstream)
    git("update-ref", "-d", "refs/tags/light", cwd=upstream)
    rewritten = git(
        "commit-tree", git("rev-parse", "main^{tree}", cwd=upstream), "-m", "new root", cwd=upstream
    )
    git("update-ref", "refs/heads/main", rewritten, cwd=upstream)
    cache.fetch(str(upstream), None)
    assert cache.local_refs() == {
        "refs/heads/main": rewritten,
        "refs/tags/v1": refs(upstream)["refs/tags/v1"],
    }


def test_push_mirrors_exactly_and_leaves_other_namespaces(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    destination = tmp_path / "dest.git"
    git("init", "-q", "--bare", str(destination))
    first = cache.push(str(destination), None)
    assert first.changed == 4
    git("update-ref", "refs/pulls/7/head", "refs/heads/main", cwd=destination)
    git("update-ref", "refs/heads/stale", "refs/heads/main", cwd=destination)

    new_sha = commit_on(upstream, "main", "second")
    git("update-ref", "-d", "refs/tags/light", cwd=upstream)
    cache.fetch(str(upstream), None)
    second = cache.push(str(destination), None)

    after = refs(destination)
    assert after["refs/heads/main"] == new_sha
    assert "refs/heads/stale" not in after
    assert "refs/tags/light" not in after
    assert "refs/pulls/7/head" in after, "OneDev's own refs must never be pruned"
    assert not any(name.startswith("refs/pull/") for name in after)
    assert second.changed == 3  # main moved, stale and light deleted
    assert cache.push(str(destination), None).changed == 0


def test_counts_new_commits(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    before = cache.local_refs()
    assert cache.count_commits(sorted(set(before.values())), []) == 1
    commit_on(upstream, "main", "two")
    commit_on(upstream, "main", "three")
    cache.fetch(str(upstream), None)
    after = cache.local_refs()
    assert cache.count_commits([after["refs/heads/main"]], sorted(before.values())) == 2


def test_stale_locks_from_a_killed_git_are_cleared(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    (cache.path / "refs" / "heads" / "main.lock").write_text("x")
    (cache.path / "packed-refs.lock").write_text("x")
    (cache.path / "objects" / "pack" / "tmp_pack_abc").write_bytes(b"partial")
    (cache.path / "objects" / "incoming-x1y2").mkdir()
    (cache.path / "objects" / "incoming-x1y2" / "pack").write_bytes(b"partial")
    commit_on(upstream, "main", "after crash")
    cache.ensure()
    cache.fetch(str(upstream), None)
    assert cache.local_refs()["refs/heads/main"] == refs(upstream)["refs/heads/main"]
    assert not (cache.path / "objects" / "pack" / "tmp_pack_abc").exists()
    assert not (cache.path / "objects" / "incoming-x1y2").exists()
    assert not (cache.path / "refs" / "heads" / "main.lock").exists()


def test_refs_a_fetch_wrote_one_file_each_are_packed_once_there_are_many(
    tmp_path: Path, upstream: Path
) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    names = "".join(f"create refs/tags/t{number} refs/heads/main\n" for number in range(150))
    subprocess.run(
        ["git", "update-ref", "--stdin"], cwd=upstream, input=names, check=True, text=True
    )
    cache.fetch(str(upstream), None)
    assert [path for path in (cache.path / "refs").rglob("*") if path.is_file()] == []
    assert "refs/tags/t149" in (cache.path / "packed-refs").read_text()
    assert len(cache.local_refs()) == 154


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hang/repo.git"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            content = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in content:
            found.append(content)
    return found


def test_deadline_kills_the_whole_process_group(tmp_path: Path, silent_server: str) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=1.5)
    cache.ensure()
    started = time.monotonic()
    with pytest.raises(GitTimeout, match="did not finish within"):
        cache.fetch(silent_server, HttpAuth.bearer(silent_server, "secret-value"))
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert _processes_mentioning(silent_server) == [], "git's helpers must die with it"
    # The cache is still usable after the kill.
    assert cache.local_refs() == {}


def test_credentials_are_scoped_to_one_origin_and_hidden() -> None:
    auth = HttpAuth.bearer("https://onedev.example.com/x/y.git", "tok-123")
    assert "tok-123" not in repr(auth)
    assert auth.git_config() == {
        "http.https://onedev.example.com/.extraHeader": "Authorization: Bearer tok-123"
    }
    with pytest.raises(ValueError, match="embedded credentials"):
        HttpAuth.bearer("https://user:pw@example.com/r.git", "t")


def test_secrets_in_gits_own_output_are_masked(tmp_path: Path) -> None:
    """git quotes what it was given (here a path) in its errors: no secret survives."""
    token = "ghp_0123456789abcdefSECRET"
    auth = HttpAuth.bearer("https://onedev.example.com/x.git", "tok-SECRET-42")
    cache = RepoCache(tmp_path / "cache.git", timeout=60, redact=[token])
    cache.ensure()
    for source, secret in [
        (tmp_path / token / "repo.git", token),
        (tmp_path / auth.header / "repo.git", auth.header),
    ]:
        with pytest.raises(GitError) as failed:
            cache.fetch(str(source), auth)
        shown = f"{failed.value} {failed.value.stderr}"
        assert "does not appear to be a git repository" in shown
        assert secret not in shown
        assert "tok-SECRET-42" not in shown
        assert "***" in shown


def test_counting_commits_copes_with_tags_on_trees_and_many_refs(
    tmp_path: Path, upstream: Path
) -> None:
    tree = git("rev-parse", "main^{tree}", cwd=upstream)
    git("tag", "-a", "tree-tag", tree, "-m", "a tag on a tree", cwd=upstream)
    for number in range(300):
        git("update-ref", f"refs/tags/many-{number}", "refs/heads/main", cwd=upstream)
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    before = cache.local_refs()
    assert cache.count_commits(sorted(set(before.values())), []) == 1
    commit_on(upstream, "main", "two")
    cache.fetch(str(upstream), None)
    after = cache.local_refs()
    changed = sorted({sha for name, sha in after.items() if before.get(name) != sha})
    assert cache.count_commits(changed, sorted(set(before.values()))) == 1
    assert cache.count_commits([before["refs/tags/tree-tag"]], []) == 0


def test_the_advertisement_names_branches_tags_and_heads_branch(
    tmp_path: Path, upstream: Path
) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    git("symbolic-ref", "HEAD", "refs/heads/feature", cwd=upstream)

    advertised = cache.advertisement(str(upstream), None)

    wanted = {k: v for k, v in refs(upstream).items() if not k.startswith("refs/pull/")}
    assert advertised.refs == wanted
    assert advertised.head == "feature"


def packs(repo: Path) -> set[str]:
    return {path.name for path in (repo / "objects" / "pack").glob("*.pack")}


def pack_one_blob(repo: Path, text: str) -> str:
    """A new blob in a pack of its own, as each fetch of many objects leaves one."""
    sha = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=repo,
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "pack-objects", "-q", "objects/pack/pack"],
        cwd=repo,
        input=f"{sha}\n",
        capture_output=True,
        text=True,
        check=True,
    )
    git("prune-packed", cwd=repo)
    return sha


def test_a_fetch_never_lets_gits_automatic_gc_repack_everything(
    tmp_path: Path, upstream: Path
) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    # A cache whose own config would have git gc at every chance.
    git("config", "gc.auto", "1", cwd=cache.path)
    git("config", "gc.autoPackLimit", "2", cwd=cache.path)
    git("config", "gc.autoDetach", "false", cwd=cache.path)
    for number in range(3):
        pack_one_blob(cache.path, f"blob {number}\n")
    before = packs(cache.path)
    assert len(before) >= 3
    commit_on(upstream, "main", "one more")
    cache.fetch(str(upstream), None)
    assert packs(cache.path) == before, "the fetch repacked the cache"
    assert cache.local_refs()["refs/heads/main"] == refs(upstream)["refs/heads/main"]


def test_many_packs_are_merged_by_size_and_nothing_is_lost(tmp_path: Path, upstream: Path) -> None:
    cache = RepoCache(tmp_path / "cache.git", timeout=60)
    cache.ensure()
    cache.fetch(str(upstream), None)
    blobs = [pack_one_blob(cache.path, f"blob {number}\n" * (number + 1)) for number in range(30)]
    assert len(packs(cache.path)) >= 30
    commit_on(upstream, "main", "one more")
    cache.fetch(str(upstream), None)
    assert len(packs(cache.path)) < 10
    for sha in blobs:  # unreferenced, yet kept: only git gc would drop them
        git("cat-file", "-e", sha, cwd=cache.path)
    git("fsck", "--connectivity-only", "--no-progress", cwd=cache.path)
    assert cache.local_refs() == {
        k: v for k, v in refs(upstream).items() if not k.startswith("refs/pull/")
    }
    assert not cache.tidy(), "a tidy cache is left alone"
