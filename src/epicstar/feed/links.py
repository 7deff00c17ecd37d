"""Where an entry of the feed is on GitHub, and what it announces in a few words."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from epicstar.state.models import Commit, FeedKind


def web_page(html_url: str | None) -> str | None:
    """A repository's page on GitHub, if its ``html_url`` is an http(s) address: only such an
    address becomes a link, GitHub's answers are not trusted to be sane."""
    if not html_url:
        return None
    parts = urlsplit(html_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return html_url.rstrip("/")


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
