"""A private repository's mirror must never be more visible than the repository itself.

OneDev grants "default roles" to every logged-in user (and to anonymous users when anonymous
access is on) through ``BaseAuthorization`` rows, and a row on a project applies to every
project below it. A project epicstar creates has none of its own, so the risk is an ancestor
such as ``github``: every ancestor is checked, every pass, before anything is pushed.
"""

from __future__ import annotations

from epicstar.destination import OneDevClient


class MirrorWouldBeExposed(Exception):
    """A project on the mirror's path gives default roles to everyone."""


def check_private_mirror(onedev: OneDevClient, project_id: int, full_name: str) -> None:
    current: int | None = project_id
    while current is not None:
        project = onedev.get_project(current)
        if project is None:
            return
        if onedev.base_authorizations(current):
            raise MirrorWouldBeExposed(
                f"{full_name} is private on GitHub, but OneDev project '{project.get('path')}' "
                "gives default roles to every user, so its mirror would be visible to more "
                "people than on GitHub; remove them (project settings > Default Roles) or "
                "mirror under another EPICSTAR_ONEDEV_PARENT, then run "
                "epicstar sync --retry-failed"
            )
        parent = project.get("parentId")
        current = int(parent) if isinstance(parent, int) else None
