"""Where an entry of the feed is on GitHub, and what it announces in a few words."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from epicstar.state.models import Commit, FeedKind, Repository


def github_pages(session: Session, github_ids: Iterable[int]) -> dict[int, str]:
    """Each repository's page on GitHub (its ``html_url``), for those that have a usable one."""
    wanted = sorted(set(github_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Repository.github_id, Repository.html_url).where(Repository.github_id.in_(wanted))
    ).all()
    return {github_id: url.rstrip("/") for github_id, url in rows if url and _is_web(url)}


def _is_web(url: str) -> bool:
    """Only an http(s) address becomes a link: GitHub's answers are not trusted to be sane."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def github_link(page: str | None, commit: Commit) -> str | None:
    """The entry on GitHub: a tag's release page, else the commit's page."""
    if page is None:
        return None
    if commit.kind == FeedKind.TAG and commit.ref:
        return f"{page}/releases/tag/{quote(commit.ref, safe='')}"
    return f"{page}/commit/{quote(commit.sha, safe='')}"


def headline(commit: Commit) -> str:
    """What the entry announces: the commit's title, ``tag v1.2`` or ``now mirrored``."""
    if commit.kind == FeedKind.TAG:
        return f"tag {commit.ref}"
    if commit.kind == FeedKind.MIRROR:
        return "now mirrored"
    return commit.title or "(no commit message)"
