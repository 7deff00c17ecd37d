"""Git LFS of the OneDev stand-in, as OneDev 16.5's ``GitLfsFilter`` serves it.

Authentication is the same as for git and ``/~api`` (:mod:`.onedev_auth`).  Two kinds of request:

* The LFS API: ``application/vnd.git-lfs+json`` at the start of ``Content-Type`` or ``Accept``;
  the project path is what comes before the last ``.git/``.  ``…/objects/batch`` (read code to
  download, write code to upload), ``…/locks`` (GET lists, POST locks; read / write),
  ``…/locks/verify`` and ``…/locks/<id>/unlock`` (write).  Any other such path: 200, no body.
* Object transfer: any URL with ``lfs-objects=true``; project path as above, the oid after the
  last ``/``.  GET downloads (read code); any other method uploads (write code).

What OneDev answers, and so the stand-in: errors are ``{"message": …}`` in the LFS media type.
Anonymous: 401 ``Authentication required`` with ``LFS-Authenticate: Basic realm="OneDev"``; an
unknown project: 404 ``Project not found or inaccessible: <path>``; no permission: 403
``Permission denied``.  Only the ``basic`` transfer and ``sha256`` (else 406).  Per object: 406
over ``max_git_lfs_file_size`` MB, else upload actions only for objects not stored yet, download
actions for stored ones and 404 ``Object not found`` for others; no ``verify`` action, no expiry.
The action's ``Authorization: Bearer`` is the caller's token.  A body that is not JSON, a missing
field or an invalid oid: 500 ``Internal server error, please check server log``.  An upload is
checked against its oid (SHA-256 of the body; the size is not checked): on a mismatch the object
is deleted, even one stored before, with a bare 500.  GET of an object not stored: 404 text.

Where the stand-in differs: an upload is written beside the store and moved in once verified
(OneDev writes in place and makes readers wait); it has no password logins, so no 300-second
temporary tokens; and action URLs use the request's base URL, not a configured server URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from epicstar.sandbox.lfs import is_oid
from epicstar.sandbox.onedev import Principal
from epicstar.sandbox.onedev_api import text
from epicstar.sandbox.onedev_auth import authenticate
from epicstar.sandbox.onedev_data import (
    LfsLock,
    Project,
    RestError,
    jackson_dumps,
    java_hash_set_order,
)

if TYPE_CHECKING:
    from epicstar.sandbox.onedev import FakeOneDev

LFS_JSON = "application/vnd.git-lfs+json"
OCTET_STREAM = "application/octet-stream"
LFS_AUTHENTICATE = {"lfs-authenticate": 'Basic realm="OneDev"'}
INTERNAL_ERROR = "Internal server error, please check server log"
MAX_PAGE_SIZE = 100
READ_CHUNK = 256 * 1024
_JAVA_INT = re.compile(r"[+-]?[0-9]+")

MISSING: Any = object()
"""A field absent from a JSON body (Jackson's ``get`` returns Java null), unlike JSON null."""


class LfsError(Exception):
    """An error answer of the LFS API: ``{"message": …}`` in the LFS media type."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Malformed(Exception):
    """What makes OneDev's handler throw (NullPointerException, invalid oid, bad number)."""


def is_object_transfer(query: str) -> bool:
    return _parameter(query, "lfs-objects") == "true"


def _parameter(query: str, name: str) -> str | None:
    """``getParameter``: the first value, or None."""
    return next((v for k, v in parse_qsl(query, keep_blank_values=True) if k == name), None)


def is_lfs_api(request: Request) -> bool:
    content_type = request.headers.get("content-type") or ""
    accept = request.headers.get("accept") or ""
    return content_type.startswith(LFS_JSON) or accept.startswith(LFS_JSON)


async def serve_lfs(onedev: FakeOneDev, request: Request) -> Response:
    """The answer to a request that :func:`is_object_transfer` or :func:`is_lfs_api`."""
    try:
        principal = authenticate(request, onedev)
        project_path = _project_path(request.url.path)
        if is_object_transfer(request.url.query):
            return await _transfer(onedev, request, principal, project_path)
        caller, project = _accessible(onedev, principal, project_path)
        try:
            return await _api(onedev, request, caller, project)
        except Malformed:
            raise LfsError(500, INTERNAL_ERROR) from None
    except RestError as exc:
        return text(exc.status, exc.message, exc.headers)
    except LfsError as exc:
        return _lfs_json({"message": exc.message}, exc.status, exc.headers)


# ---------------------------------------------------------------------------- common


def _project_path(url_path: str) -> str:
    path = _before_last(_before_last(url_path.lstrip("/"), ".git.git/"), ".git/")
    if not path.strip():
        raise RestError(500, "Project not specified")
    return path


def _before_last(value: str, separator: str) -> str:
    at = value.rfind(separator)
    return value if at < 0 else value[:at]


def _accessible(
    onedev: FakeOneDev, principal: Principal | None, project_path: str
) -> tuple[Principal, Project]:
    """The caller and the project, if the caller may see it.  Anonymous callers see nothing:
    the stand-in has no anonymous access (OneDev's default)."""
    if principal is None:
        raise LfsError(401, "Authentication required", LFS_AUTHENTICATE)
    project = onedev.by_path(project_path)
    if project is None or not onedev.can_read(principal, project):
        raise LfsError(404, f"Project not found or inaccessible: {project_path}")
    return principal, project


def _require(allowed: bool) -> None:
    if not allowed:
        raise LfsError(403, "Permission denied")


def _lfs_json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(jackson_dumps(value), status, headers, media_type=LFS_JSON)


def _java_map(**fields: Any) -> dict[str, Any]:
    """A ``java.util.HashMap`` as Jackson writes it: keys in hash-bucket order."""
    return {key: fields[key] for key in java_hash_set_order(fields)}


# ---------------------------------------------------------------------------- object transfer


async def _transfer(
    onedev: FakeOneDev, request: Request, principal: Principal | None, project_path: str
) -> Response:
    caller, project = _accessible(onedev, principal, project_path)
    oid = request.url.path.rsplit("/", 1)[-1]
    if request.method == "GET":
        _require(onedev.can_read(caller, project))
        return _download(onedev.lfs_object_path(project.id, _valid_oid(oid)))
    # Every other method uploads, HEAD and DELETE too (an empty body: the object is deleted).
    _require(onedev.can_write(caller, project))
    if await _store_upload(onedev, project, _valid_oid(oid), request):
        return Response(status_code=200)
    return Response(status_code=500)  # OneDev's RuntimeException: no handler, no body


def _valid_oid(oid: str) -> str:
    if not is_oid(oid):
        raise RestError(500, "Invalid LFS object id")
    return oid


def _download(path: Path) -> Response:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise RestError(404, f"{path} (No such file or directory)") from None
    size = os.fstat(handle.fileno()).st_size
    return StreamingResponse(
        _chunks(handle), media_type=OCTET_STREAM, headers={"content-length": str(size)}
    )


async def _chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            yield chunk
    finally:
        handle.close()


async def _store_upload(onedev: FakeOneDev, project: Project, oid: str, request: Request) -> bool:
    """Stream the body to disk, hashing it; keep it as ``oid`` only when the hash matches."""
    target = onedev.lfs_object_path(project.id, oid)
    incoming = onedev.lfs_upload_dir(project.id)
    incoming.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=incoming, prefix=f"{oid}.")
    partial = Path(name)
    digest = hashlib.sha256()
    complete = False
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                digest.update(chunk)
                out.write(chunk)
        complete = digest.hexdigest() == oid
    except ClientDisconnect:
        pass
    finally:
        if not complete:  # also when cancelled
            partial.unlink(missing_ok=True)
    if not complete:
        target.unlink(missing_ok=True)  # OneDev deletes the object, even a good one from before
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(target)
    return True


