"""The LFS objects of one cache, kept where git-lfs keeps them in a bare repository
(``<git dir>/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>``), so ``git lfs`` works on a cache too."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class ObjectMismatch(Exception):
    """What arrived for an LFS object is not that object (its size or SHA-256 differ)."""


class LfsStore:
    def __init__(self, git_dir: Path) -> None:
        self.root = git_dir / "lfs"

    def path(self, oid: str) -> Path:
        return self.root / "objects" / oid[0:2] / oid[2:4] / oid

    def has(self, oid: str, size: int) -> bool:
        try:
            return self.path(oid).stat().st_size == size
        except FileNotFoundError:
            return False

    def receive(self, oid: str, size: int, chunks: Iterable[bytes]) -> None:
        """Store the object from ``chunks``, checked against its oid and size first: a
        partial or wrong download never takes an object's place."""
        incoming = self.root / "tmp"
        incoming.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=incoming, prefix=f"{oid[:12]}-")
        temporary = Path(name)
        try:
            digest = hashlib.sha256()
            written = 0
            with os.fdopen(descriptor, "wb") as file:
                for chunk in chunks:
                    written += len(chunk)
                    if written > size:
                        raise ObjectMismatch(f"more than the {size} bytes of {oid} arrived")
                    digest.update(chunk)
                    file.write(chunk)
            if written != size:
                raise ObjectMismatch(f"{written} of the {size} bytes of {oid} arrived")
            if digest.hexdigest() != oid:
                raise ObjectMismatch(f"what arrived for {oid} has another SHA-256")
            final = self.path(oid)
            final.parent.mkdir(parents=True, exist_ok=True)
            temporary.replace(final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
