"""``?page=&per_page=`` and the ``{"items", "total", "page", "per_page"}`` answer (or, where
counting every match would cost more than the page, ``has_more`` instead of ``total``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query

MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def answer(self, items: Sequence[dict[str, Any]], total: int) -> dict[str, Any]:
        return {"items": list(items), "total": total, "page": self.page, "per_page": self.per_page}

    def answer_uncounted(self, items: Sequence[dict[str, Any]], has_more: bool) -> dict[str, Any]:
        return {
            "items": list(items),
            "page": self.page,
            "per_page": self.per_page,
            "has_more": has_more,
        }


def paging(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the first page")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="items per page")
    ] = DEFAULT_PER_PAGE,
) -> Paging:
    return Paging(page, per_page)
