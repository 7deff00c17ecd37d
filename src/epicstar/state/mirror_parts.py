"""How a repository's LFS objects and wiki are mirrored, for status, the API and the dashboard."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from epicstar.state.models import Repository


def lfs_status(row: Repository) -> dict[str, Any]:
    """Whether the repository uses LFS, and which of its objects are not mirrored, by reason."""
    missing = row.lfs_missing or {}
    reasons = Counter(str(entry.get("reason", "")) for entry in missing.get("objects", []))
    return {
        "in_use": bool(row.uses_lfs),
        "up_to_date": row.lfs_refs is not None and row.lfs_refs == row.mirrored_refs,
        "missing": int(missing.get("count", 0)),
        "missing_by_reason": dict(reasons.most_common()),
    }


def wiki_status(row: Repository) -> dict[str, Any]:
    return {
        "state": row.wiki_state,
        "onedev_path": row.wiki_path,
        "refs": len(row.wiki_refs or {}),
        "last_synced_at": _iso(row.wiki_synced_at),
        "checked_at": _iso(row.wiki_checked_at),
    }


def warning(row: Repository) -> str | None:
    """What a mirror that otherwise succeeded lacks, in a sentence; None when nothing."""
    missing = row.lfs_missing or {}
    count = int(missing.get("count", 0))
    if not count:
        return None
    reasons = Counter(str(entry.get("reason", "")) for entry in missing.get("objects", []))
    named = "; ".join(f"{n}: {reason}" for reason, n in reasons.most_common(3))
    noun = "object" if count == 1 else "objects"
    return f"{count} LFS {noun} not mirrored: {named}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
