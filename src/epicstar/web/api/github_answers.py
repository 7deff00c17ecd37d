"""What GitHub answered about a repository named in a request, as the API's answer.

Not found is the caller's to fix (404), as is a repository blocked for legal reasons (451).
The rest is not about the request: GitHub is out of reach, over its rate limit, or refuses
the service's token. Those get 503 with GitHub's reason (never a token), and ``Retry-After``
when a wait will help.
"""

from __future__ import annotations

import math

from fastapi import HTTPException

from epicstar.discovery import (
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    RateLimited,
    SourceBlocked,
    SourceGone,
)

RETRY_UNREACHABLE = 30
"""Seconds ``Retry-After`` suggests when GitHub could not be reached."""


def github_refusal(error: GitHubError) -> HTTPException:
    match error:
        case SourceGone():
            return HTTPException(404, str(error))
        case SourceBlocked():
            return HTTPException(451, str(error))
        case RateLimited(wait_seconds=wait):
            retry_after = str(max(1, math.ceil(wait)))
            return HTTPException(503, str(error), headers={"Retry-After": retry_after})
        case GitHubAuthError() | GitHubForbidden():
            return HTTPException(
                503, f"epicstar's GitHub token cannot be used, ask its operator: {error}"
            )
        case _:
            return HTTPException(
                503,
                f"GitHub cannot be asked now: {error}",
                headers={"Retry-After": str(RETRY_UNREACHABLE)},
            )
