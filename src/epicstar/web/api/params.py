"""Path parameters and answers that several routes share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

MAX_GITHUB_ID = 2**63 - 1  # GitHub's ids are stored as 64-bit integers

GitHubId = Annotated[
    int,
    Path(ge=1, le=MAX_GITHUB_ID, description="the repository's GitHub id (it survives renames)"),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no tracked repository has this id"}
}
