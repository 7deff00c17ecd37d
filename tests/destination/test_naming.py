"""GitHub names to OneDev names and paths (research/onedev.md §3 "Name rules")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epicstar.destination import (
    MAX_NAME_LENGTH,
    RESERVED_NAMES,
    ancestors,
    is_valid_name,
    is_valid_path,
    mirror_path,
    onedev_name,
    suffixed,
)

# OneDev's own rules, spelled out independently of the implementation.
NAME_RULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
PATH_RULE = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_\-/.]*[A-Za-z0-9_])?")
ONEDEV_RESERVED = {
    "robots.txt",
    "sitemap.xml",
    "sitemap.txt",
    "favicon.ico",
    "favicon.png",
    "logo.png",
    "wicket",
    "projects",
    "avatars",
    "prefetch.json",
}


def assert_valid_name(name: str) -> None:
    assert NAME_RULE.fullmatch(name), name
    assert PATH_RULE.fullmatch(name), name  # so it also ends with a word character
    assert name.lower() not in ONEDEV_RESERVED
    assert 0 < len(name) <= 255
    assert name.isascii()


def assert_valid_path(path: str) -> None:
    assert PATH_RULE.fullmatch(path), path
    assert path.lower() not in {"new", "import"}
    assert len(path) <= 255
    for segment in path.split("/"):
        assert_valid_name(segment)


segments = st.text(min_size=1, max_size=300)
github_like = st.from_regex(r"\A[A-Za-z0-9._-]{1,100}\Z")
valid_names = st.from_regex(r"\A[A-Za-z0-9_]([A-Za-z0-9_.-]{0,60}[A-Za-z0-9_])?\Z").filter(
    lambda n: n.lower() not in ONEDEV_RESERVED
)


def test_reserved_names_match_onedev():
    assert ONEDEV_RESERVED == RESERVED_NAMES


@pytest.mark.parametrize(
    ("github", "onedev"),
    [
        ("fastapi", "fastapi"),
        ("Hello-World", "Hello-World"),
        ("socket.io", "socket.io"),
        ("_private", "_private"),
        ("a", "a"),
        (".github", "_.github"),
        (".dotfiles", "_.dotfiles"),
        ("-dash", "_-dash"),
        ("name.", "name._"),
        ("name-", "name-_"),
        ("...", "_..._"),
        ("-", "_-_"),
        ("projects", "_projects"),
        ("Projects", "_Projects"),
        ("robots.txt", "_robots.txt"),
        ("Wicket", "_Wicket"),
        ("avatars", "_avatars"),
        ("prefetch.json", "_prefetch.json"),
        ("new", "new"),  # only a whole *path* of "new" is reserved
        ("café", "cafe"),
        ("naïve-über", "naive-uber"),
        ("日本", "__"),
        ("a b", "a_b"),
        ("a/b", "a_b"),
        ("C++", "C__"),
    ],
)
def test_examples(github: str, onedev: str):
    assert onedev_name(github) == onedev
    assert_valid_name(onedev)


def test_empty_name_is_refused():
    with pytest.raises(ValueError, match="empty"):
        onedev_name("")


def test_long_names_are_cut_with_a_hash():
    long_a = "a" * 300
    long_b = "a" * 299 + "b"
    assert len(onedev_name(long_a)) == MAX_NAME_LENGTH
    assert onedev_name(long_a) != onedev_name(long_b)
    assert_valid_name(onedev_name(long_a))
    assert onedev_name("a" * 255) == "a" * 255


@given(segments)
def test_output_is_always_valid(segment: str):
    name = onedev_name(segment)
    assert_valid_name(name)
    assert is_valid_name(name)


@given(segments)
def test_deterministic_and_idempotent(segment: str):
    once = onedev_name(segment)
    assert onedev_name(segment) == once
    assert onedev_name(once) == once


@given(valid_names)
def test_valid_names_are_unchanged(name: str):
    assert onedev_name(name) == name


@given(github_like)
def test_github_names_stay_readable(name: str):
    mapped = onedev_name(name)
    assert name in mapped  # GitHub's alphabet only ever gains a prefix or suffix


def test_is_valid_name_rejects_what_onedev_rejects():
    for bad in ["", ".github", "a.", "a b", "projects", "ROBOTS.TXT", "é", "a/b", "x" * 256]:
        assert not is_valid_name(bad), bad


# ------------------------------------------------------------------ mirror_path


@pytest.mark.parametrize(
    ("parent", "owner", "name", "path"),
    [
        ("github", "fastapi", "fastapi", "github/fastapi/fastapi"),
        ("", "fastapi", "fastapi", "fastapi/fastapi"),
        ("mirrors/github", "octocat", "Hello-World", "mirrors/github/octocat/Hello-World"),
        ("/mirrors//github/", "octocat", "Hello-World", "mirrors/github/octocat/Hello-World"),
        ("github", "octo-org", ".github", "github/octo-org/_.github"),
        ("github", "someone", "projects", "github/someone/_projects"),
        (".hidden", "o", "n", "_.hidden/o/n"),
    ],
)
def test_mirror_path_examples(parent: str, owner: str, name: str, path: str):
    assert mirror_path(parent, owner, name) == path
    assert_valid_path(path)
    assert is_valid_path(path)


def test_mirror_path_needs_owner_and_name():
    with pytest.raises(ValueError, match="empty"):
        mirror_path("github", "", "x")
    with pytest.raises(ValueError, match="empty"):
        mirror_path("github", "x", "")


def test_mirror_path_fits_in_255_characters():
    path = mirror_path("mirrors/" + "p" * 100, "o" * 39, "n" * 200)
    assert len(path) == 255
    assert_valid_path(path)
    with pytest.raises(ValueError, match="no room"):
        mirror_path("p" * 250, "owner", "name")


parents = st.lists(st.text(min_size=0, max_size=20), max_size=4).map("/".join)


@given(parents, st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=100))
def test_mirror_path_is_always_valid_and_deterministic(parent: str, owner: str, name: str):
    path = mirror_path(parent, owner, name)
    assert_valid_path(path)
    assert mirror_path(parent, owner, name) == path
    assert path.count("/") >= 1
    # mapping an already mapped path changes nothing
    *head, mapped_owner, mapped_name = path.split("/")
    assert mirror_path("/".join(head), mapped_owner, mapped_name) == path


@given(st.lists(valid_names, min_size=3, max_size=4))
def test_mirror_path_keeps_valid_segments(parts: list[str]):
    *parent, owner, name = parts
    if sum(len(p) + 1 for p in parts) <= 255:
        assert mirror_path("/".join(parent), owner, name) == "/".join(parts)


# -------------------------------------------------------------------- suffixed


def test_suffixed_examples():
    assert suffixed("fastapi", 123) == "fastapi-gh123"
    assert suffixed(".github", 7) == "_.github-gh7"
    assert suffixed("projects", 1) == "_projects-gh1"


def test_suffixed_needs_an_id():
    with pytest.raises(ValueError, match="id"):
        suffixed("x", -1)


@given(segments, st.integers(min_value=0, max_value=2**63))
def test_suffixed_is_valid_stable_and_distinct(name: str, github_id: int):
    result = suffixed(name, github_id)
    assert_valid_name(result)
    assert result == suffixed(name, github_id)
    assert result.endswith(f"-gh{github_id}")
    assert result != onedev_name(name)


def test_ancestors():
    assert ancestors("github/fastapi/fastapi") == ["github", "github/fastapi"]
    assert ancestors("/a/b/") == ["a"]
    assert ancestors("root") == []
