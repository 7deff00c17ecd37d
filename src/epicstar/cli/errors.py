"""Which exceptions are the user's to fix, and the one line that tells them how."""

from __future__ import annotations

from epicstar.config import ConfigError
from epicstar.destination import OneDevError
from epicstar.discovery import GitHubError
from epicstar.state.database import DatabaseError
from epicstar.sync.tracking import BadRepositoryName

_USER_ERRORS = (ConfigError, DatabaseError, GitHubError, OneDevError, BadRepositoryName)


def user_error_message(error: BaseException) -> str | None:
    """One line for errors a user can act on; None for bugs, which keep their traceback."""
    if isinstance(error, _USER_ERRORS):
        return " ".join(str(error).split())
    return None
