"""The GitHub stand-in speaks GitHub's REST and git protocols, strictly."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from epicstar.sandbox import Sandbox
from tests.sandbox.conftest import GH_TOKEN, git, with_credentials

AUTH = {"Authorization": f"token {GH_TOKEN}"}


def api(sb: Sandbox, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{sb.github_api_url}{path}", **kwargs)  # type: ignore[arg-type]


def test_repository_json_has_githubs_fields(sandbox: Sandbox) -> None:
    repo = sandbox.github.create_repo("Octo", "Hello", description="greetings", id=4242)
    response = api(sandbox, "/repos/octo/hello")  # names are case-insensitive
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 4242 == repo.id
    assert body["full_name"] == "Octo/Hello"
    assert body["owner"]["login"] == "Octo"
    assert body["owner"]["type"] == "User"
    for key in ("id", "node_id", "html_url"):
        assert key in body["owner"]
    assert body["clone_url"] == f"{sandbox.github_url}/Octo/Hello.git"
    assert body["default_branch"] == "main"
    assert body["visibility"] == "public"
    assert body["private"] is False
    assert body["size"] > 0  # KiB from the real repository on disk
    for key in ("archived", "disabled", "fork", "pushed_at", "created_at", "updated_at", "topics"):
        assert key in body
    assert body["pushed_at"].endswith("Z")
    by_id = api(sandbox, "/repositories/4242")
    assert by_id.status_code == 200
    assert by_id.json()["full_name"] == "Octo/Hello"


def test_clone_shows_pull_refs_and_upload_only(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.github.create_repo("octo", "hello")
    url = f"{sandbox.github_url}/octo/hello.git"
    remote = git("ls-remote", url).stdout
    assert "refs/heads/main" in remote
    assert "refs/pull/1/head" in remote
    assert "refs/pull/1/merge" in remote
    # Protocol v0 (no Git-Protocol header) works as well as v2, with and without ".git".
    v0 = git("-c", "protocol.version=0", "ls-remote", f"{sandbox.github_url}/octo/hello").stdout
    assert "refs/pull/2/head" in v0
    git("clone", "--mirror", url, str(tmp_path / "m.git"))
    assert "refs/pull/1/head" in git("for-each-ref", cwd=tmp_path / "m.git").stdout
    push = git("push", url, "main:other", cwd=tmp_path / "m.git", check=False)
    assert push.returncode != 0
    assert sandbox.github.count(git_service="git-receive-pack") >= 1
    assert sandbox.github.count(git_service="git-upload-pack") >= 3


def test_private_repository_needs_a_token(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.github.create_repo("octo", "secret", private=True)
    assert api(sandbox, "/repos/octo/secret").status_code == 404
    authed = api(sandbox, "/repos/octo/secret", headers={"Authorization": f"Bearer {GH_TOKEN}"})
    assert authed.status_code == 200
    assert authed.json()["visibility"] == "private"
    url = f"{sandbox.github_url}/octo/secret.git"
    info = httpx.get(f"{url}/info/refs", params={"service": "git-upload-pack"})
    assert info.status_code == 401
    assert info.headers["www-authenticate"] == 'Basic realm="GitHub"'
    denied = git("ls-remote", url, check=False)
    assert denied.returncode != 0
    assert "refs/heads/main" in git("ls-remote", with_credentials(url, GH_TOKEN)).stdout
    bad = git("ls-remote", with_credentials(url, "ghp_wrong"), check=False)
    assert bad.returncode != 0
    # The log keeps the scheme, never the token.
    schemes = {e.auth_scheme for e in sandbox.github.requests()}
    assert {"basic", "bearer"} <= schemes
    assert all(GH_TOKEN not in repr(e) for e in sandbox.github.requests())


def test_bad_credentials_are_401(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "hello")
    response = api(sandbox, "/repos/octo/hello", headers={"Authorization": "token nope"})
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_rename_answers_301_and_git_keeps_working(sandbox: Sandbox) -> None:
    repo = sandbox.github.create_repo("octo", "old-name")
    sandbox.github.rename("octo/old-name", "neworg/new-name")
    moved = api(sandbox, "/repos/octo/old-name", follow_redirects=False)
    assert moved.status_code == 301
    location = f"{sandbox.github_api_url}/repositories/{repo.id}"
    assert moved.headers["location"] == location
    assert moved.json()["message"] == "Moved Permanently"
    assert moved.json()["url"] == location
    followed = api(sandbox, "/repos/octo/old-name", follow_redirects=True)
    assert followed.json()["full_name"] == "neworg/new-name"
    remote = git("ls-remote", f"{sandbox.github_url}/octo/old-name.git").stdout
    assert "refs/heads/main" in remote


def test_deleted_and_unknown_are_404(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "gone")
    sandbox.github.delete("octo/gone")
    response = api(sandbox, "/repos/octo/gone")
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert "documentation_url" in response.json()
    assert api(sandbox, "/repos/octo/never").status_code == 404
    sandbox.github.restore("octo/gone")
    assert api(sandbox, "/repos/octo/gone").status_code == 200


def test_blocked_is_451_and_git_fails(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "taken-down")
    sandbox.github.block("octo/taken-down", reason="dmca")
    response = api(sandbox, "/repos/octo/taken-down")
    assert response.status_code == 451
    body = response.json()
    assert body["message"] == "Repository access blocked"
    assert body["block"]["reason"] == "dmca"
    assert body["block"]["html_url"].startswith("https://github.com/github/dmca/blob/")
    assert "created_at" in body["block"]
    clone = git("ls-remote", f"{sandbox.github_url}/octo/taken-down.git", check=False)
    assert clone.returncode != 0
    assert "Repository unavailable due to DMCA takedown." in clone.stderr
    sandbox.github.unblock("octo/taken-down")
    assert api(sandbox, "/repos/octo/taken-down").status_code == 200


def test_etag_304_is_free_and_changes_with_content(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "hello")
    first = api(sandbox, "/repos/octo/hello", headers=AUTH)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = api(sandbox, "/repos/octo/hello", headers={**AUTH, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    weak = api(sandbox, "/repos/octo/hello", headers={**AUTH, "If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    sandbox.github.commit("octo/hello", "main", {"a.txt": "a"})
    changed = api(sandbox, "/repos/octo/hello", headers={**AUTH, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 1


def test_rate_limit_headers_and_exhaustion(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "hello")
    response = api(sandbox, "/repos/octo/hello", headers=AUTH)
    assert response.headers["x-ratelimit-limit"] == "5000"
    assert response.headers["x-ratelimit-remaining"] == "4999"
    assert response.headers["x-ratelimit-used"] == "1"
    assert response.headers["x-ratelimit-resource"] == "core"
    assert int(response.headers["x-ratelimit-reset"]) > time.time()
    anonymous = api(sandbox, "/repos/octo/hello")
    assert anonymous.headers["x-ratelimit-limit"] == "60"
    reset = int(time.time()) + 600
    sandbox.github.set_rate_limit(GH_TOKEN, 10, remaining=1, reset=reset)
    last = api(sandbox, "/repos/octo/hello", headers=AUTH)
    assert last.status_code == 200
    assert last.headers["x-ratelimit-remaining"] == "0"
    limited = api(sandbox, "/repos/octo/hello", headers=AUTH)
    assert limited.status_code == 403
    assert limited.json()["message"].startswith("API rate limit exceeded for user")
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-reset"] == str(reset)
    sandbox.github.set_rate_limit(GH_TOKEN, 10, remaining=0, reset=time.time() - 1)
    assert api(sandbox, "/repos/octo/hello", headers=AUTH).status_code == 200  # reset passed


def test_injected_secondary_limit_with_retry_after(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "hello")
    sandbox.github.inject(
        "GET",
        r"^/repos/octo/hello$",
        403,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit. Please wait."},
    )
    sandbox.github.inject("POST", r"/git-upload-pack$", 502, body="<html>Bad gateway</html>")
    first = api(sandbox, "/repos/octo/hello")
    assert first.status_code == 403
    assert first.headers["retry-after"] == "1"
    assert "secondary rate limit" in first.json()["message"]
    assert api(sandbox, "/repos/octo/hello").status_code == 200  # times=1
    url = f"{sandbox.github_url}/octo/hello.git"
    broken = git("-c", "protocol.version=2", "ls-remote", url, check=False)
    assert broken.returncode != 0  # protocol v2's ls-refs POST got the 502
    assert "refs/heads/main" in git("ls-remote", url).stdout
    assert [e.status for e in sandbox.github.requests() if e.injected] == [403, 502]


def test_content_helpers(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "content", default_branch="trunk")
    first = gh.commit("octo/content", "trunk", {"dir/a.txt": "a", "b.bin": b"\x00\x01"})
    feature = gh.commit("octo/content", "feature", {"c.txt": "c"}, message="feature")
    refs = gh.refs("octo/content")
    assert refs["refs/heads/trunk"] == first
    assert refs["refs/heads/feature"] == feature
    tag_sha = gh.tag("octo/content", "v1", "trunk", message="v1")
    assert gh.refs("octo/content")["refs/tags/v1"] == tag_sha != first
    assert gh.tag("octo/content", "light", first, annotated=False) == first
    gh.reset_branch("octo/content", "trunk", feature)
    assert gh.refs("octo/content")["refs/heads/trunk"] == feature
    gh.delete_branch("octo/content", "feature")
    gh.delete_tag("octo/content", "light")
    pulls = gh.add_pull_request("octo/content", 7, first)
    refs = gh.refs("octo/content")
    assert "refs/heads/feature" not in refs
    assert "refs/tags/light" not in refs
    assert refs["refs/pull/7/head"] == first == pulls["refs/pull/7/head"]
    assert "refs/pull/7/merge" in refs
    gh.set_default_branch("octo/content", "trunk")
    gh.set_description("octo/content", "new words")
    gh.set_archived("octo/content")
    body = api(sandbox, "/repos/octo/content").json()
    assert (body["description"], body["archived"]) == ("new words", True)
    empty = gh.create_repo("octo", "empty", empty=True)
    assert gh.refs(empty.full_name) == {}
    with pytest.raises(ValueError, match="already exists"):
        gh.create_repo("OCTO", "EMPTY")


def test_a_default_branch_changes_as_on_github(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "moving", default_branch="master")
    url = f"{sandbox.github_url}/octo/moving.git"
    tip = gh.refs("octo/moving")["refs/heads/master"]
    with pytest.raises(ValueError, match="default branch"):
        gh.delete_branch("octo/moving", "master")

    gh.rename_branch("octo/moving", "master", "main")

    assert api(sandbox, "/repos/octo/moving").json()["default_branch"] == "main"
    advertised = git("ls-remote", "--symref", url, "HEAD", "refs/heads/*").stdout.splitlines()
    assert advertised == ["ref: refs/heads/main\tHEAD", f"{tip}\tHEAD", f"{tip}\trefs/heads/main"]
    gh.commit("octo/moving", "next", {"n.txt": "n\n"}, "next")
    gh.set_default_branch("octo/moving", "next")
    gh.delete_branch("octo/moving", "main")
    assert api(sandbox, "/repos/octo/moving").json()["default_branch"] == "next"
    assert git("ls-remote", "--symref", url, "HEAD").stdout.startswith("ref: refs/heads/next\t")


def test_generate_history_for_benchmarks(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "big")
    tip = gh.generate_history("octo/big", commits=50, files_per_commit=20, file_size=200)
    assert gh.refs("octo/big")["refs/heads/main"] == tip
    count = git("--git-dir", str(gh.repo("octo/big").path), "rev-list", "--count", "main")
    assert count.stdout.strip() == "51"


def test_rate_limit_endpoint_is_free_and_checks_the_token(tmp_path: Path) -> None:
    with Sandbox(tmp_path, github_tokens=["tok"]) as sb, httpx.Client() as client:
        url = f"{sb.github_api_url}/rate_limit"
        first = client.get(url, headers={"Authorization": "Bearer tok"})
        second = client.get(url, headers={"Authorization": "Bearer tok"})
        assert first.status_code == second.status_code == 200
        assert first.json()["resources"]["core"]["remaining"] == 5000
        assert second.headers["x-ratelimit-remaining"] == "5000"
        assert client.get(url, headers={"Authorization": "Bearer bad"}).status_code == 401
