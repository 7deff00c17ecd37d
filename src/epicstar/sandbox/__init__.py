"""Local stand-ins for GitHub and OneDev that speak the real protocols (REST + git smart HTTP).

Used by end-to-end tests, ``epicstar demo`` and benchmarks.  Entry points:

* :class:`Sandbox` - both fakes served by uvicorn on free local ports (context manager).
* :class:`FakeGitHub` / :class:`FakeOneDev` - the state objects (with ``.app`` ASGI apps).
"""

from epicstar.sandbox.github import FakeGitHub
from epicstar.sandbox.github_model import GitHubRepo, RateLimit
from epicstar.sandbox.lfs import lfs_pointer
from epicstar.sandbox.onedev import FakeOneDev, Principal, Role
from epicstar.sandbox.reqlog import LoggedRequest, RequestLog
from epicstar.sandbox.server import Sandbox, serve

__all__ = [
    "FakeGitHub",
    "FakeOneDev",
    "GitHubRepo",
    "LoggedRequest",
    "Principal",
    "RateLimit",
    "RequestLog",
    "Role",
    "Sandbox",
    "lfs_pointer",
    "serve",
]
