"""HTTP credentials for git, handed over in the environment and scoped to one origin."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HttpAuth:
    """An ``Authorization`` header that git sends only to ``origin``.

    The value travels as ``http.<origin>/.extraHeader`` through ``GIT_CONFIG_*`` environment
    variables: never in argv, a remote URL or a config file. ``repr`` never shows it.
    """

    origin: str
    header: str = field(repr=False)

    @classmethod
    def basic(cls, url: str, password: str, user: str = "x-access-token") -> HttpAuth:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return cls(origin_of(url), f"Authorization: Basic {pair}")

    @classmethod
    def bearer(cls, url: str, token: str) -> HttpAuth:
        return cls(origin_of(url), f"Authorization: Bearer {token}")

    def git_config(self) -> dict[str, str]:
        return {f"http.{self.origin}/.extraHeader": self.header}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {strip_userinfo(url)}")
    if parts.username or parts.password:
        raise ValueError("URLs with embedded credentials are refused; use the token settings")
    return f"{parts.scheme}://{parts.netloc}"


def strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=host).geturl()
