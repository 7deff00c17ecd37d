"""The GitHub stand-in serves Git LFS as github.com does: a strict batch API beside the git URL
and downloads from a media path that takes only the batch answer's RemoteAuth token."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from epicstar.sandbox import Sandbox
from epicstar.sandbox.github_lfs import OVER_QUOTA
from epicstar.sandbox.lfs import lfs_pointer
from tests.sandbox.conftest import GH_TOKEN, basic, git, git_env, with_credentials

LFS_JSON = "application/vnd.git-lfs+json"
LFS_HEADERS = {"Accept": LFS_JSON, "Content-Type": LFS_JSON}
LOGO = b"\x89PNG fake logo bytes\n" * 50
MODEL = os.urandom(256 * 1024)


def batch_url(sb: Sandbox, full_name: str) -> str:
    return f"{sb.github_url}/{full_name}.git/info/lfs/objects/batch"


def obj(content: bytes) -> dict[str, Any]:
    oid, size, _ = lfs_pointer(content)
    return {"oid": oid, "size": size}


def post_batch(
    sb: Sandbox,
    full_name: str,
    objects: list[dict[str, Any]],
    *,
    operation: str = "download",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"operation": operation, "transfers": ["basic"], "objects": objects, **extra}
    return httpx.post(
        batch_url(sb, full_name),
        content=json.dumps(body),
        headers={**LFS_HEADERS, **(headers or {})},
    )


def lfs(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real git-lfs client (``git lfs …``), with no credential helper or prompt."""
    return git("lfs", *args, cwd=cwd, check=check)


# ---------------------------------------------------------------------------- test-side API


def test_pointer_is_the_lfs_spec_text() -> None:
    oid, size, pointer = lfs_pointer(b"hello\n")
    assert oid == hashlib.sha256(b"hello\n").hexdigest()
    assert size == 6
    assert pointer == (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 6\n".encode()
    )


