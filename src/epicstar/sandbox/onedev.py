"""OneDev 16.5 stand-in: projects, roles, bare repositories with OneDev-like hooks.

The REST API, git smart HTTP and Git LFS live in :mod:`.onedev_app` (``FakeOneDev.app``); this
module holds the state and the test helpers.  Behaviour follows ``/work/shared/research/onedev.md``
and OneDev's source (see the module docstrings of the app for details).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from epicstar.sandbox import gitrepo
from epicstar.sandbox.gitrepo import CommitSpec
from epicstar.sandbox.lfs import is_oid
from epicstar.sandbox.onedev_data import BaseAuthorization, LfsLock, Project, project_data
from epicstar.sandbox.onedev_protection import (
    CHECKER_ENV,
    MANAGER_ENV,
    PROTECTIONS_ENV,
    PYTHON_ENV,
    Protection,
)
from epicstar.sandbox.reqlog import FaultInjector, ObservableServer, RequestLog

VERSION = "16.5.6"
DEFAULT_MAX_GIT_LFS_FILE_SIZE = 4096  # MB: PerformanceSetting.maxGitLFSFileSize

# Hooks are plain sh + awk (no interpreter start-up per push).  OneDev's callbacks walk the
# hook's stdin lines in *reverse* order (GitPreReceiveCallback/GitPostReceiveCallback reverse
# the concatenated ref-update text), so the ref named in the error and the branch HEAD gets
# linked to are the *last* matching lines.  Branch and tag protection rules are checked by
# :mod:`.onedev_protection`, run only for projects with rules in effect.
PRE_RECEIVE = f"""#!/bin/sh
if [ -n "${{{PROTECTIONS_ENV}:-}}" ]; then
    exec "${PYTHON_ENV}" -I "${CHECKER_ENV}"
fi
# OneDev stand-in: only project managers may create/update/delete refs/pulls/* and refs/updates/*
if [ "${{{MANAGER_ENV}:-0}}" = "1" ]; then
    exec cat >/dev/null
fi
bad=$(awk '$3 ~ /^refs\\/(pulls|updates)\\// {{ ref = $3 }} END {{ print ref }}')
if [ -n "$bad" ]; then
    printf '\\n*******************************************************\\n*\\n'
    printf '*  ERROR PUSHING REF: %s\\n' "$bad"
    printf -- '-------------------------------------------------------\\n'
    printf '*  Only project managers can update onedev refs.\\n'
    printf '*\\n*******************************************************\\n\\n'
    exit 1
fi
exit 0
"""

POST_RECEIVE = """#!/bin/sh
# OneDev stand-in: when HEAD does not resolve, link it to a branch of this push.
if git rev-parse -q --verify HEAD >/dev/null 2>&1; then
    exec cat >/dev/null
fi
ref=$(awk '$3 ~ /^refs\\/heads\\// && $2 !~ /^0+$/ { ref = $3 } END { print ref }')
if [ -n "$ref" ]; then
    git symbolic-ref HEAD "$ref"
