"""The Git LFS batch API (git-lfs's docs/api/batch.md), as a client.

One request names up to :data:`BATCH_SIZE` objects; the server answers, per object, where
to download or upload it (an ``href`` and the headers to send there), or why it cannot.
Credentials go to the batch endpoint only, and to an ``href`` only when it is on the same
origin and its action brings no ``Authorization`` of its own (as git-lfs does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from epicstar.mirror.credentials import HttpAuth, origin_of

MEDIA_TYPE = "application/vnd.git-lfs+json"
BATCH_SIZE = 100
"""Objects per batch request: git-lfs's own default."""


class LfsError(Exception):
    """An LFS request failed as a whole.

    ``transient``: the server or the network failed for a moment (5xx, 429, a dropped
    connection); ``status`` is the HTTP status when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        server: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.server = server


class LfsQuotaExceeded(LfsError):
    """GitHub refuses downloads: the repository is over its LFS bandwidth quota."""


@dataclass(frozen=True)
class Action:
    href: str
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class ObjectAnswer:
    """The server's answer for one object: an action to take, an error, or neither (for an
    upload: the server has it already)."""

    oid: str
    size: int
    action: Action | None = None
    verify: Action | None = None
    error: str | None = None
    error_code: int | None = None


def batch_url(git_url: str) -> str:
    """The batch endpoint git-lfs derives from a remote's URL."""
    base = git_url.rstrip("/")
    if not base.endswith(".git"):
        base += ".git"
    return f"{base}/info/lfs/objects/batch"


class BatchClient:
    def __init__(
        self, http: httpx.Client, git_url: str, auth: HttpAuth | None, *, server: str
    ) -> None:
        self.http = http
        self.url = batch_url(git_url)
        self.auth = auth
        self.server = server
        """Who answers, for messages: "GitHub" or "OneDev"."""

    def batch(self, operation: str, objects: Sequence[tuple[str, int]]) -> list[ObjectAnswer]:
        """One batch request for ``objects`` (``(oid, size)`` pairs)."""
        body = {
            "operation": operation,
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size} for oid, size in objects],
            "hash_algo": "sha256",
        }
        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE, **self._credentials(self.url)}
        try:
            response = self.http.post(self.url, json=body, headers=headers)
        except httpx.TransportError as error:
            raise LfsError(
                f"{self.server}'s LFS batch API could not be reached: {error}", transient=True
            ) from error
        if response.status_code != 200:
            raise self.refusal(response, "batch request")
        try:
            answers = response.json()["objects"]
            return [self._answer(item, operation) for item in answers]
        except (ValueError, KeyError, TypeError) as error:
            raise LfsError(
                f"{self.server}'s LFS batch API answered something that is not a batch "
                f"response: {error}"
            ) from error

    def headers_for(self, action: Action) -> dict[str, str]:
        """What to send to an action's ``href``."""
        headers = dict(action.headers)
        if not any(name.lower() == "authorization" for name in headers):
            headers.update(self._credentials(action.href))
        return headers

    def refusal(self, response: httpx.Response, what: str) -> LfsError:
        """The error for a request the server did not answer with success."""
        status = response.status_code
        message = _message(response)
        text = f"{self.server} refused the LFS {what} ({status}){': ' + message if message else ''}"
        if status == 403 and "quota" in message.lower():
            return LfsQuotaExceeded(text, status=status, server=self.server)
        transient = status == 429 or status >= 500
        return LfsError(text, status=status, transient=transient, server=self.server)

    def _credentials(self, url: str) -> dict[str, str]:
        if self.auth is None or _origin(url) != self.auth.origin:
            return {}
        name, _, value = self.auth.header.partition(": ")
        return {name: value}

    def _answer(self, item: Mapping[str, Any], operation: str) -> ObjectAnswer:
        oid, size = str(item["oid"]), int(item["size"])
        error = item.get("error")
        if error:
            return ObjectAnswer(
                oid, size, error=str(error.get("message", "")), error_code=error.get("code")
            )
        actions = item.get("actions") or {}
        return ObjectAnswer(
            oid, size, action=_action(actions.get(operation)), verify=_action(actions.get("verify"))
        )


def _action(data: Mapping[str, Any] | None) -> Action | None:
    if not data:
        return None
    return Action(
        str(data["href"]), {str(k): str(v) for k, v in (data.get("header") or {}).items()}
    )


def _origin(url: str) -> str | None:
    try:
        return origin_of(url)
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(data, Mapping):
        return str(data.get("message", ""))[:300]
    return ""
