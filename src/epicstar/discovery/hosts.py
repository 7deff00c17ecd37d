"""Where GitHub serves git, told from where it serves its REST API.

GitHub names a repository's ``clone_url`` (and ``html_url``) on its web host, not on its API
host (``https://github.com/Codertocat/Hello-World.git``); git, Git LFS and wikis are served
there too:

- ``https://api.github.com`` → ``https://github.com``;
- GitHub Enterprise Cloud with data residency, ``https://api.TENANT.ghe.com`` →
  ``https://TENANT.ghe.com``;
- GitHub Enterprise Server, ``https://HOST/api/v3`` → ``https://HOST``, and any API served at
  a host's root (the sandbox's GitHub serves its API and git on one server) → that host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DOTCOM_API = "api.github.com"
_TENANT_SUFFIX = ".ghe.com"


def git_origin(api_url: str) -> str:
    """The origin (``scheme://host[:port]``) of the git host of the GitHub at ``api_url``."""
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if host == _DOTCOM_API:
        return f"{parts.scheme}://github.com"
    if host.startswith("api.") and host.endswith(_TENANT_SUFFIX):
        return f"{parts.scheme}://{host.removeprefix('api.')}"
    return _origin(parts.scheme, host, parts.port)


def same_origin(url: str, origin: str) -> bool:
    """Whether ``url`` is on ``origin``: the same scheme, host (in any case) and port (a
    default port written out or left out alike)."""
    left, right = urlsplit(url), urlsplit(origin)
    try:
        return _key(left.scheme, left.hostname, left.port) == _key(
            right.scheme, right.hostname, right.port
        )
    except ValueError:  # a port out of range: no origin at all
        return False


def _key(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"
