"""Git LFS data of the GitHub stand-in: pointer files, ``.gitattributes`` lines, the object
store on disk and the short-lived tokens its media host accepts.

Objects live where git-lfs keeps its own, ``lfs/objects/<oid[:2]>/<oid[2:4]>/<oid>`` (here
inside the bare repository), so big objects never sit in memory on the serving side.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

POINTER_VERSION = "https://git-lfs.github.com/spec/v1"
LFS_ATTRIBUTES = "filter=lfs diff=lfs merge=lfs -text"
MEDIA_TOKEN_SECONDS = 3600

_OID = re.compile(r"^[0-9a-f]{64}$")
_GLOB_SPECIALS = re.compile(r"([\\*?\[])")


def lfs_pointer(content: bytes) -> tuple[str, int, bytes]:
    """``(oid, size, pointer file)`` of ``content``, the pointer exactly as git-lfs writes it."""
    oid = hashlib.sha256(content).hexdigest()
    size = len(content)
    pointer = f"version {POINTER_VERSION}\noid sha256:{oid}\nsize {size}\n".encode()
    return oid, size, pointer


def is_oid(value: object) -> bool:
    """A sha256 object id as LFS names objects: 64 lower-case hex digits."""
    return isinstance(value, str) and _OID.match(value) is not None


def attribute_pattern(path: str) -> str:
    """``path`` as a ``.gitattributes`` pattern matching just that path (escaped the way
    ``git lfs track`` escapes: glob characters with a backslash, spaces as ``[[:space:]]``)."""
    escaped = _GLOB_SPECIALS.sub(r"\\\1", path).replace(" ", "[[:space:]]")
    return "\\" + escaped if escaped.startswith(("#", "!")) else escaped


def track_lfs(attributes: str, paths: Iterable[str]) -> str:
    """``attributes`` (a ``.gitattributes`` text) with a ``filter=lfs`` line for each of
    ``paths`` that has none yet; every other line is kept as it was."""
    lines = attributes.splitlines()
    for path in paths:
        line = f"{attribute_pattern(path)} {LFS_ATTRIBUTES}"
        if line not in lines:
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)


class LfsStore:
    """The LFS objects of one repository, one file per object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, oid: str) -> Path:
        if not is_oid(oid):
            raise ValueError(f"not an LFS object id: {oid!r}")
        return self.root / oid[:2] / oid[2:4] / oid

    def put(self, content: bytes) -> str:
        """Store ``content`` (atomically: a reader sees all of it or nothing); its oid."""
        oid = hashlib.sha256(content).hexdigest()
        target = self.path(oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return oid

    def size(self, oid: str) -> int | None:
        """The stored object's size, or None when it is not here."""
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def remove(self, oid: str) -> bool:
        try:
            self.path(oid).unlink()
        except FileNotFoundError:
            return False
        return True

    def objects(self) -> dict[str, bytes]:
        """Every stored object, oid -> content (for tests: reads them all into memory)."""
        if not self.root.is_dir():
            return {}
        return {
            path.name: path.read_bytes()
            for path in sorted(self.root.glob("??/??/*"))
            if is_oid(path.name)
        }


@dataclass(frozen=True)
class MediaGrant:
    repo_id: int
    oids: frozenset[str]
    expires: float  # time.monotonic()


class MediaGrants:
    """Tokens the media host accepts (``Authorization: RemoteAuth <token>``), one per batch
    answer, each good for that answer's objects of one repository until it expires."""

    def __init__(self, seconds: int = MEDIA_TOKEN_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._grants: dict[str, MediaGrant] = {}

    def issue(self, repo_id: int, oids: Iterable[str]) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [t for t, grant in self._grants.items() if grant.expires <= now]:
                del self._grants[old]
            self._grants[token] = MediaGrant(repo_id, frozenset(oids), now + self.seconds)
        return token

    def repo_for(self, token: str, oid: str) -> int | None:
        """The repository id ``token`` grants ``oid`` of, or None (unknown, expired, or
        issued for other objects)."""
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires <= time.monotonic() or oid not in grant.oids:
            return None
        return grant.repo_id

    def expire_all(self) -> None:
        with self._lock:
            self._grants.clear()
