"""The starred list: one page of stars as GitHub's ``/user/starred`` returns it.

Only data types and parsing live here; :meth:`GitHubClient.starred_page
<epicstar.discovery.github.GitHubClient.starred_page>` makes the requests.
The list is asked for with ``Accept: application/vnd.github.star+json`` so each item
is ``{"starred_at": ..., "repo": {...}}`` (research/github.md §1.3 A). Bare repository
objects (what GitHub sends when the media type got lost, for example behind a
proxy) are accepted too, with ``starred_at=None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from epicstar.discovery.repository import Repository

__all__ = ["STAR_ACCEPT", "Star", "StarredPage", "page_number"]

STAR_ACCEPT = "application/vnd.github.star+json"
"""The media type that adds ``starred_at`` to each item of a starred list."""


@dataclass(frozen=True)
class Star:
    """One starred repository; ``starred_at`` is timezone-aware UTC, or ``None`` if unknown."""

    repository: Repository
    starred_at: datetime | None


@dataclass(frozen=True)
class StarredPage:
    """One page of a starred list.

    ``etag`` is the one to send as ``etag=`` next time to ask "changed?" for free.
    ``next_url`` is the ``rel="next"`` URL of the ``Link`` header (pass it back as
    ``url=``), ``None`` on the last page. ``last_url`` is the ``rel="last"`` URL and
    ``last_page`` its ``page`` number, when GitHub sent one (it does not on the last page
    itself). ``not_modified`` means GitHub answered 304 to the ETag that was sent: nothing
    changed, ``stars`` is empty, and the links are ``None``.
    """

    stars: tuple[Star, ...]
    etag: str | None
    next_url: str | None
    last_url: str | None
    not_modified: bool = False

    @property
    def last_page(self) -> int | None:
        return page_number(self.last_url)


def star_from_api(item: Any) -> Star:
    """Build a :class:`Star` from one item of the list; :class:`ValueError` if malformed."""
    if not isinstance(item, Mapping):
        raise ValueError("the item is not a JSON object")
    if "repo" not in item:
        return Star(Repository.from_api(item), None)
    repo = item["repo"]
    if not isinstance(repo, Mapping):
        raise ValueError("field 'repo' is not an object")
    return Star(Repository.from_api(repo), _starred_at(item.get("starred_at")))


def stars_from_body(body: Any) -> tuple[Star, ...]:
    """Parse a whole page body (a JSON array); the :class:`ValueError` names the bad item."""
    if not isinstance(body, list):
        raise ValueError("the body is not a JSON array")
    stars: list[Star] = []
    for index, item in enumerate(body):
        try:
            stars.append(star_from_api(item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return tuple(stars)


def page_links(response: httpx.Response) -> tuple[str | None, str | None]:
    """``(next_url, last_url)`` from the ``Link`` header; URLs are taken as GitHub sent them."""
    links = response.links
    next_link = links.get("next", {}).get("url")
    last_link = links.get("last", {}).get("url")
    next_url = str(response.url.join(next_link)) if next_link else None
    last_url = str(response.url.join(last_link)) if last_link else None
    return next_url, last_url


def page_number(url: str | None) -> int | None:
    """The ``page`` query parameter of a page URL GitHub sent, ``None`` if it has none."""
    if not url:
        return None
    try:
        page = httpx.URL(url).params.get("page")
    except httpx.InvalidURL:
        return None
    if page is None or not page.isascii() or not page.isdigit():
        return None
    number = int(page)
    return number if number > 0 else None


def _starred_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("field 'starred_at' is not a timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("field 'starred_at' is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # GitHub writes UTC ("…Z")
    return moment.astimezone(UTC)