fi
exit 0
"""

GIT_CONFIG = """[diff]
\talgorithm = histogram
[uploadpack]
\tallowAnySHA1InWant = true
"""

GIT_PACK_KEYS = {
    "windowMemory": "pack.windowMemory",
    "packSizeLimit": "pack.packSizeLimit",
    "threads": "pack.threads",
    "window": "pack.window",
}


class Role(StrEnum):
    """Token roles.

    * ``admin``: everything (administrator).
    * ``creator``: may create root projects and children of projects it owns, manages what it
      owns (the creator is owner), may read and push everywhere.
    * ``no_create``: may read and push, may not create projects nor manage them.
    * ``read_only``: may read (API and clone) only.
    """

    ADMIN = "admin"
    CREATOR = "creator"
    NO_CREATE = "no_create"
    READ_ONLY = "read_only"


@dataclass(frozen=True)
class Principal:
    token: str
    role: Role
    login: str


class FakeOneDev(ObservableServer):
    """In-memory OneDev with real bare repositories (by project id) under ``root``.

    Git LFS objects live on disk where OneDev keeps them, in the project's git directory:
    ``<repository>/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>``."""

    version = VERSION

    max_git_lfs_file_size: int = DEFAULT_MAX_GIT_LFS_FILE_SIZE
    """Performance Setting "Max Git LFS file size", in MB: the Batch API refuses larger
    objects (a per-object 406); set it on the instance to test that."""

    def __init__(self, root: Path, tokens: Mapping[str, Role | str]) -> None:
        self.root = Path(root)
        self.repos_dir = self.root / "projects"
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self.template = self.root / "git-template"
        hooks = self.template / "hooks"
        hooks.mkdir(parents=True, exist_ok=True)
        (self.template / "config").write_text(GIT_CONFIG)
        for name, script in (("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)):
            hook = hooks / name
            hook.write_text(script)
            hook.chmod(0o755)
        self.lock = threading.RLock()
        self.principals: dict[str, Principal] = {}
        for i, (token, role_name) in enumerate(tokens.items(), start=1):
            role = Role(role_name)
            self.principals[token] = Principal(token, role, f"{role.value.replace('_', '-')}{i}")
        self._projects: dict[int, Project] = {}
        self._paths: dict[str, int] = {}
        self._named: dict[tuple[int | None, str], int] = {}
        """(parent id, lower-case name) -> the first project so named there."""
        self._next_id = 1
        self._base_authorizations: dict[int, BaseAuthorization] = {}
        self._next_base_authorization_id = 1
        self._lfs_locks: dict[int, LfsLock] = {}
        self._next_lfs_lock_id = 1
        self.log = RequestLog()
        self.faults = FaultInjector()
        from epicstar.sandbox.onedev_app import build_app

        self.app: ASGIApp = build_app(self)

    # ------------------------------------------------------------------ permissions

    def user_exists(self, login: str) -> bool:
        return any(p.login == login for p in self.principals.values())

    def owns(self, principal: Principal, project: Project) -> bool:
        """Owner of the project or of an ancestor (OneDev roles are inherited)."""
        current: Project | None = project
        while current is not None:
            if current.owner == principal.login:
                return True
            current = self.get(current.parent_id) if current.parent_id is not None else None
        return False

    def can_manage(self, principal: Principal, project: Project) -> bool:
        return principal.role is Role.ADMIN or (
            principal.role is Role.CREATOR and self.owns(principal, project)
        )

    def can_write(self, principal: Principal, project: Project) -> bool:
        return principal.role is not Role.READ_ONLY

    def can_read(self, principal: Principal, project: Project) -> bool:
        # Every role may read every project, so default roles (base authorizations, which
        # OneDev grants to every logged-in user along the parent chain) add nothing here.
        return True

    def can_create_root(self, principal: Principal) -> bool:
        return principal.role in (Role.ADMIN, Role.CREATOR)

    def can_create_children(self, principal: Principal, parent: Project) -> bool:
        return self.can_manage(principal, parent)

    # ------------------------------------------------------------------ structure

    def get(self, project_id: int) -> Project | None:
        with self.lock:
            return self._projects.get(project_id)

    def by_path(self, path: str) -> Project | None:
        with self.lock:
            project_id = self._paths.get(path.strip("/").lower())
            return self._projects.get(project_id) if project_id is not None else None

    def all_projects(self) -> list[Project]:
        with self.lock:
            return list(self._projects.values())

    def children(self, project_id: int) -> list[Project]:
        with self.lock:
            return [p for p in self._projects.values() if p.parent_id == project_id]

    def find_child(self, parent_id: int | None, name: str) -> Project | None:
        """Same parent, name equal ignoring case (DefaultProjectService.find)."""
        with self.lock:
            project_id = self._named.get((parent_id, name.lower()))
            return self._projects.get(project_id) if project_id is not None else None

    def descendant_ids(self, project_id: int) -> list[int]:
        with self.lock:
            found = [project_id]
            for pid in found:
                found.extend(p.id for p in self._projects.values() if p.parent_id == pid)
            return found

    def refresh_paths(self) -> None:
        """Every project's path, and the look-ups by path and by name, after any change."""
        with self.lock:
            self._paths.clear()
            self._named.clear()
            for project in self._projects.values():
                self._index(project)

    def _index(self, project: Project) -> None:
        names = [project.name]
        current = project
        while current.parent_id is not None:
            current = self._projects[current.parent_id]
            names.append(current.name)
        project.path = "/".join(reversed(names))
        self._paths.setdefault(project.path.lower(), project.id)
        self._named.setdefault((project.parent_id, project.name.lower()), project.id)

    def reserve(self, project: Project) -> Project:
        """Insert a new project record (id allocated here)."""
        with self.lock:
            project.id = self._next_id
            self._next_id += 1
            self._projects[project.id] = project
            self._index(project)  # a new project has no children: no other path changes
            return project

    def discard(self, project_ids: Sequence[int]) -> None:
        with self.lock:
            for pid in project_ids:
                self._projects.pop(pid, None)
            gone = set(project_ids)
            for auth in list(self._base_authorizations.values()):
                if auth.project_id in gone:  # cascades with the project
                    del self._base_authorizations[auth.id]
            for lock in list(self._lfs_locks.values()):
                if lock.project_id in gone:
                    del self._lfs_locks[lock.id]
            self.refresh_paths()
        for pid in project_ids:
            shutil.rmtree(self.repo_path(pid), ignore_errors=True)

    def repo_path(self, project_id: int) -> Path:
        return self.repos_dir / f"{project_id}.git"

    # ------------------------------------------------------------------ default roles

    def base_authorizations(self, project_id: int) -> list[BaseAuthorization]:
        """The project's own default roles (``project.getBaseAuthorizations()``), by id."""
        with self.lock:
            return sorted(
                (a for a in self._base_authorizations.values() if a.project_id == project_id),
                key=lambda a: a.id,
            )

    def base_authorization(self, authorization_id: int) -> BaseAuthorization | None:
        with self.lock:
            return self._base_authorizations.get(authorization_id)

    def create_base_authorization(self, project_id: int, role_id: int) -> BaseAuthorization:
        """Insert a row; ValueError for an unknown role (id < 1) or a duplicate
        {project, role} (OneDev's unique constraint)."""
        with self.lock:
            if role_id < 1:
                raise ValueError(f"no role {role_id}")
            if any(a.role_id == role_id for a in self.base_authorizations(project_id)):
                raise ValueError(f"project {project_id} already has default role {role_id}")
            authorization = BaseAuthorization(self._next_base_authorization_id, project_id, role_id)
            self._next_base_authorization_id += 1
            self._base_authorizations[authorization.id] = authorization
            return authorization

    def delete_base_authorization(self, authorization_id: int) -> None:
        with self.lock:
            self._base_authorizations.pop(authorization_id, None)

    def inherited_base_authorizations(self, project: Project) -> list[BaseAuthorization]:
        """Default roles in effect on ``project``: its own and every ancestor's
        (``DefaultAuthorizingService`` walks up the parent chain)."""
        with self.lock:
            found: list[BaseAuthorization] = []
            current: Project | None = project
            while current is not None:
                found.extend(self.base_authorizations(current.id))
                current = self.get(current.parent_id) if current.parent_id is not None else None
            return found

    # ------------------------------------------------------------------ Git LFS

    def lfs_object_path(self, project_id: int, oid: str) -> Path:
        """Where object ``oid`` of the project is (or would be) stored."""
        return self.repo_path(project_id) / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid

    def lfs_upload_dir(self, project_id: int) -> Path:
        """Uploads in progress: renamed into ``lfs/objects`` once their content is verified."""
        return self.repo_path(project_id) / "lfs" / "incoming"

    def lfs_locks(self, project_id: int) -> list[LfsLock]:
        with self.lock:
            return sorted(
                (lock for lock in self._lfs_locks.values() if lock.project_id == project_id),
                key=lambda lock: lock.id,
            )

    def lfs_lock(self, lock_id: int) -> LfsLock | None:
        with self.lock:
            return self._lfs_locks.get(lock_id)

    def create_lfs_lock(self, project_id: int, path: str, owner: str) -> tuple[LfsLock, bool]:
        """The lock on ``path`` and whether it was created now (False: someone holds it)."""
        with self.lock:
            for lock in self.lfs_locks(project_id):
                if lock.path == path:
                    return lock, False
            lock = LfsLock(self._next_lfs_lock_id, project_id, path, owner, time.time())
            self._next_lfs_lock_id += 1
            self._lfs_locks[lock.id] = lock
            return lock, True

    def delete_lfs_lock(self, lock_id: int) -> None:
        with self.lock:
            self._lfs_locks.pop(lock_id, None)

    # ------------------------------------------------------------------ protection rules

    def protections(self, project: Project) -> list[Protection]:
        """Rules in effect on ``project``: its own, then each ancestor's, nearest first."""
        with self.lock:
            found: list[Protection] = []
            current: Project | None = project
            while current is not None:
                found.extend(current.protections)
                current = self.get(current.parent_id) if current.parent_id is not None else None
            return found

    def protect_branches(
        self,
        path: str,
        branches: str = "**",
        *,
        prevent_forced_push: bool = True,
        prevent_deletion: bool = True,
        prevent_creation: bool = True,
    ) -> None:
        """Add a branch protection rule to project ``path`` as a manager would in OneDev's
        settings (whose new rule prevents all three); it applies to every project below."""
        rule = Protection(
            "branch", branches, prevent_creation, prevent_deletion, prevent_forced_push
        )
        with self.lock:
            self._require(path).protections.append(rule)

    def protect_tags(
        self,
        path: str,
        tags: str = "**",
        *,
        prevent_update: bool = True,
        prevent_deletion: bool = True,
        prevent_creation: bool = True,
    ) -> None:
        """Add a tag protection rule to project ``path`` (see :meth:`protect_branches`)."""
        rule = Protection("tag", tags, prevent_creation, prevent_deletion, prevent_update)
        with self.lock:
            self._require(path).protections.append(rule)

    # ------------------------------------------------------------------ test helpers

    def _require(self, path_or_id: str | int) -> Project:
        project = self.get(path_or_id) if isinstance(path_or_id, int) else self.by_path(path_or_id)
        if project is None:
            raise KeyError(path_or_id)
        return project

    def project(self, path: str) -> dict[str, Any] | None:
        """ProjectData (as the API returns it) of ``path``, or None."""
        found = self.by_path(path)
        return project_data(found) if found is not None else None

    def projects(self) -> list[dict[str, Any]]:
        return [project_data(p) for p in sorted(self.all_projects(), key=lambda p: p.id)]

    def add_default_role(self, path: str, role_id: int = 2) -> int:
        """Give project ``path`` a default role (a ``BaseAuthorization`` row) as a project
        manager would in OneDev's UI; returns the row's id.  Role 1 is "Owner"; any positive
        id is accepted.  ValueError if the project already has that default role."""
        return self.create_base_authorization(self._require(path).id, role_id).id

    def default_roles(self, path: str, *, inherited: bool = False) -> list[int]:
        """Role ids of the project's own default roles (what ``GET
        /~api/projects/{id}/base-authorizations`` lists); ``inherited=True`` adds the
        ancestors' ones, i.e. every default role in effect on the project."""
        project = self._require(path)
        if inherited:
            return [a.role_id for a in self.inherited_base_authorizations(project)]
        return [a.role_id for a in self.base_authorizations(project.id)]

    def repo_dir(self, path_or_id: str | int) -> Path:
        return self.repo_path(self._require(path_or_id).id)

    def refs(self, path: str) -> dict[str, str]:
        """All refs of the project's repository (including ``refs/pulls/*``)."""
        return gitrepo.list_refs(self.repo_dir(path))

    def default_branch(self, path: str) -> str | None:
        """What ``GET …/default-branch`` would say (None for 204)."""
        repo = self.repo_dir(path)
        target = gitrepo.head_target(repo)
        if target is None or not target.startswith("refs/heads/"):
            return None
        return target[len("refs/heads/") :] if gitrepo.resolve(repo, target) else None

    def lfs_object_paths(self, path: str) -> dict[str, Path]:
        """Git LFS objects stored for project ``path``: oid -> file (for big objects)."""
        project_id = self._require(path).id
        objects = self.repo_path(project_id) / "lfs" / "objects"
        return {
            file.name: file
            for file in sorted(objects.glob("??/??/*"))
            if is_oid(file.name) and file == self.lfs_object_path(project_id, file.name)
        }

    def lfs_objects(self, path: str) -> dict[str, bytes]:
        """Git LFS objects stored for project ``path``: oid -> content."""
        return {oid: file.read_bytes() for oid, file in self.lfs_object_paths(path).items()}

    def add_lfs_object(self, path: str, content: bytes) -> str:
        """Store ``content`` as a Git LFS object of project ``path`` (as if pushed before);
        returns its oid."""
        oid = hashlib.sha256(content).hexdigest()
        target = self.lfs_object_path(self._require(path).id, oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return oid

    def init_repository(self, project: Project) -> None:
        gitrepo.init_bare(self.repo_path(project.id), "main", self.template)

    def add_project(
        self,
        path: str,
        *,
        with_content: bool = False,
        description: str | None = None,
        owner: str | None = None,
    ) -> int:
        """Create ``path`` (and missing ancestors, like ``ProjectService.setup``: those get
        ``codeManagement``/``issueManagement`` off) as if someone created it in OneDev's UI.
        ``with_content`` adds a commit on ``main``.  Returns the project id."""
        names = [n for n in path.strip("/").split("/") if n]
        if not names:
            raise ValueError("empty project path")
        parent: Project | None = None
        for depth, name in enumerate(names):
            last = depth == len(names) - 1
            existing = self.find_child(parent.id if parent else None, name)
            if existing is not None:
                if last:
                    raise ValueError(f"project {path} already exists")
                parent = existing
                continue
            project = Project(
                id=0,
                name=name,
                parent_id=parent.id if parent else None,
                create_date=time.time(),
                description=description if last else None,
                code_management=last,
                issue_management=last,
                owner=owner,
                last_activity=time.time(),
            )
            self.reserve(project)
            self.init_repository(project)
            parent = project
        assert parent is not None
        if with_content:
            gitrepo.fast_import(
                self.repo_path(parent.id),
                [CommitSpec("refs/heads/main", {"README.md": f"# {names[-1]}\n"}, "Initial\n")],
            )
        return parent.id

    def add_onedev_refs(self, path: str, number: int = 1) -> dict[str, str]:
        """Create ``refs/pulls/<n>/head``, ``refs/pulls/<n>/merge`` and
        ``refs/updates/<n>/head`` as if a OneDev user had opened pull request ``n``."""
        repo = self.repo_dir(path)
        tip = gitrepo.resolve(repo, "HEAD")
        if tip is None:
            tip = gitrepo.fast_import(
                repo, [CommitSpec(f"refs/pulls/{number}/head", {"pr.txt": "pr\n"}, "PR\n")]
            )[0]
        refs = {
            f"refs/pulls/{number}/head": tip,
            f"refs/pulls/{number}/merge": tip,
            f"refs/updates/{number}/head": tip,
        }
        gitrepo.update_refs(repo, dict(refs))
        return refs

    def apply_git_pack_config(self, project: Project, previous: Mapping[str, str | None]) -> None:
        """Mirror ``gitPackConfig`` into ``pack.*`` of the repository (set or unset)."""
        repo = self.repo_path(project.id)
        for field_name, key in GIT_PACK_KEYS.items():
            value = project.git_pack_config.get(field_name)
            if value is not None:
                gitrepo.run_git(repo, "config", key, value)
            elif previous.get(field_name) is not None:
                gitrepo.run_git(repo, "config", "--unset-all", key)
