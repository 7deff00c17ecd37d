"""OneDevClient against answers shaped as research/onedev.md documents them (16.5.x)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from epicstar.destination import (
    OneDevAuthError,
    OneDevClient,
    OneDevError,
    OneDevNotAnApi,
    OneDevNotFound,
    OneDevUnavailable,
    ProjectNameTaken,
    answered_html,
)
from epicstar.retry import RetryPolicy
from tests.http_fakes import Answer, Recorder

URL = "https://onedev.example.com"
TOKEN = "Zq8xT0KENsecretValue-abcdefghijklmnopqrstuv"


def plain(status: int, body: str = "", **headers: str) -> httpx.Response:
    """OneDev's error bodies (and string results) are plain text."""
    return httpx.Response(
        status, content=body.encode(), headers={"content-type": "text/plain", **headers}
    )


def as_json(status: int, body: Any) -> httpx.Response:
    """OneDev pretty-prints its JSON (INDENT_OUTPUT)."""
    return httpx.Response(
        status,
        content=json.dumps(body, indent=2).encode(),
        headers={"content-type": "application/json"},
    )


def html(status: int = 200) -> httpx.Response:
    page = "<!DOCTYPE html>\n<html><head><title>OneDev</title></head><body>...</body></html>"
    return httpx.Response(status, text=page, headers={"content-type": "text/html;charset=UTF-8"})


