"""Finding the LFS objects a cache's history references, and storing them checked."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from epicstar.mirror.cache import RepoCache
from epicstar.mirror.lfs.pointers import parse_pointer, scan_pointers, tracks_lfs
from epicstar.mirror.lfs.store import LfsStore, ObjectMismatch


def pointer_text(content: bytes) -> bytes:
    oid = hashlib.sha256(content).hexdigest()
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n"
    ).encode()


class History:
    """A work tree committing into a bare cache, as a fetch would fill it."""

    def __init__(self, root: Path) -> None:
        self.work = root / "work"
        self.bare = root / "cache.git"
        self._git(root, "init", "-q", "--bare", str(self.bare))
        self._git(root, "init", "-q", "-b", "main", str(self.work))

    def _git(self, cwd: Path, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def commit(self, files: dict[str, bytes], branch: str = "main") -> str:
        self._git(self.work, "checkout", "-q", "-B", branch)
        for name, data in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self._git(self.work, "add", "-A")
        self._git(self.work, "commit", "-q", "-m", "change")
        self._git(self.work, "push", "-q", str(self.bare), f"{branch}:{branch}")
        return self._git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path)


def cache_of(history: History) -> RepoCache:
    return RepoCache(history.bare, timeout=60)


ATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n"


def test_a_pointer_is_read_and_anything_else_is_not() -> None:
    text = pointer_text(b"model weights")
    assert parse_pointer(text) == (hashlib.sha256(b"model weights").hexdigest(), 13)
    with_extension = text.replace(b"oid", b"ext-0-foo sha256:" + b"1" * 64 + b"\noid", 1)
    assert parse_pointer(with_extension) is not None
    assert parse_pointer(text[:-1]) is None  # no final newline
    assert parse_pointer(text.replace(b"v1", b"v2")) is None
    assert parse_pointer(text.replace(b"size 13", b"size thirteen")) is None
    assert parse_pointer(b"version https://git-lfs.github.com/spec/v1\n" + b"x" * 200) is None


def test_a_repository_without_lfs_is_told_apart_by_its_attributes(history: History) -> None:
    plain = history.commit({"README": b"hello", ".gitattributes": b"*.txt text\n"})
    assert not tracks_lfs(cache_of(history), [plain])
    assert not tracks_lfs(cache_of(history), [])
    with_lfs = history.commit({".gitattributes": ATTRIBUTES}, branch="lfs")
    assert tracks_lfs(cache_of(history), [plain, with_lfs])


def test_only_the_pointers_new_since_the_last_scan_are_read(history: History) -> None:
    first = history.commit({".gitattributes": ATTRIBUTES, "a.bin": pointer_text(b"A" * 50)})
    second = history.commit({"b.bin": pointer_text(b"B" * 60), "notes.txt": b"not a pointer"})
    cache = cache_of(history)

    everything = {p.oid: (p.size, p.path) for p in scan_pointers(cache, [second], [])}
    assert everything == {
        hashlib.sha256(b"A" * 50).hexdigest(): (50, "a.bin"),
        hashlib.sha256(b"B" * 60).hexdigest(): (60, "b.bin"),
    }
    new = scan_pointers(cache, [second], [first])
    assert [(p.oid, p.path) for p in new] == [(hashlib.sha256(b"B" * 60).hexdigest(), "b.bin")]
    assert scan_pointers(cache, [second], [second]) == []


def test_pointers_deleted_later_are_still_in_the_history(history: History) -> None:
    history.commit({".gitattributes": ATTRIBUTES, "old.bin": pointer_text(b"old")})
    (history.work / "old.bin").unlink()
    last = history.commit({"README": b"removed the model"})
    oids = {p.oid for p in scan_pointers(cache_of(history), [last], [])}
    assert oids == {hashlib.sha256(b"old").hexdigest()}


def test_binary_blobs_of_pointer_size_are_passed_over(history: History) -> None:
    binary = bytes(range(256)) * 2 + b"\r\n\x00" * 40
    tip = history.commit({"blob.dat": binary, "x.bin": pointer_text(b"x")})
    assert [p.path for p in scan_pointers(cache_of(history), [tip], [])] == ["x.bin"]


def test_an_object_is_stored_only_when_it_is_what_its_pointer_names(tmp_path: Path) -> None:
    store = LfsStore(tmp_path)
    data = b"weights" * 1000
    oid = hashlib.sha256(data).hexdigest()
    with pytest.raises(ObjectMismatch):
        store.receive(oid, len(data), [data[:100]])
    with pytest.raises(ObjectMismatch):
        store.receive(oid, len(data), [data[:-1] + b"X"])
    with pytest.raises(ObjectMismatch):
        store.receive(oid, len(data), [data, b"more"])
    assert not store.has(oid, len(data))
    assert not any((tmp_path / "lfs" / "tmp").iterdir())

    store.receive(oid, len(data), [data[:10], data[10:]])
    assert store.has(oid, len(data))
    assert store.path(oid) == tmp_path / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert store.path(oid).read_bytes() == data
