"""The GitHub stand-in's starred lists: ``GET /user/starred`` and ``/users/{username}/starred``
with GitHub's media types, ``link`` paging, ordering, ETags and rate limits."""

from __future__ import annotations

import re
import resource
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from epicstar.sandbox import Sandbox
from epicstar.sandbox.github import FakeGitHub
from tests.sandbox.conftest import GH_TOKEN, GH_TOKEN_2

AUTH = {"Authorization": f"token {GH_TOKEN}"}
STAR_JSON = "application/vnd.github.star+json"
USER = "user1"  # GH_TOKEN's user
OTHER = "user2"  # GH_TOKEN_2's user


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.github_api_url, timeout=30) as c:
        yield c


def links(response: httpx.Response) -> dict[str, str]:
    """rel -> URL of the ``link`` header."""
    found = re.findall(r'<([^>]+)>; rel="([a-z]+)"', response.headers.get("link", ""))
    return {rel: url for url, rel in found}


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def names(response: httpx.Response) -> list[str]:
    return [item.get("repo", item)["full_name"] for item in response.json()]


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


def test_both_media_types_show_the_repository_as_repos_does(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "hello", description="greetings", id=4242)
    when = gh.star(USER, "octo/hello")
    assert gh.stars(USER) == [(gh.repo("octo/hello"), when)]
    single = client.get("/repos/octo/hello", headers=AUTH).json()

    bare = client.get("/user/starred", headers=AUTH)
    assert bare.status_code == 200
    assert bare.json() == [single]
    assert bare.json()[0]["stargazers_count"] == 1
    assert "link" not in bare.headers  # everything fits on one page

    for accept in (STAR_JSON, "application/vnd.github.v3.star+json", f"{STAR_JSON}, */*"):
        starred = client.get("/user/starred", headers={**AUTH, "Accept": accept})
        assert starred.status_code == 200
        assert starred.json() == [
            {"starred_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "repo": single}
        ]
        assert starred.headers["x-github-media-type"] == "github.v3; param=star; format=json"
        assert starred.headers["etag"] != bare.headers["etag"]
    assert "Accept" in bare.headers["vary"]

    # Even identical bodies ([]) in the two media types never share an ETag.
    empty_bare = client.get("/user/starred", headers={"Authorization": f"token {GH_TOKEN_2}"})
    empty_star = client.get(
        "/user/starred", headers={"Authorization": f"token {GH_TOKEN_2}", "Accept": STAR_JSON}
    )
    assert empty_bare.json() == empty_star.json() == []
    assert empty_bare.headers["etag"] != empty_star.headers["etag"]
    conditional = {
        "Authorization": f"token {GH_TOKEN_2}",
        "Accept": STAR_JSON,
        "If-None-Match": empty_bare.headers["etag"],
    }
    assert client.get("/user/starred", headers=conditional).status_code == 200


def test_link_paging_over_three_pages_and_rate_limit(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    gh = sandbox.github
    repos = gh.create_repos("bulk", [f"r{i:03}" for i in range(250)])
    gh.star_many(USER, [r.full_name for r in repos])
    newest_first = [r.full_name for r in reversed(repos)]
    start = remaining(client.get("/rate_limit", headers=AUTH))  # free

    headers = {**AUTH, "Accept": STAR_JSON}
    url: str | None = "/user/starred?per_page=100&sort=created&direction=desc"
    pages: list[httpx.Response] = []
    while url is not None:
        page = client.get(url, headers=headers)
        assert page.status_code == 200
        pages.append(page)
        url = links(page).get("next")
    assert [len(p.json()) for p in pages] == [100, 100, 50]
    assert [name for p in pages for name in names(p)] == newest_first
    assert remaining(pages[-1]) == start - 3  # one request per 200 page

    first, second, third = (links(p) for p in pages)
    assert set(first) == {"next", "last"}
    assert set(second) == {"prev", "next", "last", "first"}
    assert set(third) == {"prev", "first"}
    for rel in (*first.values(), *second.values(), *third.values()):
        assert rel.startswith(f"{sandbox.github_api_url}/user/starred?")
        assert {k: v for k, v in query(rel).items() if k != "page"} == {
            "per_page": "100",
            "sort": "created",
            "direction": "desc",
        }
    assert query(first["last"])["page"] == "3"
    assert query(first["next"])["page"] == "2"
    assert query(second["prev"])["page"] == "1"
    assert query(third["first"])["page"] == "1"
    starred_at = [item["starred_at"] for p in pages for item in p.json()]
    assert starred_at == sorted(starred_at, reverse=True)
    assert len(set(starred_at)) == 250  # strictly increasing, distinct seconds

    # The `last` link is right; out of range is an empty page; per_page is capped at 100.
    last = client.get(first["last"], headers=headers)
    assert names(last) == newest_first[200:]
    beyond = client.get("/user/starred?per_page=100&page=4", headers=AUTH)
    assert beyond.status_code == 200
    assert beyond.json() == []
    capped = client.get("/user/starred?per_page=500&foo=bar", headers=AUTH)
    assert len(capped.json()) == 100
    assert query(links(capped)["next"]) == {"per_page": "500", "foo": "bar", "page": "2"}
    default = client.get("/user/starred", headers=AUTH)
    assert len(default.json()) == 30
    assert query(links(default)["last"]) == {"page": "9"}

    # A 304 (same ETag) is free; the page-1 ETag changes once a new star lands on it.
    counted = remaining(default)
    etag = pages[0].headers["etag"]
    for _ in range(3):
        again = client.get(
            "/user/starred?per_page=100&sort=created&direction=desc",
            headers={**headers, "If-None-Match": etag},
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["link"] == pages[0].headers["link"]
        assert remaining(again) == counted


def test_order_newest_first_asc_and_by_push(sandbox: Sandbox, client: httpx.Client) -> None:
    gh = sandbox.github
    for name in ("a", "b", "c"):
        gh.create_repo("octo", name, empty=True)
    gh.star(USER, "octo/b")
    gh.star(USER, "octo/a")
    gh.star(USER, "octo/c")
    times = [when for _, when in gh.stars(USER)]
    assert times == sorted(times)
    assert len(set(times)) == 3  # strictly increasing
    assert names(client.get("/user/starred", headers=AUTH)) == ["octo/c", "octo/a", "octo/b"]
    ascending = client.get("/user/starred?direction=asc", headers=AUTH)
    assert names(ascending) == ["octo/b", "octo/a", "octo/c"]
    # Explicit times; the next default star still comes after every earlier one.
    past = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)
    gh.create_repo("octo", "old", empty=True)
    assert gh.star(USER, "octo/old", starred_at=past) == past
    assert names(client.get("/user/starred?direction=asc", headers=AUTH))[0] == "octo/old"
    gh.create_repo("octo", "new", empty=True)
    assert gh.star(USER, "octo/new") > times[-1]
    # Starring again keeps the original time.
    assert gh.star(USER, "octo/old") == past
    # sort=updated orders by pushed_at.
    gh.commit("octo/a", "main", {"x.txt": "x"})
    updated = names(client.get("/user/starred?sort=updated", headers=AUTH))
    assert updated[0] == "octo/a"
    assert names(client.get("/user/starred?sort=updated&direction=asc", headers=AUTH))[-1] == (
        "octo/a"
    )


def test_etag_changes_with_stars_and_metadata(sandbox: Sandbox, client: httpx.Client) -> None:
    gh = sandbox.github
    gh.create_repos("octo", ["a", "b", "c"])
    gh.star_many(USER, ["octo/a", "octo/b"])
    headers = {**AUTH, "Accept": STAR_JSON}

    def conditional(etag: str) -> httpx.Response:
        return client.get("/user/starred", headers={**headers, "If-None-Match": etag})

    etag = client.get("/user/starred", headers=headers).headers["etag"]
    assert conditional(etag).status_code == 304
    gh.star(USER, "octo/c")
    changed = conditional(etag)
    assert changed.status_code == 200
    assert names(changed) == ["octo/c", "octo/b", "octo/a"]
    etag = changed.headers["etag"]
    assert conditional(etag).status_code == 304
    assert gh.unstar(USER, "octo/c") is True
    assert gh.unstar(USER, "octo/c") is False
    removed = conditional(etag)
    assert removed.status_code == 200
    assert names(removed) == ["octo/b", "octo/a"]
    etag = removed.headers["etag"]
    gh.set_description("octo/a", "now described")
    described = conditional(etag)
    assert described.status_code == 200
    assert described.json()[1]["repo"]["description"] == "now described"


def test_a_page_etag_follows_its_items_not_its_links(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    gh = sandbox.github
    gh.create_repos("bulk", [f"r{i:03}" for i in range(200)])
    gh.star_many(USER, [f"bulk/r{i:03}" for i in range(200)])
    headers = {**AUTH, "Accept": STAR_JSON}
    url = "/user/starred?per_page=100&sort=created&direction=desc&page=2"
    full = client.get(url, headers=headers)
    assert "next" not in links(full)

    # A star older than all others opens page 3: page 2 lists the same items, now with a
    # `next` link, and still answers 304 to its old ETag.
    gh.create_repo("octo", "ancient", empty=True)
    gh.star(USER, "octo/ancient", starred_at=datetime(2001, 1, 1, tzinfo=UTC))
    again = client.get(url, headers={**headers, "If-None-Match": full.headers["etag"]})
    assert again.status_code == 304
    assert "next" in links(again)

    # An unstar above it shifts its items: 200 with a new ETag.
    gh.unstar(USER, "bulk/r150")
    shifted = client.get(url, headers={**headers, "If-None-Match": full.headers["etag"]})
    assert shifted.status_code == 200
    assert len(shifted.json()) == 100
    assert shifted.headers["etag"] != full.headers["etag"]


def test_users_starred_hides_private_repositories_from_others(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "public", empty=True)
    gh.create_repo("octo", "secret", empty=True, private=True)
    gh.star_many(USER, ["octo/public", "octo/secret"])
    both = ["octo/secret", "octo/public"]
    assert names(client.get("/user/starred", headers=AUTH)) == both
    assert names(client.get(f"/users/{USER}/starred", headers=AUTH)) == both  # oneself
    assert names(client.get("/users/USER1/starred", headers=AUTH)) == both  # any case
    anonymous = client.get(f"/users/{USER}/starred")
    assert anonymous.status_code == 200
    assert names(anonymous) == ["octo/public"]
    assert "permissions" not in anonymous.json()[0]
    other = client.get(f"/users/{USER}/starred", headers={"Authorization": f"token {GH_TOKEN_2}"})
    assert names(other) == ["octo/public"]
    assert client.get(f"/users/{OTHER}/starred").json() == []  # a user without stars
    assert client.get("/users/octo/starred").json() == []  # an owner
    missing = client.get("/users/nobody-here/starred")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"
    unauthenticated = client.get("/user/starred")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["message"] == "Requires authentication"
    bad = client.get("/user/starred", headers={"Authorization": "token ghp_wrong"})
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"


def test_stars_follow_renames_deleted_drop_out_blocked_stay(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    gh = sandbox.github
    gh.create_repos("octo", ["moving", "doomed", "blocked"])
    gh.star_many(USER, ["octo/moving", "octo/doomed", "octo/blocked"])
    repo_id = gh.repo("octo/moving").id
    gh.rename("octo/moving", "someone/moved")
    listed = client.get("/user/starred", headers=AUTH).json()
    moved = next(item for item in listed if item["id"] == repo_id)
    assert moved["full_name"] == "someone/moved"
    assert moved["clone_url"] == f"{sandbox.github_url}/someone/moved.git"

    gh.block("octo/blocked")
    assert "octo/blocked" in names(client.get("/user/starred", headers=AUTH))

    gh.delete("octo/doomed")
    assert names(client.get("/user/starred", headers=AUTH)) == ["octo/blocked", "someone/moved"]
    assert [r.full_name for r, _ in gh.stars(USER)] == ["someone/moved", "octo/blocked"]
    doomed_id = gh.restore("octo/doomed").id  # restoring brings the star back
    assert "octo/doomed" in names(client.get("/user/starred", headers=AUTH))
    gh.purge("octo/doomed")  # purging forgets it, even if the id is reused
    gh.create_repo("octo", "reborn", id=doomed_id, empty=True)
    assert [r.full_name for r, _ in gh.stars(USER)] == ["someone/moved", "octo/blocked"]
    with pytest.raises(KeyError):
        gh.star(USER, "octo/doomed")


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for: unlike the wall clock, it
    does not grow while other tests (parallel workers) share the CPU."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def test_star_many_on_a_thousand_repositories_is_fast(tmp_path: Path) -> None:
    gh = FakeGitHub(tmp_path / "gh", [GH_TOKEN])
    started = _cpu_seconds()
    repos = gh.create_repos("bulk", [f"r{i}" for i in range(1000)])
    times = gh.star_many(USER, [r.full_name for r in repos])
    spent = _cpu_seconds() - started
    assert spent < 3, f"{spent:.1f} s of CPU (about 1 s; a `git init` per repository costs 5 s)"
    assert len(gh.stars(USER)) == 1000
    assert all(b - a == timedelta(seconds=1) for a, b in pairwise(times))
    assert times[-1] <= datetime.now(UTC)  # a big batch is back-dated, not in the future
    assert gh.star_many(USER, ["bulk/r0"]) == [times[0]]  # already starred: unchanged
    assert gh.size_kib(repos[0]) == 0


def test_starring_and_unstarring_through_the_api(sandbox: Sandbox, client: httpx.Client) -> None:
    gh = sandbox.github
    gh.create_repo("octo", "liked")
    assert client.put("/user/starred/octo/liked", headers=AUTH).status_code == 204
    assert client.put("/user/starred/octo/liked", headers=AUTH).status_code == 204
    assert [repo.full_name for repo, _ in gh.stars(USER)] == ["octo/liked"]
    assert client.delete("/user/starred/octo/liked", headers=AUTH).status_code == 204
    assert client.delete("/user/starred/octo/liked", headers=AUTH).status_code == 204
    assert gh.stars(USER) == []
    assert client.put("/user/starred/octo/missing", headers=AUTH).status_code == 404
    assert client.put("/user/starred/octo/liked").status_code == 401