# ---------------------------------------------------------------------------- LFS API


async def _api(
    onedev: FakeOneDev, request: Request, principal: Principal, project: Project
) -> Response:
    path = request.url.path
    if path.endswith("/batch"):
        body = _json_body(await request.body())
        return _batch(onedev, principal, project, body, str(request.base_url).rstrip("/"))
    if path.endswith("/locks"):
        if request.method == "POST":
            _require(onedev.can_write(principal, project))
            return _create_lock(onedev, principal, project, _json_body(await request.body()))
        _require(onedev.can_read(principal, project))
        return _list_locks(onedev, project, request.url.query)
    if path.endswith("/locks/verify"):
        _require(onedev.can_write(principal, project))
        return _verify_locks(onedev, principal, project, _json_body(await request.body()))
    if path.endswith("/unlock"):
        _require(onedev.can_write(principal, project))
        lock_id = _java_int(path.rsplit("/", 2)[-2])
        body = _json_body(await request.body())
        return _unlock(onedev, principal, project, lock_id, body)
    return Response(status_code=200, media_type=LFS_JSON)


def _batch(
    onedev: FakeOneDev, principal: Principal, project: Project, body: Any, base_url: str
) -> Response:
    transfers = _get(body, "transfers")
    if transfers is not MISSING and "basic" not in map(_as_text, _elements(transfers)):
        raise LfsError(406, "This server can only accept basic transfer")
    hash_algo = _get(body, "hash_algo")
    if hash_algo is not MISSING and _as_text(hash_algo) != "sha256":
        raise LfsError(406, "This server can only accept sha256 hash algorithm")
    upload = _as_text(_required(body, "operation")) == "upload"
    if upload:
        _require(onedev.can_write(principal, project))
    else:
        _require(onedev.can_read(principal, project))
    max_size = onedev.max_git_lfs_file_size * 1024 * 1024

    def action(oid: str) -> dict[str, Any]:
        href = f"{base_url}/{project.path}.git/lfs/objects/{oid}?lfs-objects=true"
        return _java_map(href=href, header={"Authorization": f"Bearer {principal.token}"})

    answers = []
    for item in _elements(_required(body, "objects")):
        oid = _as_text(_required(item, "oid"))
        size = _as_long(_required(item, "size"))
        if not is_oid(oid):
            raise Malformed(oid)
        stored = onedev.lfs_object_path(project.id, oid).is_file()
        fields: dict[str, Any] = {"oid": oid, "size": size}
        if size > max_size:
            message = f"Exceeded max acceptable LFS file size {max_size}"
            fields["error"] = _java_map(code=406, message=message)
        elif upload and not stored:
            fields["actions"] = {"upload": action(oid)}
        elif not upload and stored:
            fields["actions"] = {"download": action(oid)}
        elif not upload:
            fields["error"] = _java_map(code=404, message="Object not found")
        answers.append(_java_map(**fields))
    return _lfs_json({"objects": answers})


