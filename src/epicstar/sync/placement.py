"""Where a repository lives in OneDev: the project is chosen once, stored, and reused.

Identity is the GitHub id. The stored project id wins over any name; a path is derived only
when a repository has no project yet, and a derived path that another repository already
uses, or that holds someone else's content, is never reused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from epicstar.destination import OneDevClient, ProjectNameTaken, mirror_path, suffixed
from epicstar.sync.failures import ProjectConflict


def marker(github_id: int) -> str:
    """The line that marks a OneDev project as epicstar's mirror of one GitHub repository."""
    return f"(epicstar mirror, GitHub id {github_id})"


def mirror_description(github_id: int, description: str | None, html_url: str | None) -> str:
    origin = f"Mirror of {html_url} " if html_url else "Mirror "
    footer = f"{origin}{marker(github_id)}"
    text = (description or "").strip()
    return f"{text}\n\n{footer}" if text else footer


@dataclass(frozen=True)
class Choice:
    path: str
    project_id: int | None  # None: to be created at ``path``


@dataclass(frozen=True)
class Placement:
    project_id: int
    path: str
    created: bool


class ProjectPlacer:
    """Finds or creates OneDev projects; remembers parent ids for the length of a run.

    Passes running at once share one placer: a new project is chosen and created by one pass
    at a time, and a path chosen in this run is not chosen again by another repository's
    pass before the first one has stored it.
    """

    def __init__(self, onedev: OneDevClient, parent: str) -> None:
        self._onedev = onedev
        self._parent = parent
        self._parents: dict[str, int] = {}
        self._creating = threading.Lock()
        self._chosen: dict[str, int] = {}  # path -> the repository it was chosen for

    def place(
        self,
        *,
        github_id: int,
        owner: str,
        name: str,
        stored_id: int | None,
        stored_path: str | None,
        description: str,
        path_in_use: Callable[[str], bool],
        vet_parent: Callable[[str], None] = lambda parent_path: None,
    ) -> Placement:
        """``vet_parent`` is given the parent path before anything is created under it, and
        raises to create nothing."""

        def chosen_or_in_use(path: str) -> bool:
            return self._chosen.get(path, github_id) != github_id or path_in_use(path)

        def choose() -> Choice:
            return self.choose(
                github_id=github_id,
                owner=owner,
                name=name,
                stored_id=stored_id,
                stored_path=stored_path,
                path_in_use=chosen_or_in_use,
            )

        if stored_id is not None:
            choice = choose()
            if choice.project_id is not None:
                return Placement(choice.project_id, choice.path, False)
        with self._creating:
            choice = choose()
            self._chosen[choice.path] = github_id
            if choice.project_id is None:
                return self._create_at(choice.path, description, vet_parent)
            return Placement(choice.project_id, choice.path, False)

    def choose(
        self,
        *,
        github_id: int,
        owner: str,
        name: str,
        stored_id: int | None,
        stored_path: str | None,
        path_in_use: Callable[[str], bool],
    ) -> Choice:
        """Where :meth:`place` puts the repository, found by reading OneDev only."""
        if stored_id is not None:
            project = self._onedev.get_project(stored_id)
            if project is not None:
                return Choice(str(project.get("path") or stored_path), stored_id)
            if stored_path:
                # The project was deleted in OneDev: recreate it where it was.
                return Choice(stored_path, None)
        path = mirror_path(self._parent, owner, name)
        for candidate in (path, _with_suffix(path, github_id)):
            if path_in_use(candidate):
                continue
            existing = self._onedev.find_project_id(candidate)
            if existing is None:
                return Choice(candidate, None)
            if self._adoptable(existing, github_id):
                return Choice(candidate, existing)
            if candidate == path:
                raise ProjectConflict(
                    f"OneDev project '{candidate}' already exists, was not created by epicstar "
                    "and is not empty; epicstar will not push into it. Move or delete it in "
                    "OneDev, then run epicstar sync --retry-failed"
                )
        raise ProjectConflict(
            f"neither '{path}' nor '{_with_suffix(path, github_id)}' is free in OneDev"
        )

    def move_under(self, project_id: int, parent_path: str, github_id: int) -> str:
        """Move a project under ``parent_path`` (created if needed), keeping its name unless
        that name is taken there; return its new path."""
        project = self._onedev.get_project(project_id)
        if project is None:
            raise ProjectConflict(f"OneDev project #{project_id} no longer exists")
        name = str(project["name"])
        parent_id = self._ensure_parents(parent_path) if parent_path else None
        for candidate in (name, suffixed(name, github_id)):
            target = f"{parent_path}/{candidate}" if parent_path else candidate
            existing = self._onedev.find_project_id(target)
            if existing == project_id:
                return target
            if existing is None:
                self._onedev.move_project(project_id, parent_id, candidate)
                return target
        raise ProjectConflict(f"neither {name} nor its suffixed name is free under {parent_path}")

    def _adoptable(self, project_id: int, github_id: int) -> bool:
        return adoptable(self._onedev, project_id, marker(github_id))

    def _create_at(
        self, path: str, description: str, vet_parent: Callable[[str], None]
    ) -> Placement:
        parent_path, _, name = path.rpartition("/")
        vet_parent(parent_path)
        parent_id = self._ensure_parents(parent_path) if parent_path else None
        project_id = self._onedev.create_project(name, parent_id, description=description)
        return Placement(project_id, path, True)

    def _ensure_parents(self, path: str) -> int:
        """The id of ``path``, creating each missing level one at a time."""
        if path in self._parents:
            return self._parents[path]
        parent_path, _, name = path.rpartition("/")
        parent_id = self._ensure_parents(parent_path) if parent_path else None
        project_id = self._onedev.find_project_id(path)
        if project_id is None:
            try:
                project_id = self._onedev.create_project(
                    name, parent_id, code_management=False, issue_management=False
                )
            except ProjectNameTaken:
                # Created meanwhile by someone else: use theirs.
                project_id = self._onedev.find_project_id(path)
                if project_id is None:
                    raise
        self._parents[path] = project_id
        return project_id


def adoptable(onedev: OneDevClient, project_id: int, mark: str) -> bool:
    """An existing project may be used if its description carries ``mark`` (epicstar made it
    for this purpose), or if it is empty."""
    project = onedev.get_project(project_id)
    if project is None:
        return False
    if mark in str(project.get("description") or ""):
        return True
    return not onedev.branches(project_id) and not onedev.tags(project_id)


def _with_suffix(path: str, github_id: int) -> str:
    parent, _, name = path.rpartition("/")
    named = suffixed(name, github_id)
    return f"{parent}/{named}" if parent else named