PROJECT: dict[str, Any] = {
    "id": 42,
    "parentId": 7,
    "forkedFromId": None,
    "name": "fastapi",
    "key": None,
    "path": "github/fastapi/fastapi",
    "description": "old description",
    "createDate": "2025-01-02T03:04:05.678+00:00",
    "codeManagement": True,
    "packManagement": True,
    "issueManagement": False,
    "timeTracking": False,
    "serviceDeskEmailAddress": None,
    "gitPackConfig": {"windowMemory": None, "packSizeLimit": None, "threads": None, "window": None},
    "codeAnalysisSetting": {"analysisFiles": None},
}


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_client(sleeps: FakeSleep) -> Iterator[Callable[..., OneDevClient]]:
    clients: list[OneDevClient] = []

    def make(handler: Recorder, url: str = URL, **kwargs: Any) -> OneDevClient:
        client = OneDevClient(
            url, TOKEN, transport=httpx.MockTransport(handler), sleep=sleeps, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


MakeClient = Callable[..., OneDevClient]


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


# --------------------------------------------------------------------- basics


@pytest.mark.parametrize("answer", ["16.5.6", '"16.5.6"', "16.5.6\n"])
def test_server_version_raw_or_quoted(make_client: MakeClient, answer: str):
    handler = Recorder(plain(200, answer))
    assert make_client(handler).server_version() == "16.5.6"
    request = handler.last
    assert request.method == "GET"
    assert str(request.url) == f"{URL}/~api/version/server"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_find_project_id_keeps_slashes(make_client: MakeClient):
    handler = Recorder(as_json(200, 42))
    assert make_client(handler).find_project_id("github/fastapi/fastapi") == 42
    assert handler.last.url.raw_path == b"/~api/projects/ids/github/fastapi/fastapi"


def test_find_project_id_missing(make_client: MakeClient):
    answer = plain(404, "Project not found or inaccessible: github/nope")
    assert make_client(Recorder(answer)).find_project_id("github/nope") is None


def test_get_project(make_client: MakeClient):
    handler = Recorder(as_json(200, PROJECT), plain(404, "Unable to find Project with id 9"))
    client = make_client(handler)
    assert client.get_project(42) == PROJECT
    assert client.get_project(9) is None
    assert str(handler.requests[0].url) == f"{URL}/~api/projects/42"


def test_git_url_is_built_from_the_configured_url(make_client: MakeClient):
    assert make_client(Recorder()).git_url("github/fastapi/fastapi") == (
        f"{URL}/github/fastapi/fastapi.git"
    )
    assert make_client(Recorder(), url=URL + "/").git_url("a/b") == f"{URL}/a/b.git"
    assert make_client(Recorder(), url=URL + "/~api/").git_url("a/b") == f"{URL}/a/b.git"
    assert make_client(Recorder(), url="http://host:6610/onedev").git_url("a") == (
        "http://host:6610/onedev/a.git"
    )


def test_sub_path_url_reaches_the_api_below_it(make_client: MakeClient):
    handler = Recorder(plain(200, "16.5.6"))
    make_client(handler, url="http://host:6610/onedev").server_version()
    assert str(handler.last.url) == "http://host:6610/onedev/~api/version/server"


@pytest.mark.parametrize("bad", ["onedev.example.com", "ftp://host", f"https://admin:{TOKEN}@host"])
def test_bad_urls_are_refused_without_echoing_them(bad: str):
    with pytest.raises(ValueError, match="OneDev URL") as caught:
        OneDevClient(bad, TOKEN)
    assert TOKEN not in str(caught.value)


# ------------------------------------------------------------------- create


def test_create_root_project_body(make_client: MakeClient):
    handler = Recorder(as_json(200, 12))
    assert make_client(handler).create_project("github", None) == 12
    request = handler.last
    assert request.method == "POST"
    assert str(request.url) == f"{URL}/~api/projects"
    assert request.headers["content-type"] == "application/json"
    assert body_of(request) == {
        "name": "github",
        "parentId": None,
        "codeManagement": True,
        "issueManagement": False,
        "gitPackConfig": {},
        "codeAnalysisSetting": {},
    }


def test_create_child_project_body(make_client: MakeClient):
    handler = Recorder(as_json(200, 42))
    client = make_client(handler)
    project_id = client.create_project(
        "fastapi", 7, description="FastAPI framework", code_management=False
    )
    assert project_id == 42
    body = body_of(handler.last)
    assert body["parentId"] == 7
    assert body["name"] == "fastapi"
    assert body["description"] == "FastAPI framework"
    assert body["codeManagement"] is False
    assert body["gitPackConfig"] == {}
    assert body["codeAnalysisSetting"] == {}


def test_create_refuses_names_onedev_would_reject(make_client: MakeClient):
    handler = Recorder()
    with pytest.raises(ValueError, match="not a valid OneDev project name"):
        make_client(handler).create_project(".github", 7)
    assert handler.requests == []


@pytest.mark.parametrize(
    ("text", "parent"),
    [
        (
            "Name 'fastapi' is already used by another project under 'github/fastapi'",
            "github/fastapi",
        ),
        ("Name 'github' is already used by another root project", None),
    ],
)
def test_name_clash_is_project_name_taken(make_client: MakeClient, text: str, parent: str | None):
    with pytest.raises(ProjectNameTaken) as caught:
        make_client(Recorder(plain(500, text))).create_project("fastapi", 7)
    error = caught.value
    assert error.parent_path == parent
    assert error.status == 500
    assert error.detail == text
    assert text in str(error)


def test_name_clash_is_not_retried(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(500, "Name 'x' is already used by another root project"))
    with pytest.raises(ProjectNameTaken):
        make_client(handler).create_project("x", None)
    assert len(handler.requests) == 1
    assert sleeps.calls == []


def test_403_creating_a_root_project_names_the_permission(make_client: MakeClient):
    with pytest.raises(OneDevAuthError) as caught:
        make_client(Recorder(plain(403, "Not authorized to create root project"))).create_project(
            "github", None
        )
    message = str(caught.value)
    assert "Create Root Projects" in message
    assert "has owner permissions" in message
    assert "administrator" in message
    assert "EPICSTAR_ONEDEV_TOKEN" in message
    assert caught.value.status == 403


def test_403_creating_under_a_parent_names_the_parent(make_client: MakeClient):
    answer = plain(403, "Not authorized to create project under 'github/fastapi'")
    with pytest.raises(OneDevAuthError) as caught:
        make_client(Recorder(answer)).create_project("fastapi", 7)
    message = str(caught.value)
    assert "'Create Children' permission on 'github/fastapi'" in message


def test_unknown_parent_is_not_found(make_client: MakeClient):
    with pytest.raises(OneDevNotFound):
        make_client(Recorder(plain(404, "Unable to find Project with id 999"))).create_project(
            "x", 999
        )


def test_missing_required_fields_answer_is_a_plain_error(make_client: MakeClient):
    answer = plain(400, "createProject.arg0.gitPackConfig: must not be null")
    with pytest.raises(OneDevError) as caught:
        make_client(Recorder(answer)).create_project("x", None)
    assert type(caught.value) is OneDevError
    assert caught.value.status == 400
    assert "gitPackConfig" in caught.value.detail


# -------------------------------------------------------------------- manage


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.update_project(42, PROJECT),
        lambda c: c.set_default_branch(42, "master"),
        lambda c: c.delete_project(42),
    ],
    ids=["update", "default-branch", "delete"],
)
def test_403_on_manage_operations_names_manage_project(
    make_client: MakeClient, action: Callable[[OneDevClient], None]
):
    handler = Recorder(plain(403, "Unauthorized"))
    with pytest.raises(OneDevAuthError) as caught:
        action(make_client(handler))
    assert "'Manage Project' permission on project #42" in str(caught.value)


