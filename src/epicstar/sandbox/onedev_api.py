"""The ``/~api`` resources of the OneDev stand-in and their Jersey-like dispatch.

Order of checks mirrors OneDev: Shiro authentication (401) -> Jersey matching (404/405) ->
``ParamCheckFilter`` (406) -> ``@Consumes`` (415) -> entity read + ``@Valid`` (400) -> resource
method (404 load, 403 permission, 500 ``ExplicitException``).  Error bodies are text/plain.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from epicstar.sandbox import gitrepo
from epicstar.sandbox.onedev import Principal, Role
from epicstar.sandbox.onedev_auth import REALM, authenticate
from epicstar.sandbox.onedev_data import (
    BASE_AUTHORIZATION_CLASS,
    BaseAuthorization,
    Project,
    ProjectInput,
    RestError,
    abbreviate,
    base_authorization_data,
    jackson_dumps,
    java_hash_set_order,
    java_list,
    parse_base_authorization,
    parse_json_body,
    parse_project_data,
    project_data,
)
from epicstar.sandbox.onedev_query import parse_query, sort_projects

if TYPE_CHECKING:
    from epicstar.sandbox.onedev import FakeOneDev

MAX_PAGE_SIZE = 100
SSH_PORT = 6611
JSON = "application/json"


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message, status_code=status, headers=headers, media_type="text/plain")


def json_response(value: Any) -> Response:
    return Response(jackson_dumps(value), media_type=JSON)


def not_found_entity(entity_id: int, entity: str = "io.onedev.server.model.Project") -> RestError:
    """Hibernate ObjectNotFoundException from ``…Service.load(id)``."""
    return RestError(404, f"No row with the given identifier exists: [{entity}#{entity_id}]")


def not_null_property(entity: str, prop: str) -> RestError:
    """Hibernate PropertyValueException when flushing a null ``@JoinColumn(nullable=false)``."""
    return RestError(
        500, f"not-null property references a null or transient value : {entity}.{prop}"
    )


# ---------------------------------------------------------------------------- routing


@dataclass
class Call:
    request: Request
    principal: Principal
    match: re.Match[str]
    params: dict[str, str]

    def project_id(self) -> int:
        return int(self.match["id"])

    def entity_id(self) -> int:
        return int(self.match["id"])


Handler = Callable[["OneDevApi", Call], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    query: Sequence[str] = ()
    required: Sequence[str] = ()
    body: bool = False


class OneDevApi:
    """The ``/~api`` resources."""

    def __init__(self, onedev: FakeOneDev) -> None:
        self.onedev = onedev

    # -- helpers
    def load(self, project_id: int) -> Project:
        project = self.onedev.get(project_id)
        if project is None:
            raise not_found_entity(project_id)
        return project

    def load_base_authorization(self, authorization_id: int) -> BaseAuthorization:
        authorization = self.onedev.base_authorization(authorization_id)
        if authorization is None:
            raise not_found_entity(authorization_id, BASE_AUTHORIZATION_CLASS)
        return authorization

    def require_manage(self, call: Call, project: Project) -> None:
        if not self.onedev.can_manage(call.principal, project):
            raise RestError(403, "Not authorized")

    def check_creation(self, principal: Principal, parent: Project | None) -> None:
        if parent is not None and not self.onedev.can_create_children(principal, parent):
            raise RestError(403, f"Not authorized to create project under '{parent.path}'")
        if parent is None and not self.onedev.can_create_root(principal):
            raise RestError(403, "Not authorized to create root project")

    def check_name(self, project_id: int | None, parent: Project | None, name: str) -> None:
        same = self.onedev.find_child(parent.id if parent else None, name)
        if same is not None and same.id != project_id:
            if parent is not None:
                raise RestError(
                    500,
                    f"Name '{name}' is already used by another project under '{parent.path}'",
                )
            raise RestError(500, f"Name '{name}' is already used by another root project")

    def check_key(self, project_id: int | None, key: str | None) -> None:
        if key is None:
            return
        for other in self.onedev.all_projects():
            if other.key == key and other.id != project_id:
                raise RestError(500, "could not execute statement")

    # -- resources
    async def version(self, call: Call) -> Response:
        return Response(self.onedev.version, media_type=JSON)

    async def project_id_by_path(self, call: Call) -> Response:
        path = call.match["path"]
        project = self.onedev.by_path(path)
        if project is None or not self.onedev.can_read(call.principal, project):
            raise RestError(404, f"Project not found or inaccessible: {path}")
        return Response(str(project.id), media_type=JSON)

    async def query_projects(self, call: Call) -> Response:
        offset = _int_param(call.params, "offset")
        count = _int_param(call.params, "count")
        if call.principal.role is not Role.ADMIN and count > MAX_PAGE_SIZE:
            raise RestError(406, f"Count should not be greater than {MAX_PAGE_SIZE}")
        parsed = parse_query(call.params.get("query"), _QueryContext(self.onedev, call.principal))
        projects = [
            p
            for p in self.onedev.all_projects()
            if self.onedev.can_read(call.principal, p)
            and parsed.matches(p, _QueryContext(self.onedev, call.principal))
        ]
        page = sort_projects(projects, parsed.sorts)[
            max(offset, 0) : max(offset, 0) + max(count, 0)
        ]
        return json_response([project_data(p) for p in page])

    async def get_project(self, call: Call) -> Response:
        return json_response(project_data(self.load(call.project_id())))

    async def clone_url(self, call: Call) -> Response:
        project = self.load(call.project_id())
        base = str(call.request.base_url).rstrip("/")
        host = call.request.url.hostname or "127.0.0.1"
        return json_response(
            {
                "http": f"{base}/{project.path}.git",
                "ssh": f"ssh://{host}:{SSH_PORT}/{project.path}.git",
            }
        )

    async def create_project(self, call: Call) -> Response:
        data = parse_project_data(await call.request.body(), "createProject.arg0")
        parent = self.load(data.parent_id) if data.parent_id is not None else None
        if data.forked_from_id is not None:
            self.load(data.forked_from_id)
        assert data.name is not None
        with self.onedev.lock:  # check-and-insert atomically
            self.check_creation(call.principal, parent)
            self.check_name(None, parent, data.name)
            self.check_key(None, data.key)
            now = time.time()
            project = Project(
                id=0,
                name=data.name,
                parent_id=parent.id if parent else None,
                create_date=now,
                last_activity=now,
                owner=call.principal.login,
            )
            _populate(project, data)
            self.onedev.reserve(project)
        try:
            await self._init_repository(project)
        except BaseException:
            self.onedev.discard([project.id])
            raise
        return Response(str(project.id), media_type=JSON)

    async def _init_repository(self, project: Project) -> None:
        onedev = self.onedev
        repo = onedev.repo_path(project.id)
        code, _, err = await gitrepo.run_git_async(
            None, *gitrepo.init_args(repo, "main", onedev.template)
        )
        if code != 0:
            raise RestError(500, f"git init failed: {err}")
        if any(v is not None for v in project.git_pack_config.values()):
            await asyncio.to_thread(onedev.apply_git_pack_config, project, {})
        if project.forked_from_id is not None:
            source = onedev.repo_path(project.forked_from_id)
            await gitrepo.run_git_async(
                repo,
                "fetch",
                "--quiet",
                str(source),
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            )
            head = await asyncio.to_thread(gitrepo.head_target, source)
            if head:
                await gitrepo.run_git_async(repo, "symbolic-ref", "HEAD", head)

    async def update_project(self, call: Call) -> Response:
        data = parse_project_data(await call.request.body(), "updateProject.arg1")
        project = self.load(call.project_id())
        self.require_manage(call, project)
        parent = self.load(data.parent_id) if data.parent_id is not None else None
        if data.forked_from_id is not None:
            self.load(data.forked_from_id)
        assert data.name is not None
        onedev = self.onedev
        with onedev.lock:
            if (parent.id if parent else None) != project.parent_id:
                self.check_creation(call.principal, parent)
            if parent is not None and parent.id in onedev.descendant_ids(project.id):
                raise RestError(500, "Cannot use current or descendant project as parent")
            self.check_name(project.id, parent, data.name)
            self.check_key(project.id, data.key)
            previous = dict(project.git_pack_config)
            project.parent_id = parent.id if parent else None
            project.name = data.name
            _populate(project, data)
            onedev.refresh_paths()
        if previous != project.git_pack_config:
            await asyncio.to_thread(onedev.apply_git_pack_config, project, previous)
        return Response(b"", status_code=200)

    async def delete_project(self, call: Call) -> Response:
        project = self.load(call.project_id())
        self.require_manage(call, project)
        ids = self.onedev.descendant_ids(project.id)
        await asyncio.to_thread(self.onedev.discard, ids)
        return Response(b"", status_code=200)

    async def get_default_branch(self, call: Call) -> Response:
        project = self.load(call.project_id())
        branch = await asyncio.to_thread(self.onedev.default_branch, project.path)
        if branch is None:
            return Response(status_code=204)
        return Response(branch, media_type=JSON)

    async def set_default_branch(self, call: Call) -> Response:
        project = self.load(call.project_id())
        self.require_manage(call, project)
        raw = await call.request.body()
        try:
            value = parse_json_body(raw)
        except RestError:
            raise RestError(500, "Internal Server Error") from None  # RuntimeException(e)
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str) or ".." in value:
            raise RestError(500, "Internal Server Error")
        repo = self.onedev.repo_path(project.id)
        if await asyncio.to_thread(gitrepo.resolve, repo, f"refs/heads/{value}") is None:
            raise RestError(500, f"Branch not exist: {value}")
        await gitrepo.run_git_async(repo, "symbolic-ref", "HEAD", f"refs/heads/{value}")
        return Response(b"", status_code=200)

    # -- default roles (ProjectResource.getBaseAuthorizations, BaseAuthorizationResource)
    async def project_base_authorizations(self, call: Call) -> Response:
        """The project's own rows only (not its ancestors'); manage permission needed."""
        project = self.load(call.project_id())
        self.require_manage(call, project)
        rows = self.onedev.base_authorizations(project.id)
        return json_response([base_authorization_data(a) for a in rows])

    async def get_base_authorization(self, call: Call) -> Response:
        authorization = self.load_base_authorization(call.entity_id())
        self.require_manage(call, self.load(authorization.project_id))
        return json_response(base_authorization_data(authorization))

    async def create_base_authorization(self, call: Call) -> Response:
        data = parse_base_authorization(await call.request.body(), "createAuthorization.arg0")
        if data.project_id is None:
            raise not_null_property(BASE_AUTHORIZATION_CLASS, "project")
        with self.onedev.lock:
            project = self.load(data.project_id)
            self.require_manage(call, project)
            if data.role_id is None:
                raise not_null_property(BASE_AUTHORIZATION_CLASS, "role")
            try:
                created = self.onedev.create_base_authorization(project.id, data.role_id)
            except ValueError:  # foreign key (unknown role) or unique {project, role}
                raise RestError(500, "could not execute statement") from None
        return Response(str(created.id), media_type=JSON)

    async def delete_base_authorization(self, call: Call) -> Response:
        with self.onedev.lock:
            authorization = self.load_base_authorization(call.entity_id())
            self.require_manage(call, self.load(authorization.project_id))
            self.onedev.delete_base_authorization(authorization.id)
        return Response(b"", status_code=200)

    async def branches(self, call: Call) -> Response:
        return await self._short_refs(call, "refs/heads/")

    async def tags(self, call: Call) -> Response:
        return await self._short_refs(call, "refs/tags/")

    async def _short_refs(self, call: Call, prefix: str) -> Response:
        project = self.load(call.project_id())
        refs = await gitrepo.list_refs_async(self.onedev.repo_path(project.id), prefix)
        return json_response([r[len(prefix) :] for r in refs])


def _populate(project: Project, data: ProjectInput) -> None:
    """ProjectData.populate(): a full replace of every writable field."""
    project.forked_from_id = data.forked_from_id
    project.key = data.key
    project.description = abbreviate(data.description)
    project.code_management = data.code_management
    project.pack_management = data.pack_management
    project.issue_management = data.issue_management
    project.time_tracking = data.time_tracking
    project.service_desk_email_address = data.service_desk_email_address
    project.git_pack_config = dict(data.git_pack_config or {})
    project.code_analysis_setting = dict(data.code_analysis_setting or {})


def _int_param(params: dict[str, str], name: str) -> int:
    value = params.get(name, "").strip()
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        raise RestError(404, "HTTP 404 Not Found") from None


class _QueryContext:
    def __init__(self, onedev: FakeOneDev, principal: Principal) -> None:
        self.onedev = onedev
        self.principal = principal

    def get(self, project_id: int) -> Project | None:
        return self.onedev.get(project_id)

    def children(self, project_id: int) -> Sequence[Project]:
        return self.onedev.children(project_id)

    @property
    def caller(self) -> str | None:
        return self.principal.login

    def user_exists(self, login: str) -> bool:
        return self.onedev.user_exists(login)


_ID = r"(?P<id>[0-9]+)"
ROUTES: list[Route] = [
    Route("GET", re.compile(r"^/version/server$"), OneDevApi.version),
    Route("GET", re.compile(r"^/projects/ids/(?P<path>.*)$"), OneDevApi.project_id_by_path),
    Route(
        "GET",
        re.compile(r"^/projects$"),
        OneDevApi.query_projects,
        ("query", "offset", "count"),
        ("offset", "count"),
    ),
    Route("POST", re.compile(r"^/projects$"), OneDevApi.create_project, body=True),
    Route("GET", re.compile(rf"^/projects/{_ID}$"), OneDevApi.get_project),
    Route("POST", re.compile(rf"^/projects/{_ID}$"), OneDevApi.update_project, body=True),
    Route("DELETE", re.compile(rf"^/projects/{_ID}$"), OneDevApi.delete_project),
    Route("GET", re.compile(rf"^/projects/{_ID}/clone-url$"), OneDevApi.clone_url),
    Route(
        "GET",
        re.compile(rf"^/projects/{_ID}/base-authorizations$"),
        OneDevApi.project_base_authorizations,
    ),
    Route(
        "POST",
        re.compile(r"^/base-authorizations$"),
        OneDevApi.create_base_authorization,
        body=True,
    ),
    Route("GET", re.compile(rf"^/base-authorizations/{_ID}$"), OneDevApi.get_base_authorization),
    Route(
        "DELETE", re.compile(rf"^/base-authorizations/{_ID}$"), OneDevApi.delete_base_authorization
    ),
    Route(
        "GET", re.compile(rf"^/repositories/{_ID}/default-branch$"), OneDevApi.get_default_branch
    ),
    Route(
        "POST",
        re.compile(rf"^/repositories/{_ID}/default-branch$"),
        OneDevApi.set_default_branch,
        body=True,
    ),
    Route("GET", re.compile(rf"^/repositories/{_ID}/branches$"), OneDevApi.branches),
    Route("GET", re.compile(rf"^/repositories/{_ID}/tags$"), OneDevApi.tags),
]


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == JSON


async def dispatch_api(api: OneDevApi, request: Request) -> Response:
    path = request.url.path[len("/~api") :]
    try:
        principal = authenticate(request, api.onedev)
        if principal is None:
            return text(401, "Not authenticated", REALM)
        candidates = [r for r in ROUTES if r.pattern.match(path)]
        route = next((r for r in candidates if r.method == request.method), None)
        if route is None:
            if candidates:
                return text(405, "HTTP 405 Method Not Allowed")
            return text(404, "HTTP 404 Not Found")
        supplied = list(dict.fromkeys(k for k, _ in request.query_params.multi_items()))
        unexpected = [k for k in supplied if k not in route.query]
        if unexpected:
            listed = java_list(java_hash_set_order(unexpected))
            return text(406, f"Unexpected query params: {listed}")
        missing = [k for k in route.required if k not in supplied]
        if missing:
            return text(406, f"Missing query params: {java_list(java_hash_set_order(missing))}")
        if route.body and not _is_json(request.headers.get("content-type")):
            return text(415, "HTTP 415 Unsupported Media Type")
        match = route.pattern.match(path)
        assert match is not None
        params = dict(request.query_params)
        return await route.handler(api, Call(request, principal, match, params))
    except RestError as exc:
        return text(exc.status, exc.message, exc.headers)
