"""The wiki part of a pass: a repository's GitHub wiki, mirrored to its child project ``wiki``.

GitHub keeps a wiki in a git repository of its own (``<repository>.wiki.git``) that exists
only once the wiki has a page. An edit moves neither the repository's ``pushed_at`` nor its
refs, so the wiki's refs are compared on their own: one ``ls-remote`` a pass for a
repository whose wiki is mirrored, none when GitHub says the wiki is turned off, and at most
one a day for a repository seen without one. A wiki that disappears keeps its mirror, as a
deleted repository does. The child project inherits the repository project's access, so a
private repository's wiki is never more visible than its code.

Repositories in ``agent`` mode have no wiki mirrored: the server holds no GitHub token for
them, and their agent pushes only the code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from epicstar.mirror.cache import Advertisement, Refs, RepoCache
from epicstar.mirror.credentials import HttpAuth
from epicstar.mirror.process import GitError
from epicstar.mirror.rewrites import WIKI_REFS, Rewrite, find_rewrites, preserve
from epicstar.state.models import Repository, SyncMethod, WikiState
from epicstar.sync.context import SyncContext
from epicstar.sync.failures import ProjectConflict
from epicstar.sync.placement import adoptable
from epicstar.sync.restore import restored_branches
from epicstar.sync.steps import PushTarget, ensure_default_branch, git_step, push_refs
from epicstar.sync.visibility import check_private_project

WIKI_PROJECT = "wiki"
LOOK_AGAIN = timedelta(days=1)
"""How long a repository seen without a wiki waits before GitHub is asked again."""
FALLBACK_BRANCHES = ("master", "main")
"""The wiki's default branch when GitHub does not say which branch its HEAD names."""


def wiki_url(clone_url: str) -> str:
    """The git URL of a repository's wiki, from the repository's ``clone_url``."""
    return clone_url.removesuffix(".git") + ".wiki.git"


def wiki_marker(github_id: int) -> str:
    """The line that marks a OneDev project as epicstar's mirror of one repository's wiki."""
    return f"(epicstar wiki mirror, GitHub id {github_id})"


def mirror_wiki(
    ctx: SyncContext, repo: Repository, *, kept: list[Rewrite], force: bool = False
) -> int | None:
    """Mirror ``repo``'s wiki when it is due (its code is mirrored already); how many of the
    wiki mirror's refs changed, or None when GitHub was not asked or has no wiki.

    With ``force`` GitHub is asked whenever the wiki is turned on, and the wiki is fetched
    and pushed even when its refs look unchanged. What the fetch overwrote is kept in the
    wiki's cache, as for the code, and added to ``kept`` with refs named ``wiki:refs/…``.
    """
    if not ctx.settings.wikis or repo.sync_method != SyncMethod.SERVER:
        return None
    if repo.clone_url is None or repo.onedev_project_id is None:
        return None
    if repo.has_wiki is False:
        _not_there(repo)
        return None
    if not force and not _due(ctx, repo):
        return None
    url = wiki_url(repo.clone_url)
    auth = ctx.github_auth(url)
    # Asked from the repository's own cache, whose git config is git's default.
    code_cache = ctx.cache(repo.github_id, repo.size_kb)
    advertised = git_step(ctx, "wiki ls-remote", lambda: _look(code_cache, url, auth))
    repo.wiki_checked_at = ctx.clock()
    if advertised is None:
        _not_there(repo)
        return None
    if repo.private and repo.wiki_project_id is not None:
        check_private_project(ctx.onedev, repo.wiki_project_id, repo.full_name)
    if not force and repo.wiki_project_id is not None and advertised.refs == repo.wiki_refs:
        repo.wiki_state = WikiState.MIRRORED
        return 0
    return _transfer(ctx, repo, url, auth, advertised, kept=kept)


def _due(ctx: SyncContext, repo: Repository) -> bool:
    """A mirrored wiki is compared on every pass; a missing one is looked for once a day."""
    if repo.wiki_state == WikiState.MIRRORED:
        return True
    checked = repo.wiki_checked_at
    return checked is None or ctx.clock() - checked >= LOOK_AGAIN


