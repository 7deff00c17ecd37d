"""Reading the user's starred list with as few counted requests as its changes allow.

A poll keeps marks of the list (:class:`ListMarks`): the ETags of page 1 and of the last
page, where the last page is, how many stars the list held and which was the newest. The
list is newest first, so a new star changes page 1, and removing any star shifts every
later one up by one, which changes the last page. Hence:

* page 1 and the last page both answer 304 (free): nothing was starred or unstarred;
* otherwise the pages down to the star that was newest give the new stars, and the last
  page gives the list's length. When that is the old length plus the new stars (and the
  known stars read are the newest the table knows), nothing was removed. Else every page
  is read: a complete walk, the only one that can decide unstars.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from epicstar.discovery import GitHubClient, Star, StarredPage
from epicstar.discovery.github import MAX_PER_PAGE
from epicstar.discovery.starred import page_number

PAGE_SIZE = MAX_PER_PAGE


@dataclass(frozen=True)
class ListMarks:
    """What a poll remembers of the list to notice the next change for free."""

    first_page_etag: str | None = None
    last_page_url: str | None = None  # None: the list fits on page 1
    last_page_etag: str | None = None
    stars: int = 0
    newest_star_id: int | None = None


def pages_of(marks: ListMarks) -> int:
    """The requests a complete walk of the list takes, as far as the marks tell."""
    return max(1, -(-marks.stars // PAGE_SIZE))


@dataclass
class StarWalk:
    marks: ListMarks
    stars: list[Star] = field(default_factory=list)
    complete: bool = False  # every page was read: unstars can be decided
    not_modified: bool = False  # page 1 answered 304: no new star
    requests: int = 0


class _Pages:
    """Asks for pages of one list and counts the requests."""

    def __init__(self, github: GitHubClient, user: str | None) -> None:
        self._github = github
        self._user = user
        self.requests = 0

    def first(self, etag: str | None = None) -> StarredPage:
        self.requests += 1
        return self._github.starred_page(self._user, etag=etag, per_page=PAGE_SIZE)

    def at(self, url: str, etag: str | None = None) -> StarredPage:
        self.requests += 1
        return self._github.starred_page(self._user, url=url, etag=etag)


def walk_stars(
    github: GitHubClient,
    user: str | None,
    *,
    marks: ListMarks,
    newest_known: list[int],
    full: bool,
) -> StarWalk:
    """Read the starred list: every page if ``full``, else only what changes call for."""
    pages = _Pages(github, user)
    if full:
        return _read_all(pages, pages.first(), [], None)
    first = pages.first(marks.first_page_etag)
    if first.not_modified:
        return _head_unchanged(pages, marks)
    return _head_changed(pages, first, marks, newest_known)


def _head_unchanged(pages: _Pages, marks: ListMarks) -> StarWalk:
    """Page 1 is as it was: no new star. The last page tells whether one was removed."""
    walk = StarWalk(marks, not_modified=True)
    if marks.last_page_url is not None:
        last = pages.at(marks.last_page_url, marks.last_page_etag)
        if not last.not_modified:
            if _length(marks.last_page_url, last, marks) != marks.stars:
                return _read_all(pages, pages.first(), [], None)
            # The same stars; what GitHub says about their repositories changed.
            walk.stars = list(last.stars)
            walk.marks = replace(marks, last_page_etag=last.etag)
    walk.requests = pages.requests
    return walk


def _head_changed(
    pages: _Pages, first: StarredPage, marks: ListMarks, newest_known: list[int]
) -> StarWalk:
    stars = list(first.stars)
    page, url = first, None
    while page.next_url and _position(stars, marks.newest_star_id) is None:
        url = page.next_url
        page = pages.at(url)
        stars.extend(page.stars)
    if page.next_url is None:
        return _complete(pages, first, stars, url, page)
    new = _position(stars, marks.newest_star_id)
    last_url = first.last_url
    if new is not None and last_url is not None and _head_is_certain(stars, newest_known):
        sent = marks.last_page_etag if last_url == marks.last_page_url else None
        last = pages.at(last_url, sent)
        length = _length(last_url, last, marks)
        if length == marks.stars + new:
            etag = marks.last_page_etag if last.not_modified else last.etag
            return StarWalk(
                ListMarks(first.etag, last_url, etag, length, _newest(stars)),
                stars + list(last.stars),
                requests=pages.requests,
            )
    return _read_all(pages, first, stars[len(first.stars) :], page)


def _read_all(
    pages: _Pages, first: StarredPage, read: list[Star], page: StarredPage | None
) -> StarWalk:
    """Read on from ``page`` (or from ``first``) to the end: a complete walk."""
    stars = list(first.stars) + read
    page = page or first
    url = None
    while page.next_url:
        url = page.next_url
        page = pages.at(url)
        stars.extend(page.stars)
    return _complete(pages, first, stars, url, page)


def _complete(
    pages: _Pages, first: StarredPage, stars: list[Star], last_url: str | None, last: StarredPage
) -> StarWalk:
    last_etag = last.etag if last_url is not None else None
    marks = ListMarks(first.etag, last_url, last_etag, len(stars), _newest(stars))
    return StarWalk(marks, stars, complete=True, requests=pages.requests)


def _length(url: str, last: StarredPage, marks: ListMarks) -> int | None:
    """How many stars the list holds, by its last page; None when that page is not the last."""
    if last.not_modified:
        return marks.stars
    number = page_number(url)
    if last.next_url is not None or number is None:
        return None
    return (number - 1) * PAGE_SIZE + len(last.stars)


def _position(stars: list[Star], github_id: int | None) -> int | None:
    """Where the star that was newest is now: how many stars came since."""
    for index, star in enumerate(stars):
        if star.repository.id == github_id:
            return index
    return None


def _newest(stars: list[Star]) -> int | None:
    return stars[0].repository.id if stars else None


def _head_is_certain(stars: list[Star], newest_known: list[int]) -> bool:
    """The known stars read are exactly the newest the table knows: nothing above was lost."""
    known = set(newest_known)
    seen = {star.repository.id for star in stars if star.repository.id in known}
    return seen == set(newest_known[: len(seen)])
