"""Git over HTTP against the OneDev stand-in: auth chain, permissions and OneDev's hooks."""

from __future__ import annotations

from pathlib import Path

import httpx

from epicstar.sandbox import Sandbox
from tests.sandbox.conftest import OD_ADMIN, OD_NO_CREATE, OD_READ_ONLY, git, with_credentials


def make_source(tmp_path: Path, branches: tuple[str, ...] = ("master",)) -> Path:
    work = tmp_path / "work"
    git("init", "-q", "-b", branches[0], str(work))
    (work / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=work)
    git("commit", "-q", "-m", "a", cwd=work)
    for branch in branches[1:]:
        git("branch", branch, cwd=work)
    return work


def project_url(sb: Sandbox, path: str, token: str = OD_ADMIN) -> str:
    return with_credentials(f"{sb.onedev_url}/{path}.git", token, user="epicstar")


def test_anonymous_git_gets_401_with_challenge(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello", with_content=True)
    info = httpx.get(
        f"{sandbox.onedev_url}/github/octo/hello.git/info/refs",
        params={"service": "git-upload-pack"},
    )
    assert info.status_code == 401
    assert info.headers["www-authenticate"] == 'Basic realm="OneDev"'
    missing = httpx.get(
        f"{sandbox.onedev_url}/no/such.git/info/refs", params={"service": "git-receive-pack"}
    )
    assert missing.status_code == 401  # anonymous: no hint whether it exists
    bad = git("ls-remote", f"{sandbox.onedev_url}/github/octo/hello.git", check=False)
    assert bad.returncode != 0
    ok = git("ls-remote", project_url(sandbox, "GitHub/Octo/Hello"))  # case-insensitive
    assert "refs/heads/main" in ok.stdout
    bearer = git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {OD_ADMIN}",
        "ls-remote",
        f"{sandbox.onedev_url}/github/octo/hello",  # without .git
    )
    assert "refs/heads/main" in bearer.stdout
    wrong = httpx.get(
        f"{sandbox.onedev_url}/github/octo/hello.git/info/refs",
        params={"service": "git-upload-pack"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert (wrong.status_code, wrong.text) == (401, "Invalid account or incorrect credentials")


def test_push_to_missing_project_is_404(sandbox: Sandbox, tmp_path: Path) -> None:
    work = make_source(tmp_path)
    push = git("push", project_url(sandbox, "github/octo/missing"), "master", cwd=work, check=False)
    assert push.returncode != 0
    assert sandbox.onedev.project("github/octo/missing") is None
    info = httpx.get(
        f"{sandbox.onedev_url}/github/octo/missing.git/info/refs",
        params={"service": "git-receive-pack"},
        headers={"Authorization": f"Bearer {OD_ADMIN}"},
    )
    assert info.status_code == 404
    assert info.text == "Project not found or inaccessible: github/octo/missing"


def test_read_only_cannot_push(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello")
    work = make_source(tmp_path)
    url = project_url(sandbox, "github/octo/hello", OD_READ_ONLY)
    push = git("push", url, "master", cwd=work, check=False)
    assert push.returncode != 0
    assert "You do not have permission to push to this project." in push.stderr
    assert git("ls-remote", url).returncode == 0  # reading is fine


def test_head_is_linked_to_the_pushed_branch(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello")
    assert sandbox.onedev.default_branch("github/octo/hello") is None
    work = make_source(tmp_path, ("master",))
    git("push", project_url(sandbox, "github/octo/hello"), "master", cwd=work)
    assert sandbox.onedev.default_branch("github/octo/hello") == "master"
    # Once HEAD resolves, later pushes leave it alone.
    git("branch", "zzz", cwd=work)
    git("push", project_url(sandbox, "github/octo/hello"), "zzz", cwd=work)
    assert sandbox.onedev.default_branch("github/octo/hello") == "master"


def test_head_follows_onedevs_reverse_processing_order(sandbox: Sandbox, tmp_path: Path) -> None:
    """OneDev walks the hook's ref updates last-to-first, so with several branches in the
    first push HEAD ends up on the *last* one git sent (alphabetical for a glob refspec)."""
    sandbox.onedev.add_project("github/octo/multi")
    work = make_source(tmp_path, ("master", "develop", "release"))
    url = project_url(sandbox, "github/octo/multi")
    git("push", url, "+refs/heads/*:refs/heads/*", cwd=work)
    assert sandbox.onedev.default_branch("github/octo/multi") == "release"


def test_onedev_refs_are_reserved_for_managers(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello")
    work = make_source(tmp_path)
    git("update-ref", "refs/pulls/1/head", "HEAD", cwd=work)
    git("update-ref", "refs/pull/1/head", "HEAD", cwd=work)
    writer = project_url(sandbox, "github/octo/hello", OD_NO_CREATE)
    push = git(
        "push",
        writer,
        "master",
        "refs/pull/1/head",
        "refs/pulls/1/head",
        cwd=work,
        check=False,
    )
    assert push.returncode != 0
    assert "Only project managers can update onedev refs." in push.stderr
    assert "ERROR PUSHING REF: refs/pulls/1/head" in push.stderr
    assert sandbox.onedev.refs("github/octo/hello") == {}  # the whole push failed
    ok = git("push", writer, "master", "refs/pull/1/head", cwd=work, check=False)
    assert ok.returncode == 0, ok.stderr  # GitHub's refs/pull/* are not special
    assert "refs/pull/1/head" in sandbox.onedev.refs("github/octo/hello")
    admin = git("push", project_url(sandbox, "github/octo/hello"), "refs/pulls/1/head", cwd=work)
    assert admin.returncode == 0
    hook = sandbox.onedev.repo_dir("github/octo/hello") / "hooks" / "pre-receive"
    assert hook.read_text().startswith("#!/bin/sh")


def test_mirror_push_deleting_onedev_refs_is_rejected(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello", with_content=True)
    sandbox.onedev.add_onedev_refs("github/octo/hello")
    work = make_source(tmp_path)
    writer = project_url(sandbox, "github/octo/hello", OD_NO_CREATE)
    push = git("push", "--mirror", writer, cwd=work, check=False)
    assert push.returncode != 0
    assert "refs/pulls/1/head" in sandbox.onedev.refs("github/octo/hello")


def test_dumb_http_is_not_served(sandbox: Sandbox) -> None:
    sandbox.onedev.add_project("github/octo/hello", with_content=True)
    auth = {"Authorization": f"Bearer {OD_ADMIN}"}
    base = f"{sandbox.onedev_url}/github/octo/hello.git"
    assert httpx.get(f"{base}/info/refs", headers=auth).status_code == 404
    assert httpx.get(f"{base}/HEAD", headers=auth).status_code == 404
    assert httpx.get(f"{sandbox.onedev_url}/api/projects", headers=auth).status_code == 404


def porcelain_rejections(push_stdout: str) -> dict[str, str]:
    found = {}
    for line in push_stdout.splitlines():
        flag, _, rest = line.partition("\t")
        if flag == "!":
            refs, _, summary = rest.partition("\t")
            found[refs.rpartition(":")[2]] = summary
    return found


def test_deleting_the_branch_head_is_on_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.onedev.add_project("github/octo/hello")
    work = make_source(tmp_path, ("master", "main"))
    url = project_url(sandbox, "github/octo/hello")
    git("push", url, "master", "main", cwd=work)
    assert sandbox.onedev.default_branch("github/octo/hello") == "main"  # git init's HEAD

    push = git("push", "--porcelain", url, ":master", ":main", cwd=work, check=False)

    assert push.returncode != 0
    assert porcelain_rejections(push.stdout) == {
        "refs/heads/main": "[remote rejected] (deletion of the current branch prohibited)"
    }
    assert set(sandbox.onedev.refs("github/octo/hello")) == {"refs/heads/main"}


def test_branch_protection_of_a_parent_refuses_the_whole_push(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    onedev = sandbox.onedev
    onedev.add_project("github/octo/hello")
    work = make_source(tmp_path, ("main", "old", "feature"))
    url = project_url(sandbox, "github/octo/hello")
    git("push", url, "main", "old", "feature", cwd=work)
    before = onedev.refs("github/octo/hello")
    onedev.protect_branches("github", "** -feature", prevent_creation=False)
    git("commit", "-q", "--amend", "-m", "rewritten", cwd=work)  # main is rewritten
    git("branch", "new", cwd=work)

    push = git(
        "push",
        "--porcelain",
        "--force",
        url,
        "main",
        "new",
        ":old",
        ":feature",
        cwd=work,
        check=False,
    )

    assert push.returncode != 0
    declined = "[remote rejected] (pre-receive hook declined)"
    assert porcelain_rejections(push.stdout) == {
        ref: declined
        for ref in ("refs/heads/main", "refs/heads/new", "refs/heads/old", "refs/heads/feature")
    }
    lines = [line.removeprefix("remote:").strip() for line in push.stderr.splitlines()]
    assert "*  ERROR PUSHING REF: refs/heads/main" in lines
    assert "*  Cannot force-push to this branch according to branch protection setting" in lines
    assert "*  ERROR PUSHING REF: refs/heads/old" in lines
    assert "*  Cannot delete this branch according to branch protection setting" in lines
    assert "*  ERROR PUSHING REF: refs/heads/feature" not in lines  # excluded by "-feature"
    assert "*  ERROR PUSHING REF: refs/heads/new" not in lines  # creation is allowed
    assert onedev.refs("github/octo/hello") == before

    git("commit", "-q", "-m", "forward", "--allow-empty", cwd=work)
    forward = git("push", url, "feature", "HEAD:refs/heads/old-forward", cwd=work, check=False)
    assert forward.returncode == 0, forward.stderr


def test_a_projects_own_rule_comes_before_its_parents(sandbox: Sandbox, tmp_path: Path) -> None:
    onedev = sandbox.onedev
    onedev.add_project("github/octo/hello")
    work = make_source(tmp_path, ("main",))
    url = project_url(sandbox, "github/octo/hello")
    git("push", url, "main", cwd=work)
    onedev.protect_branches("github", "**")
    onedev.protect_branches("github/octo/hello", "main", prevent_forced_push=False)
    git("commit", "-q", "--amend", "-m", "rewritten", cwd=work)

    assert git("push", "--force", url, "main", cwd=work, check=False).returncode == 0


def test_tag_protection(sandbox: Sandbox, tmp_path: Path) -> None:
    onedev = sandbox.onedev
    onedev.add_project("github/octo/hello")
    work = make_source(tmp_path, ("main",))
    url = project_url(sandbox, "github/octo/hello")
    git("tag", "v1", cwd=work)
    git("tag", "v2", cwd=work)
    git("push", url, "main", "v1", "v2", cwd=work)
    onedev.protect_tags("github/octo", "v*", prevent_creation=False)
    git("commit", "-q", "-m", "next", "--allow-empty", cwd=work)
    git("tag", "-f", "v1", cwd=work)
    git("tag", "v3", cwd=work)

    moved = git("push", "--force", url, "v1", ":v2", cwd=work, check=False)
    created = git("push", url, "v3", cwd=work, check=False)

    assert moved.returncode != 0
    assert "Cannot update this tag according to tag protection setting" in moved.stderr
    assert "Cannot delete this tag according to tag protection setting" in moved.stderr
    assert created.returncode == 0, created.stderr
