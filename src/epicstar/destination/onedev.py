"""A small synchronous client for OneDev's REST API (``/~api``, OneDev 12.0.10+).

Facts it relies on are in research/onedev.md: errors are plain text, success of
a create is ``200`` with a bare number, a name clash is a ``500``, update is a
full replace, the default branch is set with a JSON string body, and an old or
wrong base URL answers with the web UI's HTML instead of JSON.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from epicstar.destination.errors import (
    OneDevAuthError,
    OneDevError,
    OneDevNotAnApi,
    OneDevNotFound,
    OneDevUnavailable,
    ProjectNameTaken,
)
from epicstar.destination.naming import is_valid_name
from epicstar.http_client import TRANSIENT_STATUSES, PooledClient, tls_context
from epicstar.retry import DEFAULT_RETRY, RetryPolicy

__all__ = [
    "API_PREFIX",
    "MAX_DESCRIPTION_LENGTH",
    "READ_ONLY_FIELDS",
    "OneDevClient",
    "answered_html",
]

API_PREFIX = "/~api"
MAX_DESCRIPTION_LENGTH = 15000
"""OneDev cuts longer descriptions (``Project.MAX_DESCRIPTION_LEN``); we cut first."""
READ_ONLY_FIELDS = frozenset({"id", "path", "createDate"})
"""``ProjectData`` fields OneDev computes itself and ignores on input."""

_NAME_TAKEN = re.compile(
    r"Name '(?P<name>.*)' is already used by another "
    r"(?:root project|project under '(?P<parent>.*)')"
)
# OneDev's ExplicitExceptions (500 with a message) that no second try changes.
_EXPLAINED = re.compile(r"is already used by another|^Branch not exist:|^Field not found:")
_UNDER = re.compile(r"under '(?P<parent>[^']*)'")
_CHECK_SETTING = "check EPICSTAR_ONEDEV_TOKEN"

Need = Literal["server", "read", "read_code", "create_root", "create_child", "manage"]


@dataclass(frozen=True)
class _Op:
    """What a request is for, so an error can say which permission was missing."""

    verb: str  # "create project 'x'", "update project #3", ...
    need: Need
    subject: str = ""  # the project (or parent) the permission applies to
    repeatable: bool = True  # sending it twice does no more than sending it once


def answered_html(response: httpx.Response) -> bool:
    """Whether an ``/~api`` request was answered by a web page rather than the REST API.

    That happens when ``EPICSTAR_ONEDEV_URL`` points somewhere else than the
    OneDev root URL, or at a OneDev older than 7.8 (its API lived at ``/api``
    and ``/~api/...`` is treated as a project page there).
    """
    if "html" in response.headers.get("content-type", "").lower():
        return True
    start = response.content[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html"))


class OneDevClient(PooledClient):
    """Synchronous OneDev REST client; use as a context manager or call :meth:`close`.

    ``url`` is the server's root URL (``https://onedev.example.com``); a
    trailing ``/~api`` is tolerated. Requests that may be repeated (reads and
    full-replace updates) are tried again after a network error or a 500/502/503/504
    (not a name clash) as ``retry`` allows, waiting through the injected ``sleep``;
    a create looks for its project before it is tried again.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        root = url.strip().rstrip("/")
        root = root.removesuffix(API_PREFIX).rstrip("/")
        parsed = httpx.URL(root)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the OneDev URL must be an absolute http(s) URL")
        if parsed.userinfo:
            raise ValueError("the OneDev URL must not contain credentials; use the token")
        if not token:
            raise ValueError("a OneDev access token is required")
        self.url = root
        self._token = SecretStr(token)
        self._retry = retry
        self._sleep = sleep
        self._client = httpx.Client(
            verify=tls_context(),
            base_url=root + API_PREFIX + "/",
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/plain;q=0.9",
            },
        )

    def __repr__(self) -> str:
        return f"OneDevClient(url={self.url!r})"

    # server
    def server_version(self) -> str:
        """``GET /~api/version/server``, e.g. ``'16.5.6'``."""
        response = self._call("GET", "version/server", _Op("read the server version", "server"))
        return _plain_string(response.text) or ""

    def git_url(self, path: str) -> str:
        """Clone/push URL of a project, ``<url>/<path>.git``, from the configured URL."""
        return f"{self.url}/{path.strip('/')}.git"

    # projects
    def find_project_id(self, path: str) -> int | None:
        """Id of the project at ``path`` (case-insensitive), or ``None`` if none is visible."""
        path = path.strip("/")
        if not path:
            raise ValueError("a project path cannot be empty")
        op = _Op(f"look up project '{path}'", "read", f"'{path}'")
        response = self._lookup(f"projects/ids/{quote(path, safe='/')}", op)
        if response is None:
            return None
        return _parse_id(response, op)

    def get_project(self, project_id: int) -> dict[str, Any] | None:
        """The project's ``ProjectData`` as a dict, or ``None`` if the id is unknown."""
        op = _Op(f"read project #{project_id}", "read", f"project #{project_id}")
        response = self._lookup(f"projects/{int(project_id)}", op)
        if response is None:
            return None
        body = _json(response, op)
        if not isinstance(body, dict):
            raise _unexpected(op, response, "a JSON object")
        return body

    def create_project(
        self,
        name: str,
        parent_id: int | None,
        *,
        description: str | None = None,
        code_management: bool = True,
        issue_management: bool = False,
    ) -> int:
        """Create one project (a root project when ``parent_id`` is ``None``); return its id.

        ``name`` must already be a valid OneDev name (see
        :func:`epicstar.destination.naming.onedev_name`): the REST API does not
        check names itself. Raises :class:`ProjectNameTaken` on a clash (OneDev
        compares names without regard to case).

        When the request fails in a way that may pass (a network error, a 5xx other than a
        name clash), the project may have been created all the same: it is looked up
        before the create is sent again, and found, it is the answer.
        """
        if not is_valid_name(name):
            raise ValueError(f"{name!r} is not a valid OneDev project name")
        body: dict[str, Any] = {
            "name": name,
            "parentId": parent_id,
            "codeManagement": code_management,
            "issueManagement": issue_management,
            "gitPackConfig": {},
            "codeAnalysisSetting": {},
        }
        if description is not None:
            body["description"] = _description(description)
        if parent_id is None:
            op = _Op(f"create root project '{name}'", "create_root", repeatable=False)
        else:
            op = _Op(
                f"create project '{name}'",
                "create_child",
                f"project #{parent_id}",
                repeatable=False,
            )
        tried = False

        def create() -> int:
            nonlocal tried
            if tried:
                found = self._created_meanwhile(name, parent_id, body.get("description"))
                if found is not None:
                    return found
            tried = True
            return _parse_id(self._call("POST", "projects", op, json_body=body), op)

        return self._retry.run(
            create, transient=is_transient, what=f"OneDev: {op.verb}", sleep=self._sleep
        )

    def _created_meanwhile(
        self, name: str, parent_id: int | None, description: str | None
    ) -> int | None:
        """The project an unanswered create made, if it made one: at its path, with the
        description that was sent. Another project there is a name clash."""
        path = name
        if parent_id is not None:
            parent = self._require(parent_id, f"create project '{name}' in it")
            path = f"{parent['path']}/{name}"
        found = self.find_project_id(path)
        if found is None:
            return None
        project = self._require(found, "check who created it")
        if _description(project.get("description")) != _description(description):
            under = f"project under '{path.rpartition('/')[0]}'" if parent_id else "root project"
            raise ProjectNameTaken(
                f"OneDev could not create project '{name}': the name is already used by "
                f"another {under}",
                name=name,
                parent_path=path.rpartition("/")[0] or None,
            )
        return found

    def update_project(self, project_id: int, data: Mapping[str, Any]) -> None:
        """``POST /~api/projects/{id}``: **a full replace**, not a patch.

        ``data`` must be a complete ``ProjectData``: an omitted ``parentId``
        moves the project to the root, an omitted ``forkedFromId`` unlinks a
        fork, omitted flags revert to defaults, and ``gitPackConfig`` and
        ``codeAnalysisSetting`` are required. Start from :meth:`get_project`
        (as :meth:`set_description` does) rather than building it by hand.
        """
        self._update(project_id, data, f"project #{project_id}")

    def _update(self, project_id: int, data: Mapping[str, Any], label: str) -> None:
        op = _Op(f"update {label}", "manage", label)
        self._call("POST", f"projects/{int(project_id)}", op, json_body=dict(data))

    def set_description(self, project_id: int, description: str | None) -> bool:
        """Set the description, keeping every other field (``parentId`` included).

        Returns ``False`` without writing when the description is already the same.
        """
        project = self._require(project_id, "set its description")
        wanted = _description(description)
        if _description(project.get("description")) == wanted:
            return False
        self._rewrite(project, {"description": wanted})
        return True

    def move_project(self, project_id: int, parent_id: int | None, name: str | None = None) -> None:
        """Put the project under ``parent_id`` (root when None), renamed to ``name`` if given,
        keeping every other field."""
        if name is not None and not is_valid_name(name):
            raise ValueError(f"{name!r} is not a valid OneDev project name")
        project = self._require(project_id, "move it")
        changes: dict[str, Any] = {"parentId": parent_id}
        if name is not None:
            changes["name"] = name
        self._rewrite(project, changes)

    def _require(self, project_id: int, purpose: str) -> dict[str, Any]:
        project = self.get_project(project_id)
        if project is None:
            raise OneDevNotFound(
                f"OneDev project #{project_id} not found: cannot {purpose}", status=404
            )
        return project

    def _rewrite(self, project: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        """Read-modify-write for the full-replace update: post back everything the project
        has, minus the read-only fields, with ``changes`` applied."""
        data = {key: value for key, value in project.items() if key not in READ_ONLY_FIELDS}
        data.update(changes)
        for required in ("gitPackConfig", "codeAnalysisSetting"):
            if data.get(required) is None:
                data[required] = {}
        path = project.get("path")
        label = f"project '{path}'" if isinstance(path, str) else f"project #{project.get('id')}"
        self._update(int(project["id"]), data, label)

    def delete_project(self, project_id: int) -> None:
        """``DELETE /~api/projects/{id}``: removes the project **and all its descendants**.

        Not repeated: after a lost answer, a second delete would fail with 404."""
        label = f"project #{project_id}"
        op = _Op(f"delete {label}", "manage", label, repeatable=False)
        self._call("DELETE", f"projects/{int(project_id)}", op)

    def base_authorizations(self, project_id: int) -> list[dict[str, Any]]:
        """The project's own default roles (``BaseAuthorization`` rows; inherited ones are on
        the ancestors). Needs manage permission on the project."""
        label = f"project #{project_id}"
        op = _Op(f"read the default roles of {label}", "manage", label)
        response = self._call("GET", f"projects/{int(project_id)}/base-authorizations", op)
        body = _json(response, op)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise _unexpected(op, response, "a JSON array of objects")
        return body

    # repositories
    def get_default_branch(self, project_id: int) -> str | None:
        """The default branch, or ``None`` when the repository is empty (204)."""
        label = f"project #{project_id}"
        op = _Op(f"read the default branch of {label}", "read_code", label)
        response = self._call("GET", f"repositories/{int(project_id)}/default-branch", op)
        if response.status_code == 204:
            return None
        return _plain_string(response.text)

    def set_default_branch(self, project_id: int, branch: str) -> None:
        """Point HEAD at ``branch`` (which must already be pushed)."""
        if not branch:
            raise ValueError("a branch name cannot be empty")
        label = f"project #{project_id}"
        op = _Op(f"set the default branch of {label}", "manage", label)
        self._call(
            "POST",
            f"repositories/{int(project_id)}/default-branch",
            op,
            raw_json=json.dumps(branch),
        )

    def branches(self, project_id: int) -> list[str]:
        """Short names of the project's branches."""
        return self._names(project_id, "branches")

    def tags(self, project_id: int) -> list[str]:
        """Short names of the project's tags."""
        return self._names(project_id, "tags")

    def _names(self, project_id: int, kind: str) -> list[str]:
        label = f"project #{project_id}"
        op = _Op(f"list the {kind} of {label}", "read_code", label)
        response = self._call("GET", f"repositories/{int(project_id)}/{kind}", op)
        body = _json(response, op)
        if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
            raise _unexpected(op, response, "a JSON array of names")
        return [str(item) for item in body]

    # transport
    def _call(
        self,
        method: str,
        path: str,
        op: _Op,
        *,
        json_body: Any = None,
        raw_json: str | None = None,
    ) -> httpx.Response:
        """Send one request and return its 2xx response; raise the matching error otherwise."""
        response = self._send(method, path, op, json_body=json_body, raw_json=raw_json)
        if not response.is_success:
            raise self._error_for(response, op)
        return response

    def _lookup(self, path: str, op: _Op) -> httpx.Response | None:
        """A GET whose 404 means "no such thing" rather than an error."""
        response = self._send("GET", path, op)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._error_for(response, op)
        return response

    def _send(
        self,
        method: str,
        path: str,
        op: _Op,
        *,
        json_body: Any = None,
        raw_json: str | None = None,
    ) -> httpx.Response:
        """One exchange, repeated after a passing failure when ``op`` may be; refuses answers
        that are not the REST API."""
        headers: dict[str, str] = {}
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
        elif raw_json is not None:
            content = raw_json.encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._exchange(
                method,
                path,
                repeatable=op.repeatable,
                what=f"OneDev: {op.verb}",
                transient=lambda answer: _EXPLAINED.search(answer.text.strip()) is None,
                content=content,
                headers=headers,
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise OneDevError(
                f"cannot use the OneDev URL {self.url}: {self._scrub(str(exc))}"
            ) from None
        except httpx.TransportError as exc:
            raise OneDevUnavailable(
                f"cannot reach OneDev at {self.url} to {op.verb}: "
                f"{type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        if response.status_code < 500:
            self._check_api(response, op)
        return response

    def _check_api(self, response: httpx.Response, op: _Op) -> None:
        """Refuse web pages and redirects: the URL is not OneDev's REST API."""
        where = f"OneDev URL {self.url} answered the request to {op.verb}"
        fix = (
            "set EPICSTAR_ONEDEV_URL to the OneDev server's root URL (without /~api); "
            "OneDev serves its REST API at /~api only from version 7.8 on "
            "(epicstar needs 12.0.10 or newer)"
        )
        if response.is_redirect:
            target = httpx.URL(response.headers.get("location", "")).copy_with(query=None)
            raise OneDevNotAnApi(
                f"{where} with a redirect to {target} instead of the REST API: {fix}",
                status=response.status_code,
            )
        if answered_html(response):
            raise OneDevNotAnApi(
                f"{where} with an HTML page instead of the REST API: {fix}",
                status=response.status_code,
            )

    def _error_for(self, response: httpx.Response, op: _Op) -> OneDevError:
        status = response.status_code
        detail = self._scrub(response.text)
        said = f"{status} {detail}".rstrip()
        if status == 401:
            if detail.startswith("Not authenticated"):
                return OneDevAuthError(
                    f"OneDev received no credentials to {op.verb} ({said}): set "
                    "EPICSTAR_ONEDEV_TOKEN, and make sure any proxy in front of OneDev "
                    "passes the Authorization header on",
                    status=status,
                    detail=detail,
                )
            return OneDevAuthError(
                f"OneDev rejected the token trying to {op.verb} ({said}): it is invalid or "
                f"expired, or its user is disabled; {_CHECK_SETTING}",
                status=status,
                detail=detail,
            )
        if status == 403:
            return OneDevAuthError(
                f"OneDev refused to {op.verb} ({said}): {_missing_permission(op, detail)}",
                status=status,
                detail=detail,
            )
        if status == 404:
            return OneDevNotFound(
                f"OneDev could not {op.verb} ({said})", status=status, detail=detail
            )
        taken = _NAME_TAKEN.search(detail) if status == 500 else None
        if taken is not None:
            return ProjectNameTaken(
                f"OneDev could not {op.verb}: {detail}",
                name=taken["name"],
                parent_path=taken["parent"],
                status=status,
                detail=detail,
            )
        html = answered_html(response)
        if status >= 500 and (status != 500 or not detail or html):
            shown = "" if html else detail
            return OneDevUnavailable(
                f"OneDev failed to {op.verb} ({status} {shown}".rstrip()
                + "): the server is unavailable or starting; try again later",
                status=status,
                detail=shown,
            )
        return OneDevError(f"OneDev could not {op.verb} ({said})", status=status, detail=detail)

    def _scrub(self, text: str) -> str:
        """One line, bounded, and never the token."""
        text = " ".join(text.replace(self._token.get_secret_value(), "***").split())
        return text if len(text) <= 300 else text[:299] + "…"


# ------------------------------------------------------------------------ helpers


def is_transient(error: BaseException) -> bool:
    """Whether a failed request may well succeed if sent again in a moment (not a name
    clash nor another of OneDev's explained 500s)."""
    if isinstance(error, ProjectNameTaken):
        return False
    if isinstance(error, OneDevUnavailable):
        return True
    return (
        isinstance(error, OneDevError)
        and error.status in TRANSIENT_STATUSES
        and _EXPLAINED.search(error.detail) is None
    )


def _missing_permission(op: _Op, detail: str) -> str:
    owner_note = (
        "the access token must have 'has owner permissions' enabled "
        "(or be given that role on the project itself)"
    )
    if op.need == "create_root":
        return (
            "the token's user must be allowed to create root projects (an administrator, or "
            "a member of a group with 'Create Root Projects'), and the access token must have "
            f"'has owner permissions' enabled; {_CHECK_SETTING}"
        )
    if op.need == "create_child":
        under = _UNDER.search(detail)
        parent = f"'{under['parent']}'" if under else op.subject
        return f"the token needs 'Create Children' permission on {parent}; {owner_note}"
    if op.need == "manage":
        return f"the token needs 'Manage Project' permission on {op.subject}; {owner_note}"
    if op.need == "read_code":
        return f"the token needs 'Read Code' permission on {op.subject}; {owner_note}"
    if op.need == "read":
        return f"the token needs access to {op.subject}; {owner_note}"
    return f"the token's user lacks a permission; {_CHECK_SETTING}"


def _description(value: object) -> str | None:
    """Normalise like OneDev stores it: blank is ``None``, long text is cut."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:MAX_DESCRIPTION_LENGTH]


def _plain_string(text: str) -> str | None:
    """A string endpoint's body, raw (``main``) or JSON-quoted (``"main"``)."""
    text = text.strip()
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        text = value if isinstance(value, str) else text
    return text or None


def _json(response: httpx.Response, op: _Op) -> Any:
    try:
        return json.loads(response.text)
    except json.JSONDecodeError:
        raise _unexpected(op, response, "JSON") from None


def _parse_id(response: httpx.Response, op: _Op) -> int:
    body = _json(response, op)
    if isinstance(body, bool) or not isinstance(body, int):
        raise _unexpected(op, response, "a project id")
    return body


def _unexpected(op: _Op, response: httpx.Response, wanted: str) -> OneDevError:
    return OneDevError(
        f"OneDev answered the request to {op.verb} with something other than {wanted} "
        f"(status {response.status_code})",
        status=response.status_code,
    )
