"""ASGI app of the OneDev stand-in: ``/~api`` (see :mod:`.onedev_api`), git smart HTTP, and
Git LFS (see :mod:`.onedev_lfs`; tried after git, as OneDev's ``GitLfsFilter`` follows its
``GitFilter``).

Git requests follow ``GitFilter``: the project is looked up by the full path first, then with
``.git`` stripped (case-insensitively); anonymous callers get 401 + ``WWW-Authenticate``, an
authenticated caller 404 for an unknown project and 403 without push permission.  Pushes run
the repository's real hooks (see :mod:`.onedev`).  Everything else is the (absent) web UI: 404.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from epicstar.sandbox.gitrepo import git_env
from epicstar.sandbox.onedev_api import OneDevApi, dispatch_api, text
from epicstar.sandbox.onedev_auth import REALM, authenticate
from epicstar.sandbox.onedev_data import RestError
from epicstar.sandbox.onedev_lfs import is_lfs_api, is_object_transfer, serve_lfs
from epicstar.sandbox.onedev_protection import (
    CHECKER,
    CHECKER_ENV,
    MANAGER_ENV,
    PROTECTIONS_ENV,
    PYTHON_ENV,
    encode,
)
from epicstar.sandbox.reqlog import RecordingMiddleware
from epicstar.web.githttp import git_http_backend, repo_prefix, requested_service, smart_suffix

if TYPE_CHECKING:
    from epicstar.sandbox.onedev import FakeOneDev


class OneDevApp:
    def __init__(self, onedev: FakeOneDev) -> None:
        self.onedev = onedev
        self.api = OneDevApi(onedev)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = request.url.path
        if path == "/~api" or path.startswith("/~api/"):
            response = await dispatch_api(self.api, request)
            await response(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        suffix = smart_suffix(path, request.method, query)
        if suffix is None and (is_object_transfer(query) or is_lfs_api(request)):
            response = await serve_lfs(self.onedev, request)
            await response(scope, receive, send)
            return
        if suffix is None:
            # Everything else is OneDev's web UI, which the stand-in does not have.
            page = "<html><body><h1>Page Not Found</h1></body></html>"
            await Response(page, 404, media_type="text/html")(scope, receive, send)
            return
        try:
            await self.serve_git(scope, receive, send, request, suffix)
        except RestError as exc:
            await text(exc.status, exc.message, exc.headers)(scope, receive, send)

    async def serve_git(
        self, scope: Scope, receive: Receive, send: Send, request: Request, suffix: str
    ) -> None:
        onedev = self.onedev
        principal = authenticate(request, onedev)
        project_path = repo_prefix(request.url.path, suffix)
        project = onedev.by_path(project_path)
        if project is None and project_path.endswith(".git"):
            project_path = project_path[: -len(".git")]
            project = onedev.by_path(project_path)
        if not project_path.strip():
            raise RestError(500, "Project not specified")
        if project is None or principal is None:
            if principal is None:
                raise RestError(401, "Authentication required", REALM)
            raise RestError(404, f"Project not found or inaccessible: {project_path}")
        service = requested_service(request.url.path, request.method, request.url.query)
        push = service == "git-receive-pack"
        if push and not onedev.can_write(principal, project):
            raise RestError(403, "You do not have permission to push to this project.")
        if not push and not onedev.can_read(principal, project):
            raise RestError(403, "You do not have permission to pull from this project.")
        hook_env = {MANAGER_ENV: "1" if onedev.can_manage(principal, project) else "0"}
        protections = onedev.protections(project) if push else []
        if protections:
            hook_env.update(
                {
                    PROTECTIONS_ENV: encode(protections),
                    PYTHON_ENV: sys.executable,
                    CHECKER_ENV: CHECKER,
                }
            )
        status = await git_http_backend(
            scope,
            receive,
            send,
            repo_dir=onedev.repo_path(project.id),
            push_allowed=push,
            remote_user=principal.login,
            environment=git_env(hook_env),
        )
        if push and suffix == "git-receive-pack" and status == 200:
            project.last_activity = time.time()


def build_app(onedev: FakeOneDev) -> ASGIApp:
    headers = (b"onedevauthorization", b"authorization")
    return RecordingMiddleware(OneDevApp(onedev), onedev.log, onedev.faults, auth_headers=headers)
