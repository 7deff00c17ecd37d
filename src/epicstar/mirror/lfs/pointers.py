"""Which Git LFS objects a cache's history references: its pointer files.

A pointer is a small blob (git-lfs reads none larger than 1024 bytes) made of the spec's
version line, then ``oid sha256:<hex>`` and ``size <bytes>`` among sorted ``key value`` lines.
A scan reads only the objects new since the tips scanned before, and of those only the blobs
small enough to be pointers, so a pass costs in proportion to what it brought.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from epicstar.mirror.cache import RepoCache

POINTER_MAX_BYTES = 1024
_VERSIONS = (
    b"version https://git-lfs.github.com/spec/v1",
    b"version https://hawser.github.com/spec/v1",  # pointers written before git-lfs 1.0
)
_SMALLEST = len(_VERSIONS[0]) + len(b"\noid sha256:") + 64 + len(b"\nsize 0\n")
_OID = re.compile(rb"oid sha256:([0-9a-f]{64})")
_SIZE = re.compile(rb"size (0|[1-9][0-9]{0,18})")
_KEY = re.compile(rb"[a-z0-9.-]+ \S.*")
_ATTRIBUTES = ".gitattributes"


@dataclass(frozen=True)
class Pointer:
    """An LFS object a pointer file references, and one path it was seen at."""

    oid: str
    size: int
    path: str


def parse_pointer(data: bytes) -> tuple[str, int] | None:
    """The ``(oid, size)`` a pointer file names, or None when ``data`` is no pointer."""
    if not _SMALLEST <= len(data) <= POINTER_MAX_BYTES or not data.endswith(b"\n"):
        return None
    version, *lines = data[:-1].split(b"\n")
    if version not in _VERSIONS:
        return None
    oid = size = None
    for line in lines:
        if (match := _OID.fullmatch(line)) is not None:
            oid = match.group(1).decode("ascii")
        elif (match := _SIZE.fullmatch(line)) is not None:
            size = int(match.group(1))
        elif _KEY.fullmatch(line) is None:
            return None
    if oid is None or size is None:
        return None
    return oid, size


def tracks_lfs(cache: RepoCache, tips: Iterable[str]) -> bool:
    """Whether the top ``.gitattributes`` of any of ``tips`` hands files to LFS.

    A cheap look (two git processes whatever the number of tips) that tells a repository
    using LFS from one that does not, before its history is read at all.
    """
    query = "".join(f"{tip}:{_ATTRIBUTES}\n" for tip in sorted(set(tips)))
    if not query:
        return False
    found = cache.git_output(["cat-file", "--batch-check=%(objectname) %(objecttype)"], stdin=query)
    blobs = sorted({line.split()[0] for line in found.splitlines() if line.endswith(" blob")})
    return any(b"filter=lfs" in content for _, content in _read_blobs(cache, blobs))


def scan_pointers(cache: RepoCache, tips: Sequence[str], exclude: Sequence[str]) -> list[Pointer]:
    """The LFS objects referenced by commits reachable from ``tips`` and not from
    ``exclude`` (objects that must all be in the cache), each once."""
    if not tips:
        return []
    revisions = "".join(f"{sha}\n" for sha in tips) + "".join(f"^{sha}\n" for sha in exclude)
    listing = cache.git_output(
        ["rev-list", "--objects", f"--filter=blob:limit={POINTER_MAX_BYTES + 1}", "--stdin"],
        stdin=revisions,
    )
    paths: dict[str, str] = {}
    for line in listing.splitlines():
        sha, separator, path = line.partition(" ")
        if separator and sha not in paths:
            paths[sha] = path
    if not paths:
        return []
    sizes = cache.git_output(
        ["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
        stdin="".join(f"{sha}\n" for sha in paths),
    )
    candidates = []
    for line in sizes.splitlines():
        parts = line.split()
        if (
            len(parts) == 3
            and parts[1] == "blob"
            and _SMALLEST <= int(parts[2]) <= POINTER_MAX_BYTES
        ):
            candidates.append(parts[0])
    pointers: dict[str, Pointer] = {}
    for sha, content in _read_blobs(cache, candidates):
        parsed = parse_pointer(content)
        if parsed is not None and parsed[0] not in pointers:
            pointers[parsed[0]] = Pointer(parsed[0], parsed[1], paths[sha])
    return list(pointers.values())


def _read_blobs(cache: RepoCache, shas: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    """Each blob's bytes, read by one ``cat-file --batch``."""
    if not shas:
        return
    output = cache.git_bytes(["cat-file", "--batch"], stdin="".join(f"{sha}\n" for sha in shas))
    position = 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].split(b" ")
        position = end + 1
        if len(header) != 3:  # "<name> missing"
            continue
        size = int(header[2])
        yield header[0].decode("ascii"), output[position : position + size]
        position += size + 1