def _look(cache: RepoCache, url: str, auth: HttpAuth | None) -> Advertisement | None:
    """What the wiki's repository advertises; None when there is none (or it is empty)."""
    try:
        advertised = cache.advertisement(url, auth)
    except GitError as error:
        # Without a token, GitHub asks for credentials rather than say that a repository is
        # not there; a public repository's wiki would be served to anyone.
        if error.no_such_repository or (auth is None and error.credentials_wanted):
            return None
        raise
    return advertised if advertised.refs else None


def _not_there(repo: Repository) -> None:
    """GitHub has no wiki for ``repo``: a mirrored one is kept as it was."""
    if repo.wiki_state in (WikiState.MIRRORED, WikiState.GONE):
        repo.wiki_state = WikiState.GONE
    else:
        repo.wiki_state = WikiState.ABSENT


def _transfer(
    ctx: SyncContext,
    repo: Repository,
    url: str,
    auth: HttpAuth | None,
    advertised: Advertisement,
    *,
    kept: list[Rewrite],
) -> int:
    target = _wiki_project(ctx, repo)
    target.keep = restored_branches(ctx, repo.github_id, wiki=True)
    if target.project_id != repo.wiki_project_id or target.created:
        repo.wiki_refs = None  # a new or adopted project: nothing in it can be assumed
    repo.wiki_project_id, repo.wiki_path = target.project_id, target.path
    cache = ctx.wiki_cache(repo.github_id)
    with cache.locked(wait=ctx.lease.total_seconds()):
        cache.ensure()
        before = cache.local_refs()
        git_step(ctx, "wiki fetch", lambda: cache.fetch(url, auth))
        after = cache.local_refs()
        kept.extend(_keep_rewrites(ctx, cache, before, after))
        target.default_branch = _default_branch(advertised, after)
        try:
            changed = push_refs(ctx, cache, target, after, step="wiki push")
            ensure_default_branch(ctx, target, after)
        finally:
            repo.wiki_onedev_default_branch = target.head
    now = ctx.clock()
    repo.wiki_refs = after
    repo.wiki_state = WikiState.MIRRORED
    repo.wiki_synced_at = repo.wiki_checked_at = now
    return changed


def _keep_rewrites(ctx: SyncContext, cache: RepoCache, before: Refs, after: Refs) -> list[Rewrite]:
    """What the wiki's fetch overwrote, kept in its cache; named ``wiki:refs/…``. Whether the
    whole history was rewritten is the code's to say."""
    found = [replace(r, whole_repository=False) for r in find_rewrites(cache, before, after)]
    if not found:
        return []
    kept = preserve(cache, found, ctx.clock(), label=WIKI_REFS)
    return [replace(r, ref=f"{WIKI_REFS}{r.ref}") for r in kept]


def _wiki_project(ctx: SyncContext, repo: Repository) -> PushTarget:
    """The child project ``wiki`` of the repository's project: the one stored while it is
    still there, else the one at its path (if epicstar made it, or it is empty), else a new
    one."""
    parent_id = repo.onedev_project_id
    assert parent_id is not None  # the code is mirrored first
    path = f"{repo.onedev_path}/{WIKI_PROJECT}"
    head = repo.wiki_onedev_default_branch
    if repo.wiki_project_id is not None:
        project = ctx.onedev.get_project(repo.wiki_project_id)
        if project is not None and project.get("parentId") == parent_id:
            stored_path = str(project.get("path") or path)
            return PushTarget(repo.wiki_project_id, stored_path, None, head)
    found = ctx.onedev.find_project_id(path)
    if found is not None:
        if not adoptable(ctx.onedev, found, wiki_marker(repo.github_id)):
            raise ProjectConflict(
                f"OneDev project '{path}' already exists, was not created by epicstar and is "
                "not empty; epicstar will not push the wiki into it. Move or delete it in "
                "OneDev, then run epicstar sync --retry-failed"
            )
        if repo.private:
            check_private_project(ctx.onedev, found, repo.full_name)
        return PushTarget(found, path, None, None)
    description = f"Wiki of {repo.full_name} on GitHub {wiki_marker(repo.github_id)}"
    created = ctx.onedev.create_project(WIKI_PROJECT, parent_id, description=description)
    return PushTarget(created, path, None, None, created=True)


def _default_branch(advertised: Advertisement, refs: Refs) -> str | None:
    """The branch GitHub's wiki HEAD names, else ``master`` or ``main`` if there is one."""
    for branch in (advertised.head, *FALLBACK_BRANCHES):
        if branch and f"refs/heads/{branch}" in refs:
            return branch
    return None
