"""Git LFS over HTTP on the GitHub stand-in, as github.com serves it.

* The batch API beside the repository's git URL:
  ``POST <base>/<owner>/<name>.git/info/lfs/objects/batch``, with the git endpoints' rules for
  who may read (a private repository asks anonymous callers for credentials).
* The objects on another path, as GitHub's media host serves them: ``GET <base>/_lfs-media/<oid>``
  takes only the ``RemoteAuth`` token of a batch answer (good for that answer's objects, for an
  hour), never the user's token.

Uploads are refused: nobody may push to the stand-in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from epicstar.sandbox.github_model import GitHubRepo
from epicstar.sandbox.lfs import LfsStore, is_oid
from epicstar.sandbox.reqlog import LFS_MEDIA_PREFIX

if TYPE_CHECKING:
    from epicstar.sandbox.github import FakeGitHub

LFS_JSON = "application/vnd.git-lfs+json"
LFS_DOCS = "https://docs.github.com/lfs"
LFS_REALM = 'Basic realm="GitHub"'
OVER_QUOTA = (
    "This repository is over its data quota. Account responsible for LFS bandwidth should"
    " purchase more data packs to restore access."
)

LfsKind = Literal["batch", "download"]

_BATCH_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+)/info/lfs/objects/batch$")


def lfs_kind(path: str) -> LfsKind | None:
    """Which LFS endpoint ``path`` addresses, if any."""
    if _BATCH_PATH.match(path):
        return "batch"
    if path.startswith(LFS_MEDIA_PREFIX):
        return "download"
    return None


@dataclass(frozen=True)
class BatchRequest:
    operation: Literal["download", "upload"]
    objects: list[tuple[str, int]]


class BatchError(Exception):
    """A batch request the server refuses as a whole (no ``objects`` in the answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def lfs_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body),
        status_code=status,
        headers=headers,
        media_type=f"{LFS_JSON}; charset=utf-8",
    )


def lfs_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return lfs_response(status, {"message": message, "documentation_url": LFS_DOCS}, headers)


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def accepts_lfs(accept: str | None) -> bool:
    return accept is not None and any(_media_type(part) == LFS_JSON for part in accept.split(","))