def test_commit_lfs_writes_pointers_attributes_and_objects(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit("octo/assets", "main", {".gitattributes": "*.txt text eol=lf\n"}, "attrs")
    pushed_before = gh.repo("octo/assets").pushed_at
    sha = gh.commit_lfs("octo/assets", "main", {"img/logo.png": LOGO, "my model.bin": MODEL})
    assert gh.refs("octo/assets")["refs/heads/main"] == sha
    assert gh.repo("octo/assets").pushed_at > pushed_before
    repo = gh.repo("octo/assets").path
    shown = git("--git-dir", str(repo), "show", f"{sha}:img/logo.png").stdout
    assert shown.encode() == lfs_pointer(LOGO)[2]
    attributes = git("--git-dir", str(repo), "show", f"{sha}:.gitattributes").stdout
    assert attributes.splitlines() == [
        "*.txt text eol=lf",
        "img/logo.png filter=lfs diff=lfs merge=lfs -text",
        "my[[:space:]]model.bin filter=lfs diff=lfs merge=lfs -text",
    ]
    work = tmp_path / "work"
    git("clone", f"{sandbox.github_url}/octo/assets.git", str(work))
    checked = git(
        "check-attr", "filter", "--", "img/logo.png", "my model.bin", "README.md", cwd=work
    )
    assert checked.stdout.splitlines() == [
        "img/logo.png: filter: lfs",
        "my model.bin: filter: lfs",
        "README.md: filter: unspecified",
    ]
    assert gh.lfs_objects("octo/assets") == {
        lfs_pointer(LOGO)[0]: LOGO,
        lfs_pointer(MODEL)[0]: MODEL,
    }
    # Committing the same path again adds no second attributes line.
    again = gh.commit_lfs("octo/assets", "main", {"img/logo.png": LOGO + b"v2"})
    attributes = git("--git-dir", str(repo), "show", f"{again}:.gitattributes").stdout
    assert attributes.count("img/logo.png") == 1
    oid = lfs_pointer(LOGO)[0]
    assert list(repo.joinpath("lfs", "objects", oid[:2], oid[2:4]).iterdir()) == [
        repo / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    ]


# ---------------------------------------------------------------------------- batch API


def test_download_batch_answers_present_and_missing_objects(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO})
    gh.commit_lfs("octo/assets", "main", {"lost.bin": b"never uploaded"}, store=False)
    wrong_size = {**obj(LOGO), "size": len(LOGO) + 1}
    response = post_batch(sandbox, "octo/assets", [obj(LOGO), obj(b"never uploaded"), wrong_size])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(LFS_JSON)
    body = response.json()
    assert body["transfer"] == "basic"
    assert body["hash_algo"] == "sha256"
    present, missing, mismatched = body["objects"]
    assert present["oid"] == obj(LOGO)["oid"]
    assert present["size"] == len(LOGO)
    assert present["authenticated"] is True
    download = present["actions"]["download"]
    assert download["expires_in"] == 3600
    assert download["header"]["Authorization"].startswith("RemoteAuth ")
    assert download["href"] == f"{sandbox.github_url}/_lfs-media/{obj(LOGO)['oid']}"
    assert not download["href"].startswith(batch_url(sandbox, "octo/assets").rsplit("/info", 1)[0])
    for answer in (missing, mismatched):
        assert answer["error"] == {"code": 404, "message": "Object does not exist"}
        assert "actions" not in answer
    fetched = httpx.get(download["href"], headers=download["header"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/octet-stream"
    assert fetched.content == LOGO


def test_media_host_takes_only_the_batch_token(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets", private=True)
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO, "model.bin": MODEL})
    auth = {"Authorization": basic("x-access-token", GH_TOKEN)}
    answer = post_batch(sandbox, "octo/assets", [obj(LOGO)], headers=auth).json()
    download = answer["objects"][0]["actions"]["download"]
    href = download["href"]
    assert httpx.get(href).status_code == 401
    assert httpx.get(href, headers=auth).status_code == 401
    assert httpx.get(href, headers={"Authorization": f"token {GH_TOKEN}"}).status_code == 401
    assert httpx.get(href, headers={"Authorization": "RemoteAuth guessed"}).status_code == 401
    # The token is good for the objects of its own answer only.
    other = href.replace(obj(LOGO)["oid"], obj(MODEL)["oid"])
    assert httpx.get(other, headers=download["header"]).status_code == 401
    assert httpx.get(href, headers=download["header"]).content == LOGO
    # A range (git-lfs resumes interrupted downloads with one).
    part = httpx.get(href, headers={**download["header"], "Range": "bytes=5-9"})
    assert part.status_code == 206
    assert part.content == LOGO[5:10]
    gh.expire_lfs_tokens()
    assert httpx.get(href, headers=download["header"]).status_code == 401


def test_a_removed_object_is_404_in_the_batch_and_on_the_media_host(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO})
    download = post_batch(sandbox, "octo/assets", [obj(LOGO)]).json()["objects"][0]["actions"]
    gh.remove_lfs_object("octo/assets", obj(LOGO)["oid"])
    assert gh.lfs_objects("octo/assets") == {}
    again = post_batch(sandbox, "octo/assets", [obj(LOGO)]).json()["objects"][0]
    assert again["error"]["code"] == 404
    stale = httpx.get(download["download"]["href"], headers=download["download"]["header"])
    assert stale.status_code == 404
    with pytest.raises(KeyError):
        gh.remove_lfs_object("octo/assets", obj(LOGO)["oid"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b"[]", 422),
        ({"operation": "delete", "objects": []}, 422),
        ({"objects": []}, 422),
        ({"operation": "download"}, 422),
        ({"operation": "download", "objects": {}}, 422),
        ({"operation": "download", "objects": ["abc"]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 32}]}, 422),
        ({"operation": "download", "objects": [{"oid": "AB" * 32, "size": 1}]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 20, "size": 1}]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 32, "size": -1}]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 32, "size": "1"}]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 32, "size": 1.5}]}, 422),
        ({"operation": "download", "objects": [{"oid": "ab" * 32, "size": True}]}, 422),
        ({"operation": "download", "transfers": ["tus"], "objects": []}, 422),
        ({"operation": "download", "transfers": "basic", "objects": []}, 422),
        ({"operation": "download", "ref": "main", "objects": []}, 422),
        ({"operation": "download", "hash_algo": 256, "objects": []}, 422),
        ({"operation": "download", "hash_algo": "sha512", "objects": []}, 409),
    ],
)
def test_malformed_batches_are_refused(sandbox: Sandbox, body: object, status: int) -> None:
    sandbox.github.create_repo("octo", "assets")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(batch_url(sandbox, "octo/assets"), content=content, headers=LFS_HEADERS)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(LFS_JSON)
    assert response.json()["message"]
    assert "objects" not in response.json()


