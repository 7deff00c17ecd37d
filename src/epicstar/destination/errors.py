"""Errors raised by the OneDev client.

One base class, :class:`OneDevError`, carrying the HTTP status and OneDev's own
text (``detail``), and a subclass per situation a caller handles differently.
Messages are one line and never contain a token.
"""

from __future__ import annotations

__all__ = [
    "OneDevAuthError",
    "OneDevError",
    "OneDevNotAnApi",
    "OneDevNotFound",
    "OneDevUnavailable",
    "ProjectNameTaken",
]


class OneDevError(Exception):
    """Any failure talking to OneDev: ``status`` (if any) and OneDev's text (``detail``)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class OneDevAuthError(OneDevError):
    """401 or 403: the token is not accepted, or lacks the permission named in the message."""


class OneDevNotFound(OneDevError):
    """404: the project (or its parent) does not exist or is not visible to the token."""


class ProjectNameTaken(OneDevError):
    """OneDev's 500 ``Name '...' is already used by ...``: pick another (suffixed) name.

    ``parent_path`` is ``None`` when the clash is among root projects.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        parent_path: str | None,
        status: int | None = 500,
        detail: str = "",
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.name = name
        self.parent_path = parent_path


class OneDevUnavailable(OneDevError):
    """OneDev could not be reached, is starting (503), or failed without an explanation."""


class OneDevNotAnApi(OneDevError):
    """The configured URL answered with a web page or a redirect instead of OneDev's REST API."""
