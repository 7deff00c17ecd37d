"""What a page reads from its URL (a repository's id, a filter's value, the page number) and
how many pages a listing fills."""

from __future__ import annotations

from typing import Any

from epicstar.web.api.paging import MAX_PAGE
from epicstar.web.api.params import MAX_GITHUB_ID
from epicstar.web.dashboard.access import Refusal


def github_id_of(text: str) -> int:
    """A repository's id from the URL; anything else is a page that does not exist."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_GITHUB_ID:
        raise Refusal(404, f"'{text[:40]}' is not a GitHub repository id")
    return int(text)


def chosen(value: str | None, allowed: list[str]) -> str | None:
    """A filter's value when it is one of ``allowed``; anything else means no filter."""
    return value if value in allowed else None


def page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 1 <= int(value) <= MAX_PAGE else 1


def page_count(listed: dict[str, Any]) -> int:
    """The pages a listing (``{"total", "per_page", …}`` as the API answers) fills, at least 1."""
    return max(1, -(-int(listed["total"]) // int(listed["per_page"])))
