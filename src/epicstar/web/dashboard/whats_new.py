"""``/whats-new``: the feed of new commits, tags and first mirrors across every repository,
newest first, filtered by repository, author and words, a page at a time, all in the URL,
with how to subscribe to it as Atom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from epicstar.feed import FeedFilter, page_of
from epicstar.feed.atom import stats_line
from epicstar.feed.links import github_link, headline
from epicstar.state import repositories
from epicstar.state.models import Commit, Repository
from epicstar.web.api.context import ApiContext, api_context
from epicstar.web.api.params import MAX_GITHUB_ID
from epicstar.web.authentication import Visitor
from epicstar.web.dashboard.access import viewer
from epicstar.web.dashboard.listing import page_number
from epicstar.web.dashboard.live import Seen
from epicstar.web.dashboard.rendering import page
from epicstar.web.feed_atom import PATH as FEED_PATH

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
MAX_FILTER = 200


@dataclass(frozen=True)
class Entry:
    """One row of the page: the entry and what is shown of it."""

    commit: Commit
    full_name: str
    headline: str
    link: str | None
    stats: str

    @property
    def short_sha(self) -> str:
        return self.commit.sha[:7]


@router.get("/whats-new")
def whats_new_page(
    request: Request,
    visitor: Annotated[Visitor, Depends(viewer())],
    api: Annotated[ApiContext, Depends(api_context)],
    fingerprint: Seen,
) -> Response:
    params = request.query_params
    repository_text = _filter_text(params.get("repository"))
    author = _filter_text(params.get("author"))
    words = _filter_text(params.get("q"))
    number = page_number(params.get("page"))
    with api.database.reading() as session:
        repository = _repository(session, repository_text) if repository_text else None
        unknown = bool(repository_text) and repository is None
        if unknown:
            entries: list[Entry] = []
            has_more = False
        else:
            wanted = FeedFilter(
                repository=repository.github_id if repository else None,
                author=author or None,
                words=words or None,
            )
            found = page_of(session, wanted, offset=(number - 1) * PER_PAGE, limit=PER_PAGE)
            entries = [
                Entry(
                    commit,
                    full_name,
                    headline(commit),
                    github_link(page, commit),
                    stats_line(commit),
                )
                for commit, full_name, page in found.entries
            ]
            has_more = found.has_more
    return page(
        request,
        "whats_new.html",
        visitor,
        fingerprint=fingerprint,
        entries=entries,
        has_more=has_more,
        page_number=number,
        repository_text=repository_text,
        repository=repository,
        unknown_repository=unknown,
        author=author,
        words=words,
        feed_url=_feed_url(request, repository, author, words),
    )


def _feed_url(request: Request, repository: Repository | None, author: str, words: str) -> str:
    """The Atom feed's address with this page's filters, its key left for the reader to fill."""
    filters = {
        "repository": str(repository.github_id) if repository else "",
        "author": author,
        "q": words,
    }
    query = urlencode({name: value for name, value in filters.items() if value})
    base = str(request.base_url).rstrip("/")
    return f"{base}{FEED_PATH}?key=…" + (f"&{query}" if query else "")


def _filter_text(value: str | None) -> str:
    """A filter's text from the URL, trimmed, without NUL characters, not too long."""
    return (value or "").replace("\x00", "").strip()[:MAX_FILTER]


def _repository(session: Session, text: str) -> Repository | None:
    """The repository a filter names: by GitHub id, or by its full name in any case."""
    if text.isdigit() and 1 <= int(text) <= MAX_GITHUB_ID:
        found = session.get(Repository, int(text))
        if found is not None:
            return found
    return repositories.by_name(session, text)
