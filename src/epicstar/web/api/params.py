"""Parameters and answers the routes share, and what no parameter may hold.

A NUL character fits every string type FastAPI validates, yet PostgreSQL refuses it in any
text it is asked to compare or store; the request is invalid, so it gets 422 before a route
runs, on SQLite too, so both databases answer alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path, Request

MAX_GITHUB_ID = 2**63 - 1  # GitHub's ids are stored as 64-bit integers

GitHubId = Annotated[
    int,
    Path(ge=1, le=MAX_GITHUB_ID, description="the repository's GitHub id (it survives renames)"),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no tracked repository has this id"}
}


def refuse_nul_characters(request: Request) -> None:
    """A router dependency: 422 when a query or path parameter holds a NUL character."""
    for where, values in (
        ("query", request.query_params.multi_items()),
        ("path", list(request.path_params.items())),
    ):
        for name, value in values:
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                printable = name.replace("\x00", "\\0")
                raise HTTPException(422, f"{where} parameter '{printable}' holds a NUL character")
