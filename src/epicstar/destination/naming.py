"""Map GitHub names to OneDev project names and paths (research/onedev.md §3).

OneDev's REST API does not validate names, so epicstar enforces the web UI's
rules itself:

* a name matches ``\\w[\\w.-]*`` with ASCII ``\\w`` (``[A-Za-z0-9_]``);
* a path is names joined by ``/`` and matches ``\\w([\\w-/\\.]*\\w)?``, so every
  name also ends with a ``\\w`` character; the whole path is not ``new`` or
  ``import``;
* a name is not reserved (``robots.txt``, ``projects``, ... compared without
  regard to case, because OneDev compares names that way);
* names and paths are at most 255 characters (database columns).

Every function here is pure and deterministic. A name that already follows
the rules comes back unchanged, so mapping is idempotent.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "MAX_NAME_LENGTH",
    "RESERVED_NAMES",
    "RESERVED_PATHS",
    "ancestors",
    "is_valid_name",
    "is_valid_path",
    "mirror_path",
    "onedev_name",
    "suffixed",
]

MAX_NAME_LENGTH = 255
RESERVED_NAMES = frozenset(
    {
        # DefaultProjectService.reservedNames
        "robots.txt",
        "sitemap.xml",
        "sitemap.txt",
        "favicon.ico",
        "favicon.png",
        "logo.png",
        "wicket",
        "projects",
        # files and folders of the default site assets directory
        "avatars",
        "prefetch.json",
    }
)
RESERVED_PATHS = frozenset({"new", "import"})

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", re.ASCII)
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_ALLOWED = _WORD | {".", "-"}
_FILLER = "_"
_HASH_LENGTH = 8


def is_valid_name(name: str) -> bool:
    """Whether ``name`` can be used as one OneDev project name as it is."""
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and _NAME.fullmatch(name) is not None
        and name[-1] in _WORD
        and name.lower() not in RESERVED_NAMES
    )


def is_valid_path(path: str) -> bool:
    """Whether ``path`` is a valid OneDev project path made of valid names."""
    return (
        0 < len(path) <= MAX_NAME_LENGTH
        and path.lower() not in RESERVED_PATHS
        and all(is_valid_name(segment) for segment in path.split("/"))
    )


def _ascii_char(char: str) -> str:
    """An allowed ASCII spelling of one character: itself, its accent-less form, or ``_``."""
    if char in _ALLOWED:
        return char
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", char) if c in _ALLOWED)
    return decomposed or _FILLER


def onedev_name(segment: str) -> str:
    """Map one GitHub name (owner or repository) to a valid OneDev project name.

    Valid names are returned unchanged. Otherwise: characters outside
    ``[A-Za-z0-9_.-]`` become their ASCII base letter or ``_``; a name that
    starts with ``.`` or ``-`` gets a ``_`` prefix (``.github`` becomes
    ``_.github``); one that ends with ``.`` or ``-`` gets a ``_`` suffix; a
    reserved name gets a ``_`` prefix (``projects`` becomes ``_projects``); a
    name longer than 255 characters is cut and ends with a hash of the original.
    """
    if not segment:
        raise ValueError("a project name cannot be empty")
    if is_valid_name(segment):
        return segment
    name = "".join(_ascii_char(char) for char in segment)
    if name[0] not in _WORD:
        name = _FILLER + name
    if name[-1] not in _WORD:
        name += _FILLER
    if name.lower() in RESERVED_NAMES:
        name = _FILLER + name
    return _shorten(name, segment, MAX_NAME_LENGTH)


def _shorten(name: str, original: str, limit: int) -> str:
    """``name`` if it fits in ``limit``, else its start plus a hash of ``original``."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{name[: limit - _HASH_LENGTH - 1]}-{digest[:_HASH_LENGTH]}"


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def mirror_path(parent: str, owner: str, name: str) -> str:
    """The OneDev path ``<parent>/<owner>/<name>`` with every segment mapped.

    ``parent`` may be empty or have several levels (``mirrors/github``); empty
    segments (doubled or surrounding slashes) are ignored. If the whole path
    would exceed 255 characters, the last segment is shortened (with a hash of
    ``name``, so it stays deterministic); a parent and owner that leave no room
    raise :class:`ValueError`.
    """
    if not owner or not name:
        raise ValueError("owner and name must not be empty")
    head = "/".join(onedev_name(segment) for segment in [*_segments(parent), owner])
    room = MAX_NAME_LENGTH - len(head) - 1
    if room < _HASH_LENGTH + 2:
        raise ValueError("the parent path and owner leave no room for a project name")
    path = f"{head}/{_shorten(onedev_name(name), name, room)}"
    if path.lower() in RESERVED_PATHS:  # unreachable with two or more segments; kept as a guard
        path = _FILLER + path
    return path


def suffixed(name: str, github_id: int) -> str:
    """The stable clash-avoiding variant of a name: ``name-gh<id>`` (still a valid name)."""
    if isinstance(github_id, bool) or not isinstance(github_id, int) or github_id < 0:
        raise ValueError(f"expected a GitHub repository id, got {github_id!r}")
    suffix = f"-gh{github_id}"
    return onedev_name(name)[: MAX_NAME_LENGTH - len(suffix)] + suffix


def ancestors(path: str) -> list[str]:
    """Paths of the ancestors of ``path``, root first: ``a/b/c`` gives ``['a', 'a/b']``.

    OneDev creates nested projects one level at a time, so these are the
    projects that must exist (or be created) before ``path`` itself.
    """
    segments = _segments(path)
    return ["/".join(segments[:depth]) for depth in range(1, len(segments))]
