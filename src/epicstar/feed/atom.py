"""The feed as an Atom 1.0 document (RFC 4287), written by feedgen.

Every string in it came from GitHub (names, titles, bodies, refs) and is hostile: feedgen
escapes it as XML text, and :func:`xml_text` first drops the characters XML 1.0 forbids
(most control characters), so the document always parses. Authors appear by name only:
email addresses are not published in a feed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from feedgen.feed import FeedGenerator

from epicstar import __version__
from epicstar.feed.links import github_link, headline
from epicstar.feed.query import FeedEntry
from epicstar.state.models import Commit, FeedKind

CONTENT_TYPE = "application/atom+xml; charset=utf-8"
FEED_ID = "urn:epicstar:feed"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The ``updated`` of a feed with no entries (one is required; this one does not move)."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 does not allow anywhere in a document."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class AtomFeed:
    title: str
    self_url: str
    """Where the feed is (without its key)."""
    filters: Sequence[tuple[str, str]]
    """The filters that make this feed (they are part of its id)."""
    entries: Sequence[FeedEntry]
    """Newest first."""

    @property
    def id(self) -> str:
        if not self.filters:
            return FEED_ID
        return f"{FEED_ID}:" + ":".join(
            f"{name}={quote(value, safe='')}" for name, value in self.filters
        )

    def etag(self) -> str:
        """A strong validator of what :meth:`render` would write, found without writing it:
        entries are never changed once stored, so their ids, names and pages say it all."""
        digest = hashlib.sha256()
        for part in (__version__, self.title, self.self_url, self.id):
            digest.update(part.encode() + b"\0")
        for commit, full_name, page in self.entries:
            digest.update(f"{commit.id}\0{full_name}\0{page or ''}\0".encode())
        return f'"{digest.hexdigest()[:32]}"'

    def render(self) -> bytes:
        feed = FeedGenerator()
        feed.id(self.id)
        feed.title(xml_text(self.title))
        feed.link(href=xml_text(self.self_url), rel="self", type="application/atom+xml")
        feed.author({"name": "epicstar"})
        feed.generator("epicstar", version=__version__)
        newest = self.entries[0].commit.first_seen_at if self.entries else None
        feed.updated(_aware(newest) or EPOCH)
        for commit, full_name, page in self.entries:
            _add_entry(feed, commit, full_name, page)
        rendered: bytes = feed.atom_str(pretty=False)
        return rendered


def _add_entry(feed: FeedGenerator, commit: Commit, full_name: str, page: str | None) -> None:
    entry = feed.add_entry(order="append")
    entry.id(entry_id(commit))
    entry.title(xml_text(f"{full_name}: {headline(commit)}"))
    entry.updated(_aware(commit.first_seen_at) or EPOCH)
    published = _aware(commit.authored_at)
    if published is not None:
        entry.published(published)
    if commit.author_name:
        entry.author({"name": xml_text(commit.author_name)})
    link = github_link(page, commit)
    if link is not None:
        entry.link(href=xml_text(link), rel="alternate", type="text/html")
    entry.content(xml_text(describe(commit, full_name)), type="text")


def entry_id(commit: Commit) -> str:
    """The entry's permanent id: its repository, kind, ref and sha."""
    ref = quote(commit.ref, safe="")
    return f"urn:epicstar:{commit.repository_id}:{commit.kind}:{ref}:{commit.sha}"


def describe(commit: Commit, full_name: str) -> str:
    """The entry's text: what it is, its branches, its size, its message."""
    lines = [_what(commit, full_name), ""]
    if commit.branches:
        lines.append("Branches: " + ", ".join(commit.branches))
    stats = stats_line(commit)
    if stats:
        lines.append(stats)
    if commit.author_name:
        when = _aware(commit.authored_at)
        on = f" on {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
        lines.append(f"Author: {commit.author_name}{on}")
    if commit.committer_name and commit.committer_name != commit.author_name:
        lines.append(f"Committer: {commit.committer_name}")
    if commit.title and commit.kind != FeedKind.COMMIT:
        lines += ["", commit.title]
    if commit.body:
        lines += ["", commit.body]
    return "\n".join(lines).rstrip() + "\n"


def _what(commit: Commit, full_name: str) -> str:
    if commit.kind == FeedKind.TAG:
        return f"Tag {commit.ref} of {full_name}, at commit {commit.sha}."
    if commit.kind == FeedKind.MIRROR:
        head = f"{commit.ref} is at" if commit.ref else "its head is"
        return f"{full_name} is now mirrored; {head} commit {commit.sha}."
    merge = "Merge commit" if commit.is_merge else "Commit"
    return f"{merge} {commit.sha} in {full_name}: {commit.title or '(no commit message)'}"


def stats_line(commit: Commit) -> str:
    """``+12 \u22123, 4 files changed``, or as much of it as is known."""
    parts = []
    if commit.additions is not None and commit.deletions is not None:
        parts.append(f"+{commit.additions} \u2212{commit.deletions}")
    if commit.files_changed is not None:
        files = "file" if commit.files_changed == 1 else "files"
        parts.append(f"{commit.files_changed} {files} changed")
    return ", ".join(parts)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