def test_set_description_keeps_every_other_field(make_client: MakeClient):
    handler = Recorder(as_json(200, PROJECT), plain(200))
    changed = make_client(handler).set_description(42, "new description")
    assert changed is True
    get, post = handler.requests
    assert get.method == "GET"
    assert post.method == "POST"
    assert str(post.url) == f"{URL}/~api/projects/42"
    assert post.headers["content-type"] == "application/json"
    sent = body_of(post)
    expected = {k: v for k, v in PROJECT.items() if k not in {"id", "path", "createDate"}}
    expected["description"] = "new description"
    assert sent == expected
    assert sent["parentId"] == 7


def test_set_description_unchanged_makes_no_write(make_client: MakeClient):
    handler = Recorder(as_json(200, PROJECT))
    assert make_client(handler).set_description(42, "old description") is False
    assert len(handler.requests) == 1


def test_set_description_blank_is_none_like_onedev(make_client: MakeClient):
    project = {**PROJECT, "description": None}
    handler = Recorder(as_json(200, project))
    assert make_client(handler).set_description(42, "   ") is False


def test_set_description_cuts_to_onedev_limit(make_client: MakeClient):
    handler = Recorder(as_json(200, PROJECT), plain(200))
    make_client(handler).set_description(42, "x" * 20000)
    assert len(body_of(handler.last)["description"]) == 15000


def test_set_description_fills_required_settings(make_client: MakeClient):
    project = {**PROJECT, "gitPackConfig": None, "codeAnalysisSetting": None}
    handler = Recorder(as_json(200, project), plain(200))
    make_client(handler).set_description(42, "d")
    sent = body_of(handler.last)
    assert sent["gitPackConfig"] == {}
    assert sent["codeAnalysisSetting"] == {}


def test_set_description_of_missing_project(make_client: MakeClient):
    with pytest.raises(OneDevNotFound):
        make_client(Recorder(plain(404, "Unable to find"))).set_description(42, "d")


def test_update_project_sends_the_data_as_is(make_client: MakeClient):
    handler = Recorder(plain(200))
    make_client(handler).update_project(42, PROJECT)
    assert body_of(handler.last) == PROJECT


def test_delete_project(make_client: MakeClient):
    handler = Recorder(plain(200))
    make_client(handler).delete_project(42)
    assert handler.last.method == "DELETE"
    assert str(handler.last.url) == f"{URL}/~api/projects/42"


# ------------------------------------------------------------ repositories


@pytest.mark.parametrize("answer", ["master", '"master"', "master\n"])
def test_get_default_branch_raw_or_quoted(make_client: MakeClient, answer: str):
    handler = Recorder(plain(200, answer))
    assert make_client(handler).get_default_branch(42) == "master"
    assert str(handler.last.url) == f"{URL}/~api/repositories/42/default-branch"


def test_get_default_branch_of_empty_repository(make_client: MakeClient):
    assert make_client(Recorder(httpx.Response(204))).get_default_branch(42) is None


def test_set_default_branch_sends_a_json_string(make_client: MakeClient):
    handler = Recorder(plain(200))
    make_client(handler).set_default_branch(42, "master")
    request = handler.last
    assert request.method == "POST"
    assert str(request.url) == f"{URL}/~api/repositories/42/default-branch"
    assert request.content == b'"master"'
    assert request.headers["content-type"] == "application/json"