def parse_batch(body: bytes) -> BatchRequest:
    """The batch request in ``body``, checked field by field against the batch API."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BatchError(422, "The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise BatchError(422, "The request body must be a JSON object.")
    operation = document.get("operation")
    if operation not in ("download", "upload"):
        raise BatchError(422, 'The operation must be "download" or "upload".')
    _check_options(document)
    return BatchRequest(operation, _parse_objects(document.get("objects")))


def _check_options(document: dict[str, Any]) -> None:
    """``transfers`` (must offer ``basic``), ``ref`` and ``hash_algo`` (only sha256)."""
    transfers = document.get("transfers", ["basic"])
    if not isinstance(transfers, list) or not all(isinstance(t, str) for t in transfers):
        raise BatchError(422, "transfers must be a list of transfer adapter names.")
    if "basic" not in transfers:
        raise BatchError(422, "Only the basic transfer adapter is supported.")
    ref = document.get("ref")
    if ref is not None and not (isinstance(ref, dict) and isinstance(ref.get("name"), str)):
        raise BatchError(422, "ref must be an object with a name.")
    hash_algo = document.get("hash_algo", "sha256")
    if not isinstance(hash_algo, str):
        raise BatchError(422, "hash_algo must be a string.")
    if hash_algo != "sha256":
        raise BatchError(409, f"Unsupported hash algorithm: {hash_algo[:32]}")


def _parse_objects(objects: object) -> list[tuple[str, int]]:
    if not isinstance(objects, list):
        raise BatchError(422, "objects must be a list.")
    parsed: list[tuple[str, int]] = []
    for item in objects:
        if not isinstance(item, dict):
            raise BatchError(422, "Each object must be a JSON object.")
        oid, size = item.get("oid"), item.get("size")
        if not isinstance(oid, str) or not is_oid(oid):
            raise BatchError(422, "Each object needs an oid of 64 lower-case hex digits.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BatchError(422, "Each object needs a size, a whole number of bytes >= 0.")
        parsed.append((oid, size))
    return parsed


def batch_repository(github: FakeGitHub, path: str) -> GitHubRepo | None:
    """The repository a batch URL names (an old name keeps working, as for git); None for an
    unknown one and for wikis, which have no LFS."""
    match = _BATCH_PATH.match(path)
    if match is None:
        return None
    name = match["name"].removesuffix(".git")
    if name.endswith(".wiki"):
        return None
    full = f"{match['owner']}/{name}"
    return github.find(full) or github.find_redirect(full)


async def serve_batch(
    github: FakeGitHub, request: Request, token: str | None, *, bad_credentials: bool
) -> Response:
    """``POST …/info/lfs/objects/batch``; ``token`` is the caller's valid token (None when
    anonymous or ``bad_credentials``)."""
    if not accepts_lfs(request.headers.get("accept")):
        return lfs_error(406, f"The Accept header must include {LFS_JSON}.")
    challenge = {"lfs-authenticate": LFS_REALM}
    if bad_credentials:
        return lfs_error(401, "Bad credentials", challenge)
    repo = batch_repository(github, request.url.path)
    if repo is None or (repo.private and token is None):
        if token is None:
            return lfs_error(401, "Credentials needed", challenge)
        return lfs_error(404, "Repository not found")
    if repo.block is not None:
        return lfs_error(451, "Repository access blocked")
    if _media_type(request.headers.get("content-type", "")) != LFS_JSON:
        return lfs_error(422, f"The Content-Type must be {LFS_JSON}.")
    try:
        batch = parse_batch(await request.body())
    except BatchError as refused:
        return lfs_error(refused.status, refused.message)
    if batch.operation == "upload":
        if token is None:
            return lfs_error(401, "Credentials needed", challenge)
        login = github.tokens[token].login
        return lfs_error(403, f"Permission to {repo.full_name}.git denied to {login}.")
    if repo.lfs_over_quota:
        return lfs_error(403, OVER_QUOTA)
    base = str(request.base_url).rstrip("/")
    return lfs_response(200, download_answer(github, repo, batch.objects, base))


def download_answer(
    github: FakeGitHub, repo: GitHubRepo, objects: list[tuple[str, int]], base: str
) -> dict[str, Any]:
    store = LfsStore(repo.lfs_path)
    present = {(oid, size) for oid, size in objects if store.size(oid) == size}
    token = github.lfs_grants.issue(repo.id, {oid for oid, _ in present}) if present else ""
    answers: list[dict[str, Any]] = []
    for oid, size in objects:
        if (oid, size) in present:
            download = {
                "href": f"{base}{LFS_MEDIA_PREFIX}{oid}",
                "header": {"Authorization": f"RemoteAuth {token}"},
                "expires_in": github.lfs_grants.seconds,
            }
            answers.append(
                {"oid": oid, "size": size, "authenticated": True, "actions": {"download": download}}
            )
        else:
            error = {"code": 404, "message": "Object does not exist"}
            answers.append({"oid": oid, "size": size, "error": error})
    return {"transfer": "basic", "objects": answers, "hash_algo": "sha256"}


def serve_media(github: FakeGitHub, request: Request) -> Response:
    """``GET /_lfs-media/<oid>`` with ``Authorization: RemoteAuth <token of a batch answer>``:
    the object's bytes, streamed from disk."""
    oid = request.url.path.removeprefix(LFS_MEDIA_PREFIX)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    repo_id = (
        github.lfs_grants.repo_for(value.strip(), oid)
        if scheme == "RemoteAuth" and is_oid(oid)
        else None
    )
    if repo_id is None:
        return Response("Unauthorized\n", status_code=401, media_type="text/plain")
    repo = github.by_id(repo_id)
    path = LfsStore(repo.lfs_path).path(oid) if repo is not None else None
    if path is None or not path.is_file():
        return Response("Not Found\n", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="application/octet-stream")
