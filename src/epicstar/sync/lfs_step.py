"""The LFS part of a pass: after the refs, the LFS objects their history references.

Due only when the refs mirrored differ from those whose LFS objects were last handled
(``lfs_refs``): an unchanged repository makes no LFS request. A repository not known to use
LFS is looked at cheaply first (its top ``.gitattributes``); one that does has only the
commits new since ``lfs_refs`` read, and moves only the objects they bring. Objects that
cannot be mirrored are kept in ``lfs_missing`` with the reason, and tried again the next
time LFS is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import structlog

from epicstar.http_client import tls_context
from epicstar.mirror.cache import RepoCache
from epicstar.mirror.lfs.batch import BatchClient, LfsError
from epicstar.mirror.lfs.pointers import Pointer, scan_pointers, tracks_lfs
from epicstar.mirror.lfs.store import LfsStore
from epicstar.mirror.lfs.transfer import Missing, relay
from epicstar.state.models import Repository, SyncMethod
from epicstar.sync.context import SyncContext, interruptible_sleep, user_agent

log = structlog.get_logger("epicstar.sync")
T = TypeVar("T")
_MIB = 1024 * 1024
MISSING_KEPT = 1000
"""Missing objects kept by name; when more are missing, the next LFS pass reads the whole
history again to find the rest."""


@dataclass(frozen=True)
class LfsTally:
    """What the LFS part of one pass did, for its attempt."""

    objects_fetched: int
    bytes_fetched: int
    objects_pushed: int
    bytes_pushed: int
    missing: int
    quota_exceeded: bool = False


def lfs_due(ctx: SyncContext, repo: Repository, *, force: bool = False) -> bool:
    if not ctx.settings.lfs or repo.sync_method == SyncMethod.AGENT:
        return False
    if repo.mirrored_refs is None:
        return False
    return force or repo.lfs_refs != repo.mirrored_refs


def mirror_lfs(
    ctx: SyncContext, repo: Repository, cache: RepoCache, source: str, *, force: bool = False
) -> LfsTally | None:
    """Mirror the LFS objects of ``repo``'s mirrored refs; None when there was nothing to do.

    With ``force`` the whole history is read again and OneDev asked about every object.
    """
    if not lfs_due(ctx, repo, force=force):
        return None
    refs = dict(repo.mirrored_refs or {})
    done = {} if force else dict(repo.lfs_refs or {})
    tips = sorted({sha for name, sha in refs.items() if done.get(name) != sha})
    if not repo.uses_lfs:
        if not tracks_lfs(cache, tips):
            repo.lfs_refs = refs
            return None
        repo.uses_lfs = True
        done = {}  # its history was never read for pointers
    before = repo.lfs_missing or {}
    if int(before.get("count", 0)) > len(before.get("objects", [])):
        done = {}  # more were missing than were kept: read the whole history again
    if not done:
        tips = sorted(set(refs.values()))
    known = sorted(set(done.values()))
    exclude = sorted(set(known) - cache.missing(known))
    pointers = _unique([*scan_pointers(cache, tips, exclude), *_missing_before(repo)])
    tally, missing = transfer_lfs(ctx, repo.onedev_path or "", cache, source, pointers)
    repo.lfs_missing = (
        {"count": len(missing), "objects": [_as_row(m) for m in missing[:MISSING_KEPT]]}
        if missing
        else None
    )
    repo.lfs_refs = refs
    if missing:
        log.warning(
            "lfs.missing",
            objects=len(missing),
            reasons=sorted({entry.reason for entry in missing})[:5],
        )
    return tally


def transfer_lfs(
    ctx: SyncContext, onedev_path: str, cache: RepoCache, source: str, pointers: list[Pointer]
) -> tuple[LfsTally, list[Missing]]:
    """Put ``pointers``' objects in OneDev's project at ``onedev_path``: from the cache's LFS
    store, fetched from GitHub's (``source``) first when the store lacks them. OneDev is sent
    only those it lacks. Raises LfsError when it fails for good."""
    limit = ctx.settings.lfs_max_object_mb
    wanted: list[Pointer] = []
    missing: list[Missing] = []
    for pointer in pointers:
        if limit is not None and pointer.size > limit * _MIB:
            reason = f"larger than EPICSTAR_LFS_MAX_OBJECT_MB ({limit} MiB): skipped"
            missing.append(Missing(pointer, reason))
        else:
            wanted.append(pointer)
    store = LfsStore(cache.path)
    timeout = httpx.Timeout(float(ctx.settings.http_timeout))
    with httpx.Client(
        verify=tls_context(),
        timeout=timeout,
        follow_redirects=True,
        headers={"User-Agent": user_agent()},
    ) as http:
        github = BatchClient(http, source, ctx.github_auth(source), server="GitHub")
        onedev = BatchClient(
            http, ctx.onedev.git_url(onedev_path), ctx.onedev_auth(), server="OneDev"
        )
        relayed = ctx.retry.run(
            lambda: relay(github, onedev, store, wanted, stopping=ctx.stopping),
            transient=lambda error: isinstance(error, LfsError) and error.transient,
            what="LFS transfer",
            sleep=interruptible_sleep(ctx.stopping),
        )
    fetched, pushed = relayed.fetched, relayed.pushed
    missing += [m for m in fetched.missing if not store.has(m.pointer.oid, m.pointer.size)]
    missing += pushed.missing
    tally = LfsTally(
        objects_fetched=fetched.objects,
        bytes_fetched=fetched.bytes,
        objects_pushed=pushed.objects,
        bytes_pushed=pushed.bytes,
        missing=len(missing),
        quota_exceeded=fetched.quota_exceeded,
    )
    return tally, missing


def _missing_before(repo: Repository) -> list[Pointer]:
    return [
        Pointer(str(row["oid"]), int(row["size"]), str(row.get("path", "")))
        for row in (repo.lfs_missing or {}).get("objects", [])
    ]


def _unique(pointers: list[Pointer]) -> list[Pointer]:
    seen: dict[str, Pointer] = {}
    for pointer in pointers:
        seen.setdefault(pointer.oid, pointer)
    return list(seen.values())


def _as_row(entry: Missing) -> dict[str, Any]:
    return {
        "oid": entry.pointer.oid,
        "size": entry.pointer.size,
        "path": entry.pointer.path,
        "reason": entry.reason,
    }