def test_batch_options_that_are_fine(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "assets")
    response = post_batch(
        sandbox,
        "octo/assets",
        [],
        ref={"name": "refs/heads/main"},
        hash_algo="sha256",
        transfers=["lfs-standalone-file", "basic", "ssh"],
    )
    assert response.status_code == 200
    assert response.json()["objects"] == []
    bare = httpx.post(
        batch_url(sandbox, "octo/assets").replace(".git/info", "/info"),
        content=json.dumps({"operation": "download", "objects": [], "ref": None}),
        headers={"Accept": f"{LFS_JSON}; charset=utf-8", "Content-Type": LFS_JSON},
    )
    assert bare.status_code == 200


def test_wrong_media_types_are_refused(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "assets")
    url = batch_url(sandbox, "octo/assets")
    body = json.dumps({"operation": "download", "objects": []})
    for accept in (None, "application/json", "*/*"):
        headers = {"Content-Type": LFS_JSON} | ({"Accept": accept} if accept else {})
        assert httpx.post(url, content=body, headers=headers).status_code == 406
    wrong_type = {"Accept": LFS_JSON, "Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=wrong_type).status_code == 422
    assert httpx.get(url, headers=LFS_HEADERS).status_code == 404


def test_private_repository_needs_credentials(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "secret", private=True)
    gh.commit_lfs("octo/secret", "main", {"logo.png": LOGO})
    anonymous = post_batch(sandbox, "octo/secret", [obj(LOGO)])
    assert anonymous.status_code == 401
    assert anonymous.headers["lfs-authenticate"] == 'Basic realm="GitHub"'
    bad = post_batch(
        sandbox, "octo/secret", [obj(LOGO)], headers={"Authorization": basic("x", "nope")}
    )
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    for header in (basic("x-access-token", GH_TOKEN), basic(GH_TOKEN, ""), f"Bearer {GH_TOKEN}"):
        ok = post_batch(sandbox, "octo/secret", [obj(LOGO)], headers={"Authorization": header})
        assert ok.status_code == 200
        assert "actions" in ok.json()["objects"][0]
    # Unknown repositories: credentials first (so nothing leaks), then 404.
    unknown = post_batch(sandbox, "octo/nothing", [obj(LOGO)])
    assert unknown.status_code == 401
    authed = {"Authorization": basic("x-access-token", GH_TOKEN)}
    missing = post_batch(sandbox, "octo/nothing", [obj(LOGO)], headers=authed)
    assert missing.status_code == 404
    assert missing.json()["message"] == "Repository not found"


def test_upload_is_refused(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "assets")
    anonymous = post_batch(sandbox, "octo/assets", [obj(LOGO)], operation="upload")
    assert anonymous.status_code == 401
    assert anonymous.headers["lfs-authenticate"] == 'Basic realm="GitHub"'
    authed = {"Authorization": basic("x-access-token", GH_TOKEN)}
    refused = post_batch(sandbox, "octo/assets", [obj(LOGO)], operation="upload", headers=authed)
    assert refused.status_code == 403
    assert refused.json()["message"] == "Permission to octo/assets.git denied to user1."


def test_over_quota_download_is_403(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO})
    gh.set_lfs_over_quota("octo/assets")
    response = post_batch(sandbox, "octo/assets", [obj(LOGO)])
    assert response.status_code == 403
    assert response.json() == {
        "message": OVER_QUOTA,
        "documentation_url": "https://docs.github.com/lfs",
    }
    assert OVER_QUOTA.startswith("This repository is over its data quota.")
    gh.set_lfs_over_quota("octo/assets", over=False)
    assert post_batch(sandbox, "octo/assets", [obj(LOGO)]).status_code == 200


