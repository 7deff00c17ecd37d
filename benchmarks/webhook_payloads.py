"""The deliveries the webhook benchmark sends, shaped like GitHub's.

Push payloads carry what GitHub sends for a one-commit push (ref, before, after, the
repository object with epoch ``created_at``/``pushed_at``, pusher, sender, commits,
head_commit); star payloads are ``star`` ``created`` events. The repository objects start from
the sandbox's ``GET /repos/{owner}/{name}`` answer and get the URL templates GitHub's
objects carry besides, so bodies are about as large as real ones (6-8 KB).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from benchmarks.webhook_load import Template
from epicstar.web.signatures import sign

# The URL templates of GitHub's repository objects that the sandbox leaves out.
_REPOSITORY_URLS = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}
_USER_URLS = {
    "followers_url": "/followers",
    "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions",
    "organizations_url": "/orgs",
    "repos_url": "/repos",
    "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}
GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"


def user(login: str, user_id: int) -> dict[str, Any]:
    """A ``sender`` object as GitHub writes it."""
    api = f"{GITHUB_API}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_bench{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{GITHUB_WEB}/{login}",
        **{key: api + suffix for key, suffix in _USER_URLS.items()},
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def webhook_repository(api_repository: Mapping[str, Any]) -> dict[str, Any]:
    """The repository object of a webhook payload, from the REST API's answer."""
    repository = dict(api_repository)
    repository.pop("permissions", None)
    api = f"{GITHUB_API}/repos/{repository['full_name']}"
    for key, suffix in _REPOSITORY_URLS.items():
        repository.setdefault(key, api + suffix)
    return repository


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _epoch(value: Any) -> Any:
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return value


def push(api_repository: Mapping[str, Any], pusher: Mapping[str, Any]) -> dict[str, Any]:
    """A one-commit push to the default branch (push payloads use epoch times)."""
    repository = webhook_repository(api_repository)
    repository["created_at"] = _epoch(repository.get("created_at"))
    repository["pushed_at"] = _epoch(repository.get("pushed_at"))
    repository["stargazers"] = repository.get("stargazers_count", 0)
    repository["master_branch"] = repository.get("default_branch", "main")
    full_name, branch = repository["full_name"], repository["master_branch"]
    before, after = _sha(full_name, "before"), _sha(full_name, "after")
    author = {
        "name": pusher["login"],
        "email": f"{pusher['id']}+{pusher['login']}@users.noreply.github.com",
        "username": pusher["login"],
    }
    commit = {
        "id": after,
        "tree_id": _sha(full_name, "tree"),
        "distinct": True,
        "message": "Update README.md",
        "timestamp": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "url": f"{GITHUB_WEB}/{full_name}/commit/{after}",
        "author": author,
        "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": author["name"], "email": author["email"]},
        "sender": dict(pusher),
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{GITHUB_WEB}/{full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": [commit],
        "head_commit": commit,
    }


def star(api_repository: Mapping[str, Any], sender: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "action": "created",
        "starred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "repository": webhook_repository(api_repository),
        "sender": dict(sender),
    }


def template(event: str, payload: Mapping[str, Any], secret: bytes) -> Template:
    """The delivery's body as GitHub serialises it, and its signature."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Template(event=event, body=body, signature=sign(secret, body))
