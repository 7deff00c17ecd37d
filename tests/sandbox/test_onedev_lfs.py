"""Git LFS against the OneDev stand-in: OneDev's batch API, object transfer and locks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from epicstar.sandbox import Sandbox, gitrepo
from epicstar.sandbox.gitrepo import CommitSpec
from tests.sandbox.conftest import OD_ADMIN, OD_NO_CREATE, OD_READ_ONLY, basic, git_env

LFS = "application/vnd.git-lfs+json"
PROJECT = "github/octo/big"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def lfs_post(
    sb: Sandbox, path: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(
        f"{sb.onedev_url}/{path}",
        content=raw,
        headers={"Accept": LFS, "Content-Type": LFS, **(headers or {})},
    )


def batch(
    sb: Sandbox,
    operation: str,
    objects: list[tuple[str, int]],
    headers: dict[str, str] | None = None,
    project: str = PROJECT,
    **fields: Any,
) -> httpx.Response:
    body = {
        "operation": operation,
        "transfers": ["basic"],
        "objects": [{"oid": oid, "size": size} for oid, size in objects],
        **fields,
    }
    auth = bearer(OD_ADMIN) if headers is None else headers
    return lfs_post(sb, f"{project}.git/info/lfs/objects/batch", body, auth)


def lfs_object(content: bytes) -> tuple[str, int]:
    return hashlib.sha256(content).hexdigest(), len(content)


def object_url(sb: Sandbox, oid: str, project: str = PROJECT) -> str:
    return f"{sb.onedev_url}/{project}.git/lfs/objects/{oid}?lfs-objects=true"


@pytest.fixture
def project(sandbox: Sandbox) -> str:
    sandbox.onedev.add_project(PROJECT)
    return PROJECT


def test_upload_actions_only_for_objects_not_stored(sandbox: Sandbox, project: str) -> None:
    stored = lfs_object(b"stored before\n")
    sandbox.onedev.add_lfs_object(project, b"stored before\n")
    content = b"new content\n"
    new = lfs_object(content)
    # A token in the password of a Basic login: the action carries that token as a Bearer.
    answer = batch(sandbox, "upload", [stored, new], {"Authorization": basic("me", OD_NO_CREATE)})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == LFS
    assert answer.json() == {
        "objects": [
            {"oid": stored[0], "size": stored[1]},
            {
                "oid": new[0],
                "size": new[1],
                "actions": {
                    "upload": {
                        "href": object_url(sandbox, new[0]),
                        "header": {"Authorization": f"Bearer {OD_NO_CREATE}"},
                    }
                },
            },
        ]
    }
    action = answer.json()["objects"][1]["actions"]["upload"]
    put = httpx.put(action["href"], content=content, headers=action["header"])
    assert put.status_code == 200
    assert sandbox.onedev.lfs_objects(project) == {stored[0]: b"stored before\n", new[0]: content}
    again = batch(sandbox, "upload", [stored, new])
    assert all("actions" not in o for o in again.json()["objects"])
    assert sandbox.onedev.count(lfs="batch") == 2
    assert sandbox.onedev.count(lfs="upload") == 1


def test_download_actions_and_object_not_found(sandbox: Sandbox, project: str) -> None:
    oid = sandbox.onedev.add_lfs_object(project, b"payload")
    missing = lfs_object(b"never uploaded")
    answer = batch(sandbox, "download", [(oid, 7), missing], bearer(OD_READ_ONLY))
    assert answer.status_code == 200
    present, absent = answer.json()["objects"]
    download = present["actions"]["download"]
    assert download["href"] == object_url(sandbox, oid)
    assert absent == {
        "oid": missing[0],
        "size": missing[1],
        "error": {"code": 404, "message": "Object not found"},
    }
    got = httpx.get(download["href"], headers=download["header"])
    assert (got.status_code, got.content) == (200, b"payload")
    assert got.headers["content-type"] == "application/octet-stream"
    gone = httpx.get(object_url(sandbox, missing[0]), headers=bearer(OD_READ_ONLY))
    assert gone.status_code == 404
    assert gone.text.endswith(f"{missing[0]} (No such file or directory)")
    assert sandbox.onedev.count(lfs="download") == 2


def test_upload_not_matching_its_oid_is_refused(sandbox: Sandbox, project: str) -> None:
    oid, _ = lfs_object(b"what the batch announced")
    put = httpx.put(object_url(sandbox, oid), content=b"something else", headers=bearer(OD_ADMIN))
    assert (put.status_code, put.content) == (500, b"")
    assert sandbox.onedev.lfs_objects(project) == {}
    lfs_files = (sandbox.onedev.repo_dir(project) / "lfs").rglob("*")
    assert [f for f in lfs_files if f.is_file()] == []  # no partial upload left behind
    # As in OneDev, a failed upload deletes an object stored under that oid before.
    kept = sandbox.onedev.add_lfs_object(project, b"good")
    bad = httpx.put(object_url(sandbox, kept), content=b"bad", headers=bearer(OD_ADMIN))
    assert bad.status_code == 500
    assert sandbox.onedev.lfs_objects(project) == {}
    invalid = httpx.put(object_url(sandbox, "ABC"), content=b"x", headers=bearer(OD_ADMIN))
    assert (invalid.status_code, invalid.text) == (500, "Invalid LFS object id")


def test_read_only_token_cannot_upload(sandbox: Sandbox, project: str) -> None:
    content = b"data"
    oid, size = lfs_object(content)
    denied = batch(sandbox, "upload", [(oid, size)], bearer(OD_READ_ONLY))
    assert denied.status_code == 403
    assert denied.headers["content-type"] == LFS
    assert denied.json() == {"message": "Permission denied"}
    put = httpx.put(object_url(sandbox, oid), content=content, headers=bearer(OD_READ_ONLY))
    assert put.status_code == 403
    assert put.json() == {"message": "Permission denied"}
    assert sandbox.onedev.lfs_objects(project) == {}
    assert batch(sandbox, "download", [(oid, size)], bearer(OD_READ_ONLY)).status_code == 200


def test_anonymous_gets_401_with_lfs_authenticate(sandbox: Sandbox, project: str) -> None:
    oid, size = lfs_object(b"data")
    for target in (project, "no/such"):
        answer = batch(sandbox, "upload", [(oid, size)], {}, project=target)
        assert answer.status_code == 401
        assert answer.headers["lfs-authenticate"] == 'Basic realm="OneDev"'
        assert answer.json() == {"message": "Authentication required"}
    put = httpx.put(object_url(sandbox, oid), content=b"data")
    assert put.status_code == 401
    assert put.headers["lfs-authenticate"] == 'Basic realm="OneDev"'
    wrong = batch(sandbox, "upload", [(oid, size)], bearer("wrong"))
    assert (wrong.status_code, wrong.text) == (401, "Invalid account or incorrect credentials")


def test_unknown_project_is_404(sandbox: Sandbox) -> None:
    oid, size = lfs_object(b"data")
    answer = batch(sandbox, "download", [(oid, size)], project="github/octo/missing")
    assert answer.status_code == 404
    assert answer.json() == {"message": "Project not found or inaccessible: github/octo/missing"}
    got = httpx.get(object_url(sandbox, oid, "github/octo/missing"), headers=bearer(OD_ADMIN))
    assert got.status_code == 404


def test_only_basic_transfer_and_sha256(sandbox: Sandbox, project: str) -> None:
    oid, size = lfs_object(b"data")
    ssh = batch(sandbox, "upload", [(oid, size)], transfers=["ssh", "tus"])
    assert ssh.status_code == 406
    assert ssh.json() == {"message": "This server can only accept basic transfer"}
    sha512 = batch(sandbox, "upload", [(oid, size)], hash_algo="sha512")
    assert sha512.status_code == 406
    assert sha512.json() == {"message": "This server can only accept sha256 hash algorithm"}
    body = {"operation": "upload", "objects": [{"oid": oid, "size": size}]}
    unspecified = lfs_post(sandbox, f"{project}.git/info/lfs/objects/batch", body, bearer(OD_ADMIN))
    assert "actions" in unspecified.json()["objects"][0]


def test_objects_over_the_maximum_size_are_406(sandbox: Sandbox, project: str) -> None:
    sandbox.onedev.max_git_lfs_file_size = 1  # MB
    limit = 1024 * 1024
    big = ("a" * 64, limit + 1)
    fits = ("b" * 64, limit)
    answer = batch(sandbox, "upload", [big, fits])
    assert answer.status_code == 200
    over, under = answer.json()["objects"]
    assert over["error"] == {
        "code": 406,
        "message": f"Exceeded max acceptable LFS file size {limit}",
    }
    assert "actions" not in over
    assert "upload" in under["actions"]


def test_malformed_batches_are_500(sandbox: Sandbox, project: str) -> None:
    path = f"{project}.git/info/lfs/objects/batch"
    internal = {"message": "Internal server error, please check server log"}
    bodies: list[Any] = ["not json", {"objects": []}, {"operation": "upload"}]
    for body in bodies:
        answer = lfs_post(sandbox, path, body, bearer(OD_ADMIN))
        assert (answer.status_code, answer.json()) == (500, internal)
    invalid_oid = batch(sandbox, "download", [("A" * 64, 1)])
    assert (invalid_oid.status_code, invalid_oid.json()) == (500, internal)


def test_without_the_lfs_media_type_it_is_the_web_ui(sandbox: Sandbox, project: str) -> None:
    answer = httpx.post(
        f"{sandbox.onedev_url}/{project}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": []},
        headers=bearer(OD_ADMIN),
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")


def test_locks(sandbox: Sandbox, project: str) -> None:
    locks = f"{project}.git/info/lfs/locks"
    verify = lfs_post(
        sandbox, f"{locks}/verify", {"ref": {"name": "refs/heads/main"}}, bearer(OD_ADMIN)
    )
    assert verify.json() == {"ours": [], "theirs": []}
    created = lfs_post(sandbox, locks, {"path": "big.bin"}, bearer(OD_ADMIN))
    assert created.status_code == 201
    lock = created.json()["lock"]
    assert (lock["path"], lock["id"]) == ("big.bin", "1")
    taken = lfs_post(sandbox, locks, {"path": "big.bin"}, bearer(OD_NO_CREATE))
    assert (taken.status_code, taken.json()["message"]) == (409, "Lock exists")
    theirs = lfs_post(sandbox, f"{locks}/verify", {}, bearer(OD_NO_CREATE))
    assert (theirs.json()["ours"], theirs.json()["theirs"]) == ([], [lock])
    listed = httpx.get(
        f"{sandbox.onedev_url}/{locks}?path=big.bin",
        headers={"Accept": LFS, **bearer(OD_READ_ONLY)},
    )
    assert listed.json() == {"locks": [lock]}
    read_only = lfs_post(sandbox, f"{locks}/verify", {}, bearer(OD_READ_ONLY))
    assert read_only.status_code == 403
    unlock = f"{locks}/{lock['id']}/unlock"
    other = lfs_post(sandbox, unlock, {}, bearer(OD_NO_CREATE))
    assert (other.status_code, other.json()) == (403, {"message": "Lock is created by other users"})
    forced = lfs_post(sandbox, unlock, {"force": True}, bearer(OD_NO_CREATE))
    assert forced.json() == {"message": "Only project managers can unlock forcibly"}
    assert lfs_post(sandbox, unlock, {}, bearer(OD_ADMIN)).json() == {"lock": lock}
    assert lfs_post(sandbox, unlock, {}, bearer(OD_ADMIN)).status_code == 404


def test_a_child_project_has_its_own_objects(sandbox: Sandbox, project: str) -> None:
    wiki = sandbox.onedev.add_project(f"{project}/wiki")
    content = b"wiki attachment"
    oid, size = lfs_object(content)
    answer = batch(sandbox, "upload", [(oid, size)], project=f"{project}/wiki")
    action = answer.json()["objects"][0]["actions"]["upload"]
    assert action["href"] == object_url(sandbox, oid, f"{project}/wiki")
    assert httpx.put(action["href"], content=content, headers=action["header"]).status_code == 200
    assert sandbox.onedev.lfs_objects(f"{project}/wiki") == {oid: content}
    assert sandbox.onedev.lfs_objects(project) == {}
    assert sandbox.onedev.lfs_object_path(wiki, oid).is_file()


# ---------------------------------------------------------------------------- the real client


def source_with_lfs(tmp_path: Path, content: bytes) -> tuple[Path, str]:
    """A bare repository whose ``main`` has an LFS pointer, with the object in its store."""
    bare = tmp_path / "source.git"
    gitrepo.init_bare(bare, "main")
    oid, size = lfs_object(content)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
    attributes = "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    files = {".gitattributes": attributes, "big.bin": pointer}
    gitrepo.fast_import(bare, [CommitSpec("refs/heads/main", files, "Add big.bin\n")])
    gitrepo.update_refs(bare, {"refs/tags/v1": gitrepo.resolve(bare, "main")})
    stored = bare / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid
    stored.parent.mkdir(parents=True)
    stored.write_bytes(content)
    return bare, oid


def git_with_header(
    sb: Sandbox, token: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """git (and git-lfs) with the credentials in the environment, as epicstar passes them."""
    env = git_env()
    env.update(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"http.{sb.onedev_url}/.extraHeader",
        GIT_CONFIG_VALUE_0=f"Authorization: {basic('epicstar', token)}",
    )
    proc = subprocess.run(
        ["git", "-c", "credential.helper=", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.usefixtures("git_lfs")
def test_real_git_lfs_push_is_complete_and_idempotent(
    sandbox: Sandbox, project: str, tmp_path: Path
) -> None:
    content = os.urandom(2 * 1024 * 1024)
    source, oid = source_with_lfs(tmp_path, content)
    url = f"{sandbox.onedev_url}/{project}.git"
    git_with_header(
        sandbox,
        OD_ADMIN,
        "push",
        url,
        "refs/heads/*:refs/heads/*",
        "refs/tags/*:refs/tags/*",
        cwd=source,
    )
    git_with_header(sandbox, OD_ADMIN, "lfs", "push", "--all", url, cwd=source)
    assert sandbox.onedev.lfs_objects(project) == {oid: content}
    assert sandbox.onedev.count(lfs="upload", status=200) == 1
    assert sandbox.onedev.count(lfs="batch") == 1
    # Lock verification, once per ref pushed (main and v1), as OneDev has the locking API.
    assert sandbox.onedev.count(lfs="locks") == 2
    sandbox.onedev.clear_log()
    git_with_header(sandbox, OD_ADMIN, "lfs", "push", "--all", url, cwd=source)
    assert sandbox.onedev.count(lfs="batch") == 1
    assert sandbox.onedev.count(lfs="upload") == 0
    assert sandbox.onedev.lfs_objects(project) == {oid: content}

    clone = tmp_path / "clone.git"
    git_with_header(sandbox, OD_READ_ONLY, "clone", "--bare", "-q", url, str(clone), cwd=tmp_path)
    git_with_header(sandbox, OD_READ_ONLY, "lfs", "fetch", "--all", url, cwd=clone)
    fetched = clone / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid
    assert fetched.read_bytes() == content
    assert sandbox.onedev.count(lfs="download", status=200) == 1
