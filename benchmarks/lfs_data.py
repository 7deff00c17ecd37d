"""The LFS benchmark's GitHub repository: random files committed as Git LFS pointers.

The objects are spread over four commits on two branches, with a tag, so both contenders
must look at more than one ref to find them all.  Every byte is random (nothing compresses)
and drawn from a seeded generator, so two runs of the benchmark move the same data.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from epicstar.sandbox import FakeGitHub, lfs_pointer

DEFAULT_BRANCH = "main"
SIDE_BRANCH = "assets"
TAG = "v1.0"
COMMITS = 4
NEW_FILE_BYTES = 512 * 1024
"""The size of the file each run of (c) adds."""


@dataclass
class LfsRepository:
    """The repository on the GitHub stand-in and every LFS object it references so far."""

    full_name: str
    sizes: dict[str, int] = field(default_factory=dict)  # oid -> bytes
    commits: int = 0
    added: int = 0  # files added after the set-up, by (c)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def facts(self) -> dict[str, Any]:
        return {
            "full_name": self.full_name,
            "lfs_objects": len(self.sizes),
            "lfs_bytes": self.total_bytes,
            "lfs_commits": self.commits,
            "branches": [DEFAULT_BRANCH, SIDE_BRANCH],
            "tags": [TAG],
        }


def object_sizes(count: int, total: int, rng: random.Random) -> list[int]:
    """``count`` sizes between half and one and a half times the mean, adding up to ``total``."""
    mean = total / count
    sizes = [max(1, round(mean * rng.uniform(0.5, 1.5))) for _ in range(count)]
    scale = total / sum(sizes)
    sizes = [max(1, int(size * scale)) for size in sizes]
    sizes[-1] += total - sum(sizes)
    if sizes[-1] < 1:
        raise ValueError(f"{total} bytes cannot make {count} objects")
    return sizes


def make_repository(
    github: FakeGitHub, owner: str, name: str, *, objects: int, total_bytes: int, seed: int = 1
) -> LfsRepository:
    """A public repository (with GitHub's initial commit and pull refs) whose ``objects`` LFS
    files of ``total_bytes`` in all arrive in four commits: two on ``main``, then the tag
    ``v1.0``, one on a side branch ``assets`` started there, one more on ``main``."""
    rng = random.Random(seed)
    github.create_repo(owner, name, default_branch=DEFAULT_BRANCH)
    repo = LfsRepository(f"{owner}/{name}")
    sizes = object_sizes(objects, total_bytes, rng)
    quarters = [sizes[part::COMMITS] for part in range(COMMITS)]
    branches = [DEFAULT_BRANCH, DEFAULT_BRANCH, SIDE_BRANCH, DEFAULT_BRANCH]
    numbered = 0
    for part, (branch, part_sizes) in enumerate(zip(branches, quarters, strict=True), start=1):
        files: dict[str, bytes] = {}
        for size in part_sizes:
            files[f"assets/part-{part}/object-{numbered:04d}.bin"] = rng.randbytes(size)
            numbered += 1
        _commit(github, repo, branch, files, f"Add LFS part {part}")
        if part == 2:
            github.tag(repo.full_name, TAG, DEFAULT_BRANCH)
    return repo


def add_file(github: FakeGitHub, repo: LfsRepository, *, seed: int) -> str:
    """One more LFS file of :data:`NEW_FILE_BYTES` committed on ``main``; its oid."""
    data = random.Random(seed).randbytes(NEW_FILE_BYTES)
    repo.added += 1
    _commit(github, repo, DEFAULT_BRANCH, {f"new/file-{repo.added}.bin": data}, "One more file")
    return lfs_pointer(data)[0]


def _commit(
    github: FakeGitHub, repo: LfsRepository, branch: str, files: Mapping[str, bytes], message: str
) -> None:
    github.commit_lfs(repo.full_name, branch, files, message)
    for data in files.values():
        oid, size, _ = lfs_pointer(data)
        repo.sizes[oid] = size
    repo.commits += 1