def _lock_data(lock: LfsLock) -> dict[str, Any]:
    locked_at = datetime.fromtimestamp(lock.locked_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _java_map(
        id=str(lock.id), path=lock.path, locked_at=locked_at, owner={"name": lock.owner}
    )


def _create_lock(onedev: FakeOneDev, principal: Principal, project: Project, body: Any) -> Response:
    path = _as_text(_required(body, "path"))
    lock, created = onedev.create_lfs_lock(project.id, path, principal.login)
    if created:
        return _lfs_json({"lock": _lock_data(lock)}, 201)
    return _lfs_json(_java_map(lock=_lock_data(lock), message="Lock exists"), 409)


def _list_locks(onedev: FakeOneDev, project: Project, query: str) -> Response:
    def number(name: str, default: int | None) -> int | None:
        value = _parameter(query, name)
        return default if value is None else _java_int(value)

    lock_id = number("id", None)
    cursor = number("cursor", 0) or 0
    limit = min(number("limit", MAX_PAGE_SIZE) or 0, MAX_PAGE_SIZE)
    locks = _matching(onedev.lfs_locks(project.id), _parameter(query, "path"), lock_id)
    page = _page(locks, cursor, limit)
    fields: dict[str, Any] = {"locks": [_lock_data(lock) for lock in page]}
    if len(page) == limit:
        fields["next_cursor"] = str(cursor + limit)
    return _lfs_json(_java_map(**fields))


def _verify_locks(
    onedev: FakeOneDev, principal: Principal, project: Project, body: Any
) -> Response:
    path = _node_or(_get(body, "path"), _as_text, None)
    lock_id = _node_or(_get(body, "id"), _as_long, None)
    cursor = _node_or(_get(body, "cursor"), _int_value, 0)
    limit = min(_node_or(_get(body, "limit"), _as_long, MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    page = _page(_matching(onedev.lfs_locks(project.id), path, lock_id), cursor, limit)
    ours = [_lock_data(lock) for lock in page if lock.owner == principal.login]
    theirs = [_lock_data(lock) for lock in page if lock.owner != principal.login]
    fields: dict[str, Any] = {"ours": ours, "theirs": theirs}
    if len(page) == limit:
        fields["next_cursor"] = str(cursor + limit)
    return _lfs_json(_java_map(**fields))


def _matching(locks: list[LfsLock], path: str | None, lock_id: int | None) -> list[LfsLock]:
    return [
        lock
        for lock in locks
        if (path is None or lock.path == path) and (lock_id is None or lock.id == lock_id)
    ]


def _page(locks: list[LfsLock], cursor: int, limit: int) -> list[LfsLock]:
    return locks[max(cursor, 0) : max(cursor, 0) + max(limit, 0)]


def _unlock(
    onedev: FakeOneDev, principal: Principal, project: Project, lock_id: int, body: Any
) -> Response:
    force = _node_or(_get(body, "force"), _as_bool, False)
    lock = onedev.lfs_lock(lock_id)
    if lock is None or lock.project_id != project.id:
        raise LfsError(404, "Lock not found")
    if lock.owner != principal.login:
        if not force:
            raise LfsError(403, "Lock is created by other users")
        if not onedev.can_manage(principal, project):
            raise LfsError(403, "Only project managers can unlock forcibly")
    onedev.delete_lfs_lock(lock.id)
    return _lfs_json({"lock": _lock_data(lock)})


# ---------------------------------------------------------------------------- Jackson JsonNode


def _json_body(raw: bytes) -> Any:
    """``readTree``: no content is a MissingNode (every ``get`` answers null)."""
    if not raw.strip():
        return MISSING
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Malformed("not JSON") from None


def _get(node: Any, name: str) -> Any:
    return node.get(name, MISSING) if isinstance(node, dict) else MISSING


def _required(node: Any, name: str) -> Any:
    value = _get(node, name)
    if value is MISSING:
        raise Malformed(f"no {name}")  # a NullPointerException in OneDev
    return value


def _node_or(node: Any, convert: Callable[[Any], Any], default: Any) -> Any:
    """``convert(node)`` unless the field is absent (JSON null is a node: it converts)."""
    return default if node is MISSING else convert(node)


def _elements(node: Any) -> list[Any]:
    if isinstance(node, list):
        return node
    if isinstance(node, dict):
        return list(node.values())
    return []


def _as_text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, (int, float)):
        return str(node)
    return ""


def _as_long(node: Any) -> int:
    if isinstance(node, bool):
        return int(node)
    if isinstance(node, (int, float)):
        return int(node)
    if isinstance(node, str):
        try:
            return int(node.strip())
        except ValueError:
            return 0
    return 0


def _int_value(node: Any) -> int:
    return int(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else 0


def _as_bool(node: Any) -> bool:
    if isinstance(node, bool):
        return node
    if isinstance(node, (int, float)):
        return node != 0
    return isinstance(node, str) and node.strip() == "true"


def _java_int(value: str) -> int:
    if not _JAVA_INT.fullmatch(value):
        raise Malformed(value)  # NumberFormatException
    return int(value)
