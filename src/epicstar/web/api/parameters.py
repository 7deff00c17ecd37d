"""What no query or path parameter of the API may hold, whatever its route declares.

A NUL character fits every string type FastAPI validates, yet PostgreSQL refuses it in any
text it is asked to compare or store; the request is invalid, so it gets 422 before a route
runs, on SQLite too, so both databases answer alike.
"""

from __future__ import annotations

from fastapi import HTTPException, Request


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
