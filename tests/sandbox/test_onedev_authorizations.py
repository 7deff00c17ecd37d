"""Default roles (``BaseAuthorization`` rows) of the OneDev stand-in, as OneDev 16.5 serves them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from epicstar.sandbox import Sandbox
from tests.sandbox.conftest import OD_ADMIN, OD_CREATOR, OD_NO_CREATE, OD_READ_ONLY

ADMIN = {"Authorization": f"Bearer {OD_ADMIN}"}
MINIMAL: dict[str, Any] = {"gitPackConfig": {}, "codeAnalysisSetting": {}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    sb: Sandbox, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    return httpx.request(
        method,
        f"{sb.onedev_url}/~api{path}",
        headers=ADMIN if headers is None else headers,
        **kwargs,
    )


def create_project(
    sb: Sandbox, name: str, parent: int | None = None, headers: dict[str, str] | None = None
) -> int:
    body: dict[str, Any] = {"name": name, **MINIMAL}
    if parent is not None:
        body["parentId"] = parent
    response = call(sb, "POST", "/projects", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return int(response.json())


def listed(sb: Sandbox, project_id: int, headers: dict[str, str] | None = None) -> Any:
    response = call(sb, "GET", f"/projects/{project_id}/base-authorizations", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def add(sb: Sandbox, project_id: int, role_id: int, headers: dict[str, str] | None = None) -> int:
    body = {"projectId": project_id, "roleId": role_id}
    response = call(sb, "POST", "/base-authorizations", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert response.text.isdigit()
    return int(response.text)


def test_new_project_has_none_even_under_a_parent_with_one(sandbox: Sandbox) -> None:
    parent = create_project(sandbox, "github")
    assert listed(sandbox, parent) == []
    assert call(sandbox, "GET", f"/projects/{parent}/base-authorizations").text == "[ ]"
    add(sandbox, parent, 2)
    child = create_project(sandbox, "repo", parent)
    assert listed(sandbox, child) == []  # nothing copied from the parent
    assert sandbox.onedev.default_roles("github/repo") == []
    assert sandbox.onedev.default_roles("github/repo", inherited=True) == [2]


def test_post_then_listed_and_fetched(sandbox: Sandbox) -> None:
    pid = create_project(sandbox, "p")
    first = add(sandbox, pid, 2)
    second = add(sandbox, pid, 1)
    assert second != first
    assert listed(sandbox, pid) == [
        {"id": first, "projectId": pid, "roleId": 2},
        {"id": second, "projectId": pid, "roleId": 1},
    ]
    got = call(sandbox, "GET", f"/base-authorizations/{first}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    assert got.json() == {"id": first, "projectId": pid, "roleId": 2}
    assert sandbox.onedev.default_roles("p") == [2, 1]


def test_only_own_rows_are_listed(sandbox: Sandbox) -> None:
    parent = create_project(sandbox, "github")
    child = create_project(sandbox, "repo", parent)
    on_parent = add(sandbox, parent, 2)
    assert listed(sandbox, child) == []
    on_child = add(sandbox, child, 3)
    assert listed(sandbox, parent) == [{"id": on_parent, "projectId": parent, "roleId": 2}]
    assert listed(sandbox, child) == [{"id": on_child, "projectId": child, "roleId": 3}]


def test_helpers_match_the_api(sandbox: Sandbox) -> None:
    onedev = sandbox.onedev
    onedev.add_project("github/mirror")
    row = onedev.add_default_role("github")
    parent = onedev.project("github")
    assert parent is not None
    assert listed(sandbox, parent["id"]) == [{"id": row, "projectId": parent["id"], "roleId": 2}]
    assert onedev.default_roles("github") == [2]
    assert onedev.default_roles("github/mirror") == []
    assert onedev.default_roles("github/mirror", inherited=True) == [2]
    with pytest.raises(ValueError, match="already has default role 2"):
        onedev.add_default_role("github")  # unique {project, role}
    with pytest.raises(ValueError, match="no role 0"):
        onedev.add_default_role("github", 0)
    with pytest.raises(KeyError):
        onedev.default_roles("nope")


@pytest.mark.parametrize("token", [OD_NO_CREATE, OD_READ_ONLY, OD_CREATOR])
def test_manage_permission_required(sandbox: Sandbox, token: str) -> None:
    pid = create_project(sandbox, "private")  # owned by the admin
    row = add(sandbox, pid, 2)
    headers = bearer(token)
    responses = [
        call(sandbox, "GET", f"/projects/{pid}/base-authorizations", headers=headers),
        call(
            sandbox,
            "POST",
            "/base-authorizations",
            headers=headers,
            json={"projectId": pid, "roleId": 3},
        ),
        call(sandbox, "GET", f"/base-authorizations/{row}", headers=headers),
        call(sandbox, "DELETE", f"/base-authorizations/{row}", headers=headers),
    ]
    for response in responses:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("text/plain")
    assert sandbox.onedev.default_roles("private") == [2]


def test_creator_manages_its_own_projects(sandbox: Sandbox) -> None:
    creator = bearer(OD_CREATOR)
    parent = create_project(sandbox, "mine", headers=creator)
    child = create_project(sandbox, "sub", parent, headers=creator)
    row = add(sandbox, child, 2, headers=creator)
    assert listed(sandbox, child, headers=creator) == [{"id": row, "projectId": child, "roleId": 2}]


def test_unknown_ids_are_404(sandbox: Sandbox) -> None:
    missing = call(sandbox, "GET", "/projects/999/base-authorizations")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/plain")
    assert missing.text == (
        "No row with the given identifier exists: [io.onedev.server.model.Project#999]"
    )
    post = call(sandbox, "POST", "/base-authorizations", json={"projectId": 999, "roleId": 2})
    assert post.status_code == 404
    for method in ("GET", "DELETE"):
        row = call(sandbox, method, "/base-authorizations/77")
        assert row.status_code == 404
        assert row.text == (
            "No row with the given identifier exists: [io.onedev.server.model.BaseAuthorization#77]"
        )


def test_delete(sandbox: Sandbox) -> None:
    pid = create_project(sandbox, "p")
    keep = add(sandbox, pid, 1)
    drop = add(sandbox, pid, 2)
    deleted = call(sandbox, "DELETE", f"/base-authorizations/{drop}")
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert listed(sandbox, pid) == [{"id": keep, "projectId": pid, "roleId": 1}]
    assert call(sandbox, "GET", f"/base-authorizations/{drop}").status_code == 404
    assert call(sandbox, "DELETE", f"/base-authorizations/{drop}").status_code == 404


def test_rows_go_with_their_project(sandbox: Sandbox) -> None:
    parent = create_project(sandbox, "github")
    child = create_project(sandbox, "repo", parent)
    row = add(sandbox, child, 2)
    assert call(sandbox, "DELETE", f"/projects/{parent}").status_code == 200
    assert call(sandbox, "GET", f"/base-authorizations/{row}").status_code == 404


def test_post_body_errors(sandbox: Sandbox) -> None:
    pid = create_project(sandbox, "p")
    add(sandbox, pid, 2)
    duplicate = call(sandbox, "POST", "/base-authorizations", json={"projectId": pid, "roleId": 2})
    assert duplicate.status_code == 500
    assert duplicate.text == "could not execute statement"
    bad_role = call(sandbox, "POST", "/base-authorizations", json={"projectId": pid, "roleId": 0})
    assert bad_role.status_code == 500
    unknown = call(
        sandbox, "POST", "/base-authorizations", json={"projectId": pid, "roleId": 3, "x": 1}
    )
    assert unknown.status_code == 400
    assert unknown.text == (
        'Unrecognized field "x" (class io.onedev.server.model.BaseAuthorization),'
        " not marked as ignorable"
    )
    empty = call(
        sandbox,
        "POST",
        "/base-authorizations",
        content=b"",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert empty.status_code == 400
    assert empty.text == "createAuthorization.arg0: must not be null"
    text_body = call(
        sandbox,
        "POST",
        "/base-authorizations",
        content=json.dumps({"projectId": pid, "roleId": 3}).encode(),
        headers={**ADMIN, "Content-Type": "text/plain"},
    )
    assert text_body.status_code == 415
    assert call(sandbox, "PUT", "/base-authorizations/1").status_code == 405
    assert sandbox.onedev.default_roles("p") == [2]


def test_anonymous_is_401(sandbox: Sandbox) -> None:
    pid = create_project(sandbox, "p")
    response = call(sandbox, "GET", f"/projects/{pid}/base-authorizations", headers={})
    assert response.status_code == 401
