"""Which exceptions are the user's to fix, and the one line that tells them how."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from epicstar.agent.server import ServerError
from epicstar.cli.keys_command import KeyCommandError
from epicstar.cli.method_command import MethodCommandError
from epicstar.config import ConfigError
from epicstar.data_dir import DISK_FULL_ERRNOS, disk_full_message
from epicstar.destination import OneDevError
from epicstar.discovery import GitHubError
from epicstar.state.database import SETTING as DATABASE_SETTING
from epicstar.state.database import DatabaseError
from epicstar.sync.restore import RewriteCommandError
from epicstar.sync.tracking import BadRepositoryName

_SQLITE_FULL = "database or disk is full"
_USER_ERRORS = (
    ConfigError,
    DatabaseError,
    GitHubError,
    OneDevError,
    BadRepositoryName,
    KeyCommandError,
    ServerError,
    MethodCommandError,
    RewriteCommandError,
)


def user_error_message(error: BaseException) -> str | None:
    """One line for errors a user can act on; None for bugs, which keep their traceback."""
    if isinstance(error, _USER_ERRORS):
        return " ".join(str(error).split())
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return disk_full_message(error)
    if isinstance(error, OperationalError) and _SQLITE_FULL in str(error.orig):
        return f"{DATABASE_SETTING}: the database cannot be written: {_SQLITE_FULL}"
    return None