def test_renamed_repository_keeps_serving_lfs_at_the_old_name(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "old-name")
    gh.commit_lfs("octo/old-name", "main", {"logo.png": LOGO})
    gh.rename("octo/old-name", "neworg/new-name")
    for name in ("octo/old-name", "neworg/new-name"):
        answer = post_batch(sandbox, name, [obj(LOGO)]).json()["objects"][0]
        download = answer["actions"]["download"]
        assert httpx.get(download["href"], headers=download["header"]).content == LOGO


def test_lfs_requests_are_logged_and_counted(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO})
    httpx.get(f"{sandbox.github_api_url}/repos/octo/assets")
    assert sum(gh.count(lfs=kind) for kind in ("batch", "download")) == 0
    download = post_batch(sandbox, "octo/assets", [obj(LOGO)]).json()["objects"][0]["actions"]
    httpx.get(download["download"]["href"], headers=download["download"]["header"])
    assert gh.count(lfs="batch") == 1
    assert gh.count(lfs="download") == 1
    batch, media = [entry for entry in gh.requests() if entry.lfs is not None]
    assert (batch.method, batch.path, batch.status) == (
        "POST",
        "/octo/assets.git/info/lfs/objects/batch",
        200,
    )
    assert (media.method, media.status, media.auth_scheme) == ("GET", 200, "remoteauth")
    assert not batch.is_git
    assert gh.count(path_prefix="/_lfs-media/") == 1


# ---------------------------------------------------------------------------- real git-lfs


@pytest.mark.usefixtures("git_lfs")
def test_real_git_lfs_fetch_all_gets_identical_objects(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets", private=True)
    first = gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO})
    gh.commit_lfs("octo/assets", "main", {"logo.png": LOGO + b"v2"})  # history: both versions
    gh.commit_lfs("octo/assets", "feature", {"model.bin": MODEL}, parent=first)
    expected = gh.lfs_objects("octo/assets")
    assert len(expected) == 3
    bare = tmp_path / "mirror.git"
    url = with_credentials(f"{sandbox.github_url}/octo/assets.git", GH_TOKEN)
    git("clone", "--bare", url, str(bare))
    gh.clear_log()
    fetched = lfs("fetch", "--all", "origin", cwd=bare)
    assert "error" not in fetched.stderr.lower(), fetched.stderr
    got = {path.name: path.read_bytes() for path in (bare / "lfs" / "objects").glob("??/??/*")}
    assert got == expected
    assert gh.count(lfs="batch") >= 1
    assert gh.count(lfs="download") == 3
    # Nothing new to fetch: no download at all.
    gh.clear_log()
    lfs("fetch", "--all", "origin", cwd=bare)
    assert gh.count(lfs="download") == 0


@pytest.mark.usefixtures("git_lfs")
def test_real_git_lfs_reports_missing_objects_and_quota(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "assets")
    gh.commit_lfs("octo/assets", "main", {"lost.bin": b"gone"}, store=False)
    bare = tmp_path / "mirror.git"
    git("clone", "--bare", f"{sandbox.github_url}/octo/assets.git", str(bare))
    missing = lfs("fetch", "--all", "origin", cwd=bare, check=False)
    assert missing.returncode != 0
    assert "Object does not exist" in missing.stderr or "not found" in missing.stderr.lower()
    gh.set_lfs_over_quota("octo/assets")
    over = lfs("fetch", "--all", "origin", cwd=bare, check=False)
    assert over.returncode != 0
    assert "over its data quota" in over.stderr


@pytest.mark.usefixtures("git_lfs")
def test_real_git_lfs_with_a_bad_token_fails_quickly(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "secret", private=True)
    gh.commit_lfs("octo/secret", "main", {"logo.png": LOGO})
    bare = tmp_path / "mirror.git"
    git(
        "clone",
        "--bare",
        with_credentials(f"{sandbox.github_url}/octo/secret.git", GH_TOKEN),
        str(bare),
    )
    bad = with_credentials(f"{sandbox.github_url}/octo/secret.git", "ghp_wrong")
    git("remote", "set-url", "origin", bad, cwd=bare)
    proc = subprocess.run(
        ["git", "-c", "credential.helper=", "lfs", "fetch", "--all", "origin"],
        cwd=bare,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert gh.count(lfs="batch") <= 5
    assert gh.count(lfs="download") == 0
