"""The OneDev stand-in's /~api is as strict as OneDev 16.5 (statuses and text bodies)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from epicstar.sandbox import Sandbox, gitrepo
from tests.sandbox.conftest import OD_ADMIN, OD_CREATOR, OD_NO_CREATE, OD_READ_ONLY, basic

ADMIN = {"Authorization": f"Bearer {OD_ADMIN}"}
MINIMAL: dict[str, Any] = {"gitPackConfig": {}, "codeAnalysisSetting": {}}


def call(
    sb: Sandbox,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    return httpx.request(
        method,
        f"{sb.onedev_url}/~api{path}",
        headers=ADMIN if headers is None else headers,
        **kwargs,
    )


def create(sb: Sandbox, name: str, parent: int | None = None, **fields: Any) -> httpx.Response:
    body = {"name": name, **MINIMAL, **fields}
    if parent is not None:
        body["parentId"] = parent
    return call(sb, "POST", "/projects", json=body)


def created_id(sb: Sandbox, name: str, parent: int | None = None) -> int:
    response = create(sb, name, parent)
    assert response.status_code == 200, response.text
    return int(response.json())


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {OD_ADMIN}"},
        {"Authorization": f"token {OD_ADMIN}"},
        {"Authorization": basic(OD_ADMIN, "")},
        {"Authorization": basic("anyone", OD_ADMIN)},
        {"OneDevAuthorization": f"Bearer {OD_ADMIN}", "Authorization": "Bearer wrong"},
    ],
)
def test_accepted_credentials(sandbox: Sandbox, headers: dict[str, str]) -> None:
    response = call(sandbox, "GET", "/version/server", headers=headers)
    assert response.status_code == 200
    assert response.text == "16.5.6"


def test_authentication_failures(sandbox: Sandbox) -> None:
    anonymous = call(sandbox, "GET", "/version/server", headers={})
    assert anonymous.status_code == 401
    assert anonymous.text == "Not authenticated"
    assert anonymous.headers["www-authenticate"] == 'Basic realm="OneDev"'
    assert anonymous.headers["content-type"].startswith("text/plain")
    post = call(sandbox, "POST", "/projects", headers={}, json={"name": "x", **MINIMAL})
    assert post.status_code == 401
    bad = call(sandbox, "GET", "/version/server", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.text == "Invalid account or incorrect credentials"
    assert "www-authenticate" not in bad.headers
    # The Bearer prefix is case-sensitive: "bearer x" is no credential at all.
    lower = call(sandbox, "GET", "/version/server", headers={"Authorization": f"bearer {OD_ADMIN}"})
    assert lower.status_code == 401
    assert lower.text == "Not authenticated"
    # OneDevAuthorization wins over Authorization.
    both = {"OneDevAuthorization": "Bearer nope", "Authorization": f"Bearer {OD_ADMIN}"}
    assert call(sandbox, "GET", "/version/server", headers=both).status_code == 401


def test_create_requires_git_pack_config_and_name(sandbox: Sandbox) -> None:
    missing = call(sandbox, "POST", "/projects", json={"name": "x", "codeAnalysisSetting": {}})
    assert missing.status_code == 400
    assert missing.text == "createProject.arg0.gitPackConfig: must not be null"
    null = call(sandbox, "POST", "/projects", json={"name": "x", **MINIMAL, "gitPackConfig": None})
    assert null.status_code == 400
    blank = call(sandbox, "POST", "/projects", json={"name": "  ", **MINIMAL})
    assert blank.status_code == 400
    assert blank.text == "createProject.arg0.name: must not be empty"
    unknown = call(sandbox, "POST", "/projects", json={"name": "x", "bogus": 1, **MINIMAL})
    assert unknown.status_code == 400
    assert 'Unrecognized field "bogus"' in unknown.text
    wrong_type = call(
        sandbox,
        "POST",
        "/projects",
        content=b'{"name":"x"}',
        headers={**ADMIN, "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415
    assert sandbox.onedev.projects() == []


def test_create_success_semantics(sandbox: Sandbox) -> None:
    response = create(sandbox, "github", path="ignored/path", id=999, description="")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    project_id = int(response.text)
    data = call(sandbox, "GET", f"/projects/{project_id}").json()
    assert data["id"] == project_id
    assert data["path"] == "github"
    assert data["description"] is None  # empty strings become null
    assert data["codeManagement"] is True
    assert data["timeTracking"] is False
    assert data["gitPackConfig"] == {
        "windowMemory": None,
        "packSizeLimit": None,
        "threads": None,
        "window": None,
    }
    assert data["createDate"].endswith("+00:00")
    # Names are not validated by the REST API (the UI would reject these).
    assert create(sandbox, ".github has spaces/and slash").status_code == 200
    long = call(
        sandbox, "POST", "/projects", json={"name": "long", **MINIMAL, "description": "d" * 20000}
    )
    described = sandbox.onedev.project("long")
    assert long.status_code == 200
    assert described is not None
    assert len(described["description"]) == 15000
    assert described["description"].endswith("...")
    # The creator's repository exists even without code management.
    assert create(sandbox, "nocode", codeManagement=False).status_code == 200
    assert (sandbox.onedev.repo_dir("nocode") / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (
        (sandbox.onedev.repo_dir("nocode") / "hooks" / "pre-receive")
        .read_text()
        .startswith("#!/bin/sh")
    )


def test_name_clash_is_500_text(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    clash = create(sandbox, "GitHub")
    assert clash.status_code == 500
    assert clash.text == "Name 'GitHub' is already used by another root project"
    created_id(sandbox, "fastapi", root)
    child_clash = create(sandbox, "FASTAPI", root)
    assert child_clash.status_code == 500
    assert child_clash.text == "Name 'FASTAPI' is already used by another project under 'github'"
    unknown_parent = create(sandbox, "x", 424242)
    assert unknown_parent.status_code == 404


def test_create_permissions(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    no_create = {"Authorization": f"Bearer {OD_NO_CREATE}"}
    denied = call(sandbox, "POST", "/projects", headers=no_create, json={"name": "x", **MINIMAL})
    assert denied.status_code == 403
    assert denied.text == "Not authorized to create root project"
    body = {"name": "x", "parentId": root, **MINIMAL}
    child = call(sandbox, "POST", "/projects", headers=no_create, json=body)
    assert child.status_code == 403
    assert child.text == "Not authorized to create project under 'github'"
    creator = {"Authorization": f"token {OD_CREATOR}"}
    own_root = call(sandbox, "POST", "/projects", headers=creator, json={"name": "mine", **MINIMAL})
    assert own_root.status_code == 200
    own_child = {"name": "c", "parentId": int(own_root.text), **MINIMAL}
    assert call(sandbox, "POST", "/projects", headers=creator, json=own_child).status_code == 200
    assert call(sandbox, "POST", "/projects", headers=creator, json=body).status_code == 403
    read_only = {"Authorization": f"Bearer {OD_READ_ONLY}"}
    assert call(sandbox, "GET", f"/projects/{root}", headers=read_only).status_code == 200
    assert call(sandbox, "DELETE", f"/projects/{root}", headers=read_only).status_code == 403


def test_wiki_child_project(sandbox: Sandbox) -> None:
    """A repository's wiki as epicstar keeps it: a child project ``wiki`` created with
    ``parentId``.  A role on a project holds on its descendants (OneDev's ProjectPermission
    implies them), so whoever owns the repository's project manages its wiki too."""
    creator = {"Authorization": f"token {OD_CREATOR}"}
    owned = call(sandbox, "POST", "/projects", headers=creator, json={"name": "hello", **MINIMAL})
    repository = int(owned.text)
    wiki = created_id(sandbox, "wiki", repository)  # by the admin
    assert sandbox.onedev.project("hello/wiki") == call(sandbox, "GET", f"/projects/{wiki}").json()
    clash = create(sandbox, "Wiki", repository)
    assert (clash.status_code, clash.text) == (
        500,
        "Name 'Wiki' is already used by another project under 'hello'",
    )
    other = created_id(sandbox, "other")
    assert create(sandbox, "wiki", other).status_code == 200  # unique among siblings only
    assert create(sandbox, "wiki", 424242).status_code == 404  # the parent must exist
    described = {**call(sandbox, "GET", f"/projects/{wiki}").json(), "description": "Wiki"}
    update = call(sandbox, "POST", f"/projects/{wiki}", headers=creator, json=described)
    assert update.status_code == 200
    under_other = {"name": "notes", "parentId": other, **MINIMAL}
    denied = call(sandbox, "POST", "/projects", headers=creator, json=under_other)
    assert (denied.status_code, denied.text) == (
        403,
        "Not authorized to create project under 'other'",
    )
    read_only = {"Authorization": f"Bearer {OD_READ_ONLY}"}
    found = call(sandbox, "GET", "/projects/ids/hello/wiki", headers=read_only)
    assert (found.status_code, found.text) == (200, str(wiki))