def test_set_default_branch_to_missing_branch(make_client: MakeClient):
    with pytest.raises(OneDevError) as caught:
        make_client(Recorder(plain(500, "Branch not exist: nope"))).set_default_branch(42, "nope")
    assert caught.value.status == 500
    assert caught.value.detail == "Branch not exist: nope"
    assert not isinstance(caught.value, OneDevUnavailable)


def test_branches_and_tags(make_client: MakeClient):
    handler = Recorder(as_json(200, ["main", "dev"]), as_json(200, ["v1.0", "v1.1"]))
    client = make_client(handler)
    assert client.branches(42) == ["main", "dev"]
    assert client.tags(42) == ["v1.0", "v1.1"]
    assert [str(r.url) for r in handler.requests] == [
        f"{URL}/~api/repositories/42/branches",
        f"{URL}/~api/repositories/42/tags",
    ]


def test_403_reading_code_names_read_code(make_client: MakeClient):
    with pytest.raises(OneDevAuthError, match="'Read Code'"):
        make_client(Recorder(plain(403, "Unauthorized"))).branches(42)


# -------------------------------------------------------------- auth errors


def test_401_bad_token(make_client: MakeClient):
    answer = plain(401, "Invalid account or incorrect credentials")
    with pytest.raises(OneDevAuthError) as caught:
        make_client(Recorder(answer)).server_version()
    message = str(caught.value)
    assert "EPICSTAR_ONEDEV_TOKEN" in message
    assert "invalid or expired" in message
    assert caught.value.status == 401


def test_401_no_credentials_reached_onedev(make_client: MakeClient):
    answer = plain(401, "Not authenticated", **{"www-authenticate": 'Basic realm="OneDev"'})
    with pytest.raises(OneDevAuthError, match="no credentials"):
        make_client(Recorder(answer)).find_project_id("github")


# -------------------------------------------------------- not the REST API


@pytest.mark.parametrize("status", [200, 404])
def test_html_answer_means_wrong_url_or_old_onedev(make_client: MakeClient, status: int):
    with pytest.raises(OneDevNotAnApi) as caught:
        make_client(Recorder(html(status))).find_project_id("github")
    message = str(caught.value)
    assert "HTML page" in message
    assert "EPICSTAR_ONEDEV_URL" in message
    assert "7.8" in message


def test_html_without_content_type_is_detected():
    response = httpx.Response(200, content=b"  <!doctype html><html></html>")
    assert answered_html(response)
    assert not answered_html(plain(200, "16.5.6"))
    assert not answered_html(as_json(200, {"a": 1}))


def test_redirect_to_login_means_not_the_api(make_client: MakeClient):
    answer = httpx.Response(302, headers={"location": f"{URL}/~login?secret=x"})
    with pytest.raises(OneDevNotAnApi, match="redirect") as caught:
        make_client(Recorder(answer)).server_version()
    assert "secret" not in str(caught.value)


# ------------------------------------------------------------ availability


def test_get_is_retried_on_503_then_succeeds(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(503, "Server is not ready"), plain(502), as_json(200, 42))
    assert make_client(handler).find_project_id("github") == 42
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 0.625
    assert 1.0 <= sleeps.calls[1] <= 1.25


