"""Wikis on the GitHub stand-in: ``<owner>/<name>.wiki.git`` exists once a page does, shares its
repository's visibility, name and fate, and never touches the repository itself."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from epicstar.sandbox import Sandbox
from tests.sandbox.conftest import GH_TOKEN, git, with_credentials

AUTH = {"Authorization": f"token {GH_TOKEN}"}
LFS_JSON = "application/vnd.git-lfs+json"


def wiki_url(sb: Sandbox, full_name: str) -> str:
    return f"{sb.github_url}/{full_name}.wiki.git"


def test_wiki_clones_and_updates_with_real_git(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "docs")
    repo_refs = gh.refs("octo/docs")
    pushed_at = gh.repo("octo/docs").pushed_at
    first = gh.create_wiki("octo/docs", {"Home.md": "# Welcome\n", "Setup.md": "Run it.\n"})
    assert gh.wiki_refs("octo/docs") == {"refs/heads/master": first}
    clone = tmp_path / "wiki"
    git("clone", wiki_url(sandbox, "octo/docs"), str(clone))
    assert (clone / "Home.md").read_text() == "# Welcome\n"
    assert (clone / "Setup.md").read_text() == "Run it.\n"
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone).stdout.strip() == "master"
    second = gh.edit_wiki("octo/docs", "Home.md", "# Welcome back\n")
    assert git("log", "-1", "--format=%s", second, cwd=gh.repo("octo/docs").wiki_path).stdout == (
        "Updated Home (markdown)\n"
    )
    git("pull", "--ff-only", cwd=clone)
    assert (clone / "Home.md").read_text() == "# Welcome back\n"
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == second
    gh.edit_wiki("octo/docs", "Setup.md", None, message="Remove setup")
    git("pull", "--ff-only", cwd=clone)
    assert not (clone / "Setup.md").exists()
    # The repository itself is untouched: same refs, same pushed_at.
    assert gh.refs("octo/docs") == repo_refs
    assert gh.repo("octo/docs").pushed_at == pushed_at
    assert "refs/heads/master" not in git("ls-remote", f"{sandbox.github_url}/octo/docs.git").stdout
    assert sandbox.github.count(path_prefix="/octo/docs.wiki.git", git=True) >= 3
    # Like the repository, the wiki takes no pushes.
    push = git("push", wiki_url(sandbox, "octo/docs"), "HEAD:master", cwd=clone, check=False)
    assert push.returncode != 0


def test_no_wiki_is_a_missing_repository(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "plain")
    assert gh.repo("octo/plain").has_wiki  # enabled, but no page: no wiki repository
    for url in (wiki_url(sandbox, "octo/plain"), wiki_url(sandbox, "octo/nothing")):
        anonymous = git("ls-remote", url, check=False)
        assert anonymous.returncode != 0
        authed = git("ls-remote", with_credentials(url, GH_TOKEN), check=False)
        assert authed.returncode != 0
        assert "Repository not found" in authed.stderr
    info = f"{wiki_url(sandbox, 'octo/plain')}/info/refs?service=git-upload-pack"
    assert httpx.get(info, headers=AUTH).status_code == 404
    assert httpx.get(info).status_code == 401
    assert gh.wiki_refs("octo/plain") == {}
    gh.create_wiki("octo/plain")
    assert httpx.get(info).status_code == 200
    gh.delete_wiki("octo/plain")
    assert httpx.get(info, headers=AUTH).status_code == 404
    assert gh.wiki_refs("octo/plain") == {}
    with pytest.raises(ValueError, match="no wiki"):
        gh.edit_wiki("octo/plain", "Home.md", "text")


def test_disabled_wiki_is_not_served_and_shows_in_every_repository_json(
    sandbox: Sandbox,
) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "docs", id=777)
    gh.create_wiki("octo/docs")
    login = gh.tokens[GH_TOKEN].login
    gh.star(login, "octo/docs")
    gh.set_has_wiki("octo/docs", False)
    base = sandbox.github_api_url
    shapes = [
        httpx.get(f"{base}/repos/octo/docs").json(),
        httpx.get(f"{base}/repositories/777").json(),
        httpx.get(f"{base}/user/starred", headers=AUTH).json()[0],
        httpx.get(
            f"{base}/user/starred",
            headers={**AUTH, "Accept": "application/vnd.github.star+json"},
        ).json()[0]["repo"],
        httpx.get(f"{base}/users/{login}/starred").json()[0],
    ]
    assert [shape["has_wiki"] for shape in shapes] == [False] * 5
    info = f"{wiki_url(sandbox, 'octo/docs')}/info/refs?service=git-upload-pack"
    assert httpx.get(info, headers=AUTH).status_code == 404
    gh.set_has_wiki("octo/docs", True)
    assert httpx.get(f"{base}/repos/octo/docs").json()["has_wiki"] is True
    assert httpx.get(info).status_code == 200  # the pages were kept
    with pytest.raises(ValueError, match="already"):
        gh.create_wiki("octo/docs")


def test_private_wiki_needs_the_token(sandbox: Sandbox, tmp_path: Path) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "secret", private=True)
    gh.create_wiki("octo/secret", {"Home.md": "secret notes\n"})
    url = wiki_url(sandbox, "octo/secret")
    info = f"{url}/info/refs?service=git-upload-pack"
    anonymous = httpx.get(info)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="GitHub"'
    assert httpx.get(info, headers={"Authorization": "token ghp_wrong"}).status_code == 401
    assert git("ls-remote", url, check=False).returncode != 0
    git("clone", with_credentials(url, GH_TOKEN), str(tmp_path / "wiki"))
    assert (tmp_path / "wiki" / "Home.md").read_text() == "secret notes\n"


def test_wiki_follows_renames_and_goes_with_its_repository(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "old-name")
    sha = gh.create_wiki("octo/old-name")
    gh.rename("octo/old-name", "neworg/new-name")
    for name in ("octo/old-name", "neworg/new-name"):
        assert sha in git("ls-remote", wiki_url(sandbox, name)).stdout
    assert gh.wiki_refs("neworg/new-name") == {"refs/heads/master": sha}
    info = f"{wiki_url(sandbox, 'neworg/new-name')}/info/refs?service=git-upload-pack"
    gh.delete("neworg/new-name")
    assert httpx.get(info, headers=AUTH).status_code == 404
    gh.restore("neworg/new-name")
    assert httpx.get(info, headers=AUTH).status_code == 200
    wiki_path = gh.repo("neworg/new-name").wiki_path
    gh.purge("neworg/new-name")
    assert httpx.get(info, headers=AUTH).status_code == 404
    assert not wiki_path.exists()


def test_blocked_repository_blocks_its_wiki(sandbox: Sandbox) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "taken-down")
    gh.create_wiki("octo/taken-down")
    gh.block("octo/taken-down")
    info = f"{wiki_url(sandbox, 'octo/taken-down')}/info/refs?service=git-upload-pack"
    assert httpx.get(info).status_code == 451


def test_wikis_have_no_lfs(sandbox: Sandbox) -> None:
    sandbox.github.create_repo("octo", "docs")
    sandbox.github.create_wiki("octo/docs")
    response = httpx.post(
        f"{wiki_url(sandbox, 'octo/docs')}/info/lfs/objects/batch",
        json={"operation": "download", "objects": []},
        headers={**AUTH, "Accept": LFS_JSON, "Content-Type": LFS_JSON},
    )
    assert response.status_code == 404
