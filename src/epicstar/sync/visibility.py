"""A private repository's mirror must never be more visible than the repository itself.

OneDev grants "default roles" to every logged-in user (and to anonymous users when anonymous
access is on) through ``BaseAuthorization`` rows, and a row on a project applies to every
project below it. A project epicstar creates has none of its own, so the risk is an ancestor
such as ``github``, or a project epicstar adopts: the existing levels of the parent path are
checked before anything is created under them (even an owner-level parent would show whose
private repositories are mirrored), and the project and every ancestor again on every pass,
before anything is pushed.
"""

from __future__ import annotations

from epicstar.destination import OneDevClient


class MirrorWouldBeExposed(Exception):
    """A project on the mirror's path gives default roles to everyone."""


def check_private_parents(onedev: OneDevClient, parent_path: str, full_name: str) -> None:
    """Before a project is created under ``parent_path``: its existing levels, top down.

    A missing level stops the walk: epicstar creates it and everything below it, with no
    default roles of their own, under levels already found clean.
    """
    path = ""
    for name in filter(None, parent_path.split("/")):
        path = f"{path}/{name}" if path else name
        project_id = onedev.find_project_id(path)
        if project_id is None:
            return
        if onedev.base_authorizations(project_id):
            raise _exposed(full_name, path)


def check_private_mirror(onedev: OneDevClient, project_id: int, full_name: str) -> None:
    current: int | None = project_id
    while current is not None:
        project = onedev.get_project(current)
        if project is None:
            return
        if onedev.base_authorizations(current):
            raise _exposed(full_name, str(project.get("path")))
        parent = project.get("parentId")
        current = int(parent) if isinstance(parent, int) else None


def check_private_project(onedev: OneDevClient, project_id: int, full_name: str) -> None:
    """One project of the mirror's, whose ancestors were checked already."""
    project = onedev.get_project(project_id)
    if project is not None and onedev.base_authorizations(project_id):
        raise _exposed(full_name, str(project.get("path")))


def _exposed(full_name: str, path: str) -> MirrorWouldBeExposed:
    return MirrorWouldBeExposed(
        f"{full_name} is private on GitHub, but OneDev project '{path}' gives default roles "
        "to every user, so its mirror would be visible to more people than on GitHub; remove "
        "them (project settings > Default Roles) or mirror under another "
        "EPICSTAR_ONEDEV_PARENT, then run epicstar sync --retry-failed"
    )