def test_lookup_by_path_and_clone_url(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    child = created_id(sandbox, "FastAPI", root)
    found = call(sandbox, "GET", "/projects/ids/GitHub/fastapi")
    assert (found.status_code, found.text) == (200, str(child))
    missing = call(sandbox, "GET", "/projects/ids/github/nope")
    assert (missing.status_code, missing.text) == (
        404,
        "Project not found or inaccessible: github/nope",
    )
    assert call(sandbox, "GET", "/projects/31337").status_code == 404
    urls = call(sandbox, "GET", f"/projects/{child}/clone-url").json()
    assert urls["http"] == f"{sandbox.onedev_url}/github/FastAPI.git"
    assert urls["ssh"].endswith("/github/FastAPI.git")


def test_query_parameters_are_checked(sandbox: Sandbox) -> None:
    missing = call(sandbox, "GET", "/projects", params={"query": "roots"})
    assert (missing.status_code, missing.text) == (406, "Missing query params: [offset, count]")
    unexpected = call(sandbox, "GET", "/projects", params={"offset": 0, "count": 1, "per_page": 5})
    assert (unexpected.status_code, unexpected.text) == (406, "Unexpected query params: [per_page]")
    too_many = {"Authorization": f"Bearer {OD_NO_CREATE}"}
    big = call(sandbox, "GET", "/projects", headers=too_many, params={"offset": 0, "count": 101})
    assert (big.status_code, big.text) == (406, "Count should not be greater than 100")
    assert call(sandbox, "GET", "/projects", params={"offset": 0, "count": 500}).status_code == 200
    stray = call(sandbox, "GET", "/version/server", params={"x": "1"})
    assert stray.status_code == 406


def query(sb: Sandbox, q: str, count: int = 100) -> httpx.Response:
    return call(sb, "GET", "/projects", params={"query": q, "offset": 0, "count": count})


def paths(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(p["path"] for p in response.json())


def test_project_queries(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    owner = created_id(sandbox, "fastapi", root)
    created_id(sandbox, "fastapi", owner)
    created_id(sandbox, "typer", owner)
    created_id(sandbox, "other")
    assert paths(query(sandbox, '"Path" is "GitHub/FastAPI/FastAPI"')) == ["github/fastapi/fastapi"]
    assert paths(query(sandbox, '"Path" is "github/*"')) == ["github/fastapi"]
    assert paths(query(sandbox, '"Path" is "github/**"')) == [  # Ant: ** matches zero segments
        "github",
        "github/fastapi",
        "github/fastapi/fastapi",
        "github/fastapi/typer",
    ]
    assert paths(query(sandbox, '"Name" is "FASTAPI"')) == [
        "github/fastapi",
        "github/fastapi/fastapi",
    ]
    assert paths(query(sandbox, 'children of "github/fastapi"')) == [
        "github/fastapi/fastapi",
        "github/fastapi/typer",
    ]
    assert paths(query(sandbox, "roots")) == ["github", "other"]
    assert paths(query(sandbox, 'roots or "Name" is "typer"')) == [
        "github",
        "github/fastapi/typer",
        "other",
    ]
    assert paths(query(sandbox, 'not(roots) and "Name" is "typer"')) == ["github/fastapi/typer"]
    ordered = query(sandbox, 'roots order by "Path" desc').json()
    assert [p["path"] for p in ordered] == ["other", "github"]
    assert len(query(sandbox, "", count=2).json()) == 2
    unknown = query(sandbox, '"Owner" is "x"')
    assert (unknown.status_code, unknown.text) == (500, "Field not found: Owner")
    for bad in ('"Path" is', "Roots", '"Path"  is"x"', "roots and", '"Path" is ""'):
        invalid = query(sandbox, bad)
        assert (invalid.status_code, invalid.text) == (406, "Invalid query"), bad


def test_update_is_a_full_replace(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    child = created_id(sandbox, "fastapi", root)
    data = call(sandbox, "GET", f"/projects/{child}").json()
    data["description"] = "mirror"
    assert call(sandbox, "POST", f"/projects/{child}", json=data).status_code == 200
    assert sandbox.onedev.project("github/fastapi")["description"] == "mirror"  # type: ignore[index]
    # Omitting parentId moves the project to the root; omitted booleans revert to defaults.
    partial = {"name": "fastapi", "issueManagement": False, **MINIMAL}
    response = call(sandbox, "POST", f"/projects/{child}", json=partial)
    assert (response.status_code, response.text) == (200, "")
    moved = call(sandbox, "GET", f"/projects/{child}").json()
    assert moved["parentId"] is None
    assert moved["path"] == "fastapi"
    assert moved["description"] is None
    assert moved["issueManagement"] is False
    without_config = call(sandbox, "POST", f"/projects/{child}", json={"name": "fastapi"})
    assert without_config.status_code == 400
    assert "updateProject.arg1.gitPackConfig: must not be null" in without_config.text
    created_id(sandbox, "taken")
    clash = call(sandbox, "POST", f"/projects/{child}", json={"name": "TAKEN", **MINIMAL})
    assert (clash.status_code, clash.text) == (
        500,
        "Name 'TAKEN' is already used by another root project",
    )
    under_self = {"name": "github", "parentId": root, **MINIMAL}
    assert call(sandbox, "POST", f"/projects/{root}", json=under_self).status_code == 500


def test_delete_is_recursive(sandbox: Sandbox) -> None:
    root = created_id(sandbox, "github")
    child = created_id(sandbox, "fastapi", root)
    repo = sandbox.onedev.repo_dir(child)
    response = call(sandbox, "DELETE", f"/projects/{root}")
    assert (response.status_code, response.text) == (200, "")
    assert sandbox.onedev.projects() == []
    assert not repo.exists()
    assert call(sandbox, "DELETE", f"/projects/{root}").status_code == 404


def test_default_branch_and_refs(sandbox: Sandbox) -> None:
    project_id = sandbox.onedev.add_project("github/octo/hello", with_content=True)
    empty_id = created_id(sandbox, "empty")
    assert call(sandbox, "GET", f"/repositories/{empty_id}/default-branch").status_code == 204
    current = call(sandbox, "GET", f"/repositories/{project_id}/default-branch")
    assert (current.status_code, current.text) == (200, "main")  # raw, not JSON-quoted
    repo = sandbox.onedev.repo_dir(project_id)
    gitrepo.update_refs(
        repo, {"refs/heads/master": sandbox.onedev.refs("github/octo/hello")["refs/heads/main"]}
    )
    url = f"/repositories/{project_id}/default-branch"
    json_header = {**ADMIN, "Content-Type": "application/json"}
    unquoted = call(sandbox, "POST", url, headers=json_header, content=b"master")
    assert unquoted.status_code == 500
    missing = call(sandbox, "POST", url, headers=json_header, content=b'"nope"')
    assert (missing.status_code, missing.text) == (500, "Branch not exist: nope")
    ok = call(sandbox, "POST", url, headers=json_header, content=b'"master"')
    assert (ok.status_code, ok.text) == (200, "")
    assert call(sandbox, "GET", url).text == "master"
    read_only = {"Authorization": f"Bearer {OD_READ_ONLY}", "Content-Type": "application/json"}
    assert call(sandbox, "POST", url, headers=read_only, content=b'"main"').status_code == 403
    branches = call(sandbox, "GET", f"/repositories/{project_id}/branches").json()
    assert branches == ["main", "master"]
    assert call(sandbox, "GET", f"/repositories/{project_id}/tags").json() == []


def test_injected_fault_once(sandbox: Sandbox) -> None:
    sandbox.onedev.inject("POST", r"^/~api/projects$", 500, body="Internal Server Error")
    first = create(sandbox, "github")
    assert (first.status_code, first.text) == (500, "Internal Server Error")
    assert create(sandbox, "github").status_code == 200
    assert sandbox.onedev.count("POST", "/~api/projects") == 2
    assert sandbox.onedev.count(status=500) == 1


def test_helpers_add_project_and_onedev_refs(sandbox: Sandbox) -> None:
    project_id = sandbox.onedev.add_project("github/octo/hello", with_content=True)
    parent = sandbox.onedev.project("github/octo")
    assert parent is not None
    assert parent["codeManagement"] is False
    assert sandbox.onedev.project("github/octo/hello")["id"] == project_id  # type: ignore[index]
    refs = sandbox.onedev.add_onedev_refs("github/octo/hello")
    assert set(refs) <= set(sandbox.onedev.refs("github/octo/hello"))
    assert "refs/pulls/1/head" in refs