def test_persistent_503_is_unavailable(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(*[plain(503, "Server is not ready") for _ in range(3)])
    with pytest.raises(OneDevUnavailable) as caught:
        make_client(handler, retry=RetryPolicy(tries=3)).server_version()
    assert caught.value.status == 503
    assert len(handler.requests) == 3
    assert len(sleeps.calls) == 2


def test_failed_create_is_looked_up_before_it_is_sent_again(make_client: MakeClient):
    handler = Recorder(plain(503, "Server is not ready"), plain(404, "not found"), as_json(200, 9))
    assert make_client(handler).create_project("x", None) == 9
    assert [(r.method, r.url.path) for r in handler.requests] == [
        ("POST", "/~api/projects"),
        ("GET", "/~api/projects/ids/x"),
        ("POST", "/~api/projects"),
    ]


def test_create_answered_500_but_done_is_found_not_repeated(make_client: MakeClient):
    created = {**PROJECT, "id": 9, "name": "x", "path": "github/x", "description": "mine"}
    handler = Recorder(
        plain(500, "Internal Server Error"),
        as_json(200, {**PROJECT, "id": 7, "name": "github", "path": "github"}),
        as_json(200, 9),
        as_json(200, created),
    )
    assert make_client(handler).create_project("x", 7, description="mine") == 9
    assert [r.method for r in handler.requests].count("POST") == 1
    assert handler.requests[2].url.path == "/~api/projects/ids/github/x"


def test_someone_elses_project_found_after_a_failed_create_is_a_clash(make_client: MakeClient):
    other = {**PROJECT, "id": 9, "name": "x", "path": "x", "description": "theirs"}
    handler = Recorder(httpx.ReadTimeout("timed out"), as_json(200, 9), as_json(200, other))
    with pytest.raises(ProjectNameTaken):
        make_client(handler).create_project("x", None, description="mine")


def test_500_is_retried_for_reads(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(500, "Internal Server Error"), as_json(200, PROJECT))
    assert make_client(handler).get_project(42) == PROJECT
    assert len(sleeps.calls) == 1


def test_name_clash_on_update_is_not_retried(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(500, "Name 'x' is already used by another root project"))
    with pytest.raises(ProjectNameTaken):
        make_client(handler).update_project(42, PROJECT)
    assert sleeps.calls == []


def test_retry_after_is_honoured(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(503, "Server is not ready", **{"retry-after": "3"}), plain(200))
    make_client(handler).set_default_branch(42, "main")
    assert sleeps.calls == [3.0]


def test_retry_after_beyond_the_budget_is_not_waited(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(plain(503, "Server is not ready", **{"retry-after": "600"}))
    with pytest.raises(OneDevUnavailable):
        make_client(handler).server_version()
    assert sleeps.calls == []


def test_proxy_error_page_is_unavailable_not_html_confusion(make_client: MakeClient):
    handler = Recorder(*[html(502) for _ in range(4)])
    with pytest.raises(OneDevUnavailable):
        make_client(handler).server_version()


def test_network_errors_are_retried_for_gets(make_client: MakeClient, sleeps: FakeSleep):
    handler = Recorder(httpx.ConnectError("refused"), as_json(200, ["main"]))
    assert make_client(handler).branches(1) == ["main"]
    assert len(sleeps.calls) == 1


def test_network_errors_are_not_retried_for_deletes(make_client: MakeClient):
    handler = Recorder(httpx.ReadTimeout("timed out"))
    with pytest.raises(OneDevUnavailable, match="ReadTimeout"):
        make_client(handler).delete_project(1)
    assert len(handler.requests) == 1


def test_unexpected_body_is_a_clear_error(make_client: MakeClient):
    with pytest.raises(OneDevError, match="project id"):
        make_client(Recorder(as_json(200, {"id": 1}))).create_project("x", None)


# ------------------------------------------------------------------- secrets


SECRET_ANSWERS: dict[str, Answer] = {
    "401": plain(401, f"Invalid token {TOKEN}"),
    "403": plain(403, f"Not authorized {TOKEN}"),
    "404": plain(404, f"Project not found or inaccessible: {TOKEN}"),
    "500": plain(500, f"Name '{TOKEN}' is already used by another root project"),
    "503": plain(503, TOKEN),
    "network": httpx.ConnectError(f"could not connect {TOKEN}"),
}


@pytest.mark.parametrize("kind", sorted(SECRET_ANSWERS))
def test_messages_never_contain_the_token(make_client: MakeClient, kind: str):
    handler = Recorder(SECRET_ANSWERS[kind])
    with pytest.raises(OneDevError) as caught:
        make_client(handler, retry=RetryPolicy(tries=1)).create_project("x", None)
    error = caught.value
    for text in (str(error), repr(error), error.detail):
        assert TOKEN not in text
    assert "\n" not in str(error)


def test_repr_hides_the_token(make_client: MakeClient):
    client = make_client(Recorder())
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(vars(client))
