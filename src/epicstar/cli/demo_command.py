"""``epicstar demo``: the real engine between local GitHub and OneDev stand-ins, no accounts."""

from __future__ import annotations

import secrets
import shlex
import shutil
import sys
from pathlib import Path

from epicstar.auth.scopes import Scope
from epicstar.auth.store import create_key
from epicstar.cli.formatting import summary_line
from epicstar.cli.status_command import print_table
from epicstar.cli.sync_command import sync_with_report
from epicstar.config import Settings, load_settings
from epicstar.logs import configure
from epicstar.sandbox import Role, Sandbox
from epicstar.sandbox.github import FakeGitHub
from epicstar.service.serve import run_serve
from epicstar.state import repositories
from epicstar.state.audit import CLI
from epicstar.state.database import open_database
from epicstar.state.models import RepoState
from epicstar.sync.context import SyncContext, open_context

DEMO_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

SAMPLES = (
    "demo-org/website",
    "octocat/.github",
    "demo-org/private-notes",
    "alice/empty-idea",
    "alice/dotfiles",
    "bob/dotfiles",
)

DEMO_LOGO = b"\x89PNG\r\n\x1a\n demo logo, stored with Git LFS\n"


def _create_samples(github: FakeGitHub) -> None:
    github.create_repo("demo-org", "website", description="A static website", default_branch="main")
    base = github.commit("demo-org/website", "main", {"index.html": "<h1>Hello</h1>\n"}, "Home")
    github.commit("demo-org/website", "gh-pages", {"CNAME": "example.com\n"}, "Pages", parent=base)
    github.tag("demo-org/website", "v1.0", base, annotated=True, message="First release")
    github.tag("demo-org/website", "v1.1", base, annotated=False)
    github.commit_lfs("demo-org/website", "main", {"assets/logo.png": DEMO_LOGO}, "Logo (Git LFS)")
    github.create_wiki("demo-org/website", {"Home.md": "# Website\n\nHow the site is built.\n"})
    github.create_repo("octocat", ".github", description="Community health files")
    github.create_repo(
        "demo-org", "private-notes", private=True, description="Private: needs the token"
    )
    github.create_repo("alice", "empty-idea", empty=True, description="No commits yet")
    github.create_repo("alice", "dotfiles", description="Alice's dotfiles")
    github.create_repo("bob", "dotfiles", description="Bob's dotfiles", default_branch="trunk")


def _change_upstream(github: FakeGitHub) -> None:
    refs = github.refs("demo-org/website")
    github.commit("demo-org/website", "main", {"about.html": "<p>About</p>\n"}, "About page")
    rewritten = github.commit(
        "demo-org/website",
        "rewrite",
        {"CNAME": "www.example.com\n"},
        "New domain",
        parent=refs["refs/heads/main"],
    )
    github.reset_branch("demo-org/website", "gh-pages", rewritten)  # a force-push
    github.delete_branch("demo-org/website", "rewrite")
    github.delete_tag("demo-org/website", "v1.1")
    github.tag("demo-org/website", "v2.0", "main", annotated=True, message="Second release")
    github.commit("alice/empty-idea", "main", {"IDEA.md": "# The idea\n"}, "First commit")
    github.rename("octocat/.github", "octocat/community")
    github.create_repo("carol", "new-star", description="Starred since the last sync")


def _change_stars(github: FakeGitHub, login: str) -> None:
    github.star(login, "carol/new-star")
    github.unstar(login, "alice/dotfiles")
    github.delete("bob/dotfiles")


def _program() -> str:
    """How this command was invoked, so the hint works without the venv on PATH."""
    invoked = Path(sys.argv[0])
    if invoked.name == "epicstar" and invoked.parent != Path():
        return shlex.quote(str(invoked))
    return "epicstar"


def _heading(text: str) -> None:
    print(f"\n== {text}")


def _verify(ctx: SyncContext, sandbox: Sandbox) -> bool:
    """Compare every mirror's branches and tags with its source's, ref by ref."""
    exact = True
    with ctx.db.session() as session:
        rows = repositories.listing(session)
    for row in rows:
        if row.onedev_path is None:
            continue
        if row.state != RepoState.ACTIVE:
            refs = len(sandbox.onedev.refs(row.onedev_path))
            print(
                f"  {row.full_name:24} -> {row.onedev_path:40} {refs:2} refs  "
                f"kept as it was ({row.state})"
            )
            continue
        wanted = ("refs/heads/", "refs/tags/")
        source = {
            k: v for k, v in sandbox.github.refs(row.full_name).items() if k.startswith(wanted)
        }
        mirror = sandbox.onedev.refs(row.onedev_path)
        same = {k: v for k, v in mirror.items() if k.startswith(wanted)} == source
        pulls = [name for name in mirror if name.startswith("refs/pull/")]
        exact = exact and same and not pulls
        verdict = "exact" if same and not pulls else "DIFFERENT"
        print(f"  {row.full_name:24} -> {row.onedev_path:40} {len(source):2} refs  {verdict}")
    return exact


def _serve(
    settings: Settings, sandbox: Sandbox, github_token: str, onedev_token: str, port: int
) -> None:
    """The service, as ``epicstar serve`` runs it, on the demo's data, until Ctrl+C or SIGTERM."""
    sandbox.github.create_repo("demo-org", "star-me", description="Not starred yet")
    key = _admin_key(settings)

    def announce(url: str) -> None:
        print(
            f"\nDashboard: {url}/  (sign in with this key: {key})\n"
            f"Serving until Ctrl+C (the tokens and the key are this demo's, throwaway).\n"
            f"Clone a mirror:\n"
            f"  git -c http.extraHeader='Authorization: Bearer {onedev_token}' clone "
            f"{sandbox.onedev_url}/github/demo-org/website.git\n"
            f"Star a repository and watch it arrive (stars are polled every "
            f"{settings.poll_interval} s):\n"
            f"  curl -X PUT -H 'Authorization: token {github_token}' "
            f"{sandbox.github_api_url}/user/starred/demo-org/star-me\n"
            f"  curl -s {url}/metrics | grep epicstar_repositories",
            flush=True,
        )

    run_serve(settings, host=DEMO_HOST, port=port, on_listening=announce)
    print("stopped", flush=True)


def _admin_key(settings: Settings) -> str:
    """A new admin API key named "demo", made and audited as ``epicstar keys create`` does."""
    database = open_database(settings)
    try:
        with database.session() as session:
            _row, new = create_key(
                session, name="demo", scopes=[Scope.ADMIN], expires_in=None, actor=CLI
            )
    finally:
        database.dispose()
    return new.full


def run_demo(directory: str, *, serve: bool, port: int = DEFAULT_PORT) -> int:
    root = Path(directory).resolve()
    for part in ("sandbox", "data"):
        shutil.rmtree(root / part, ignore_errors=True)
    github_token = f"demo_gh_{secrets.token_hex(8)}"
    onedev_token = f"demo_od_{secrets.token_hex(8)}"
    with Sandbox(
        root / "sandbox", github_tokens=[github_token], onedev_tokens={onedev_token: Role.ADMIN}
    ) as sandbox:
        settings = load_settings(
            data_dir=root / "data",
            database_url=f"sqlite:///{root / 'data' / 'epicstar.db'}",
            github_api_url=sandbox.github_api_url,
            github_token=github_token,
            onedev_url=sandbox.onedev_url,
            onedev_token=onedev_token,
            onedev_parent="github",
            github_max_wait=5,
            poll_interval=10,  # with --serve, a new star arrives within seconds
        )
        configure(
            secrets=settings.secrets(),
            level="info",
            log_file=settings.log_dir / "epicstar.log",
            stdlib=serve,  # the service's uvicorn and Huey log there too, not on the terminal
        )
        print(f"Sandbox GitHub at {sandbox.github_url}, sandbox OneDev at {sandbox.onedev_url}")
        _create_samples(sandbox.github)
        login = sandbox.github.tokens[github_token].login
        sandbox.github.star_many(login, SAMPLES)
        with open_context(settings) as ctx:
            _heading(
                f"First sync: {login}'s {len(SAMPLES)} stars are found, each gets its OneDev "
                "project and an exact copy"
            )
            first = sync_with_report(ctx, poll=True)
            print(summary_line(first))

            _heading(
                "Upstream changes: a new commit, a force-push, a deleted and a new tag, a first "
                "commit in the empty repository, a rename; a new star, an unstar, a deletion"
            )
            _change_upstream(sandbox.github)
            _change_stars(sandbox.github, login)
            second = sync_with_report(ctx, poll=True, full_walk=True)
            print(summary_line(second))

            _heading(
                "Nothing changed: the star list and each repository cost one free conditional "
                "request, plus one ls-remote per repository"
            )
            sandbox.github.clear_log()
            sandbox.onedev.clear_log()
            budget = sandbox.github.rate_limit(github_token).remaining
            third = sync_with_report(ctx, poll=True)
            print(summary_line(third))
            metadata = sandbox.github.count(git=False, path_prefix="/repos/")
            used = budget - sandbox.github.rate_limit(github_token).remaining
            print(
                f"  repository metadata requests: {metadata} "
                f"({sandbox.github.count(path_prefix='/repos/', status=304)} answered 304); "
                f"GitHub rate limit used: {used}; "
                f"git requests to GitHub: {sandbox.github.count(git=True)}; "
                f"pushes to OneDev: {sandbox.onedev.count(git_service='git-receive-pack')}"
            )

            _heading("Mirrors compared ref by ref with their sources")
            exact = _verify(ctx, sandbox)
            _heading("epicstar status")
            with ctx.db.session() as session:
                print_table(repositories.listing(session))
        ok = first.ok and second.ok and third.ok and exact
        website = sandbox.onedev.repo_dir("github/demo-org/website")
        _heading("Where to look")
        print(f"  OneDev's copy of demo-org/website: git --git-dir={website} log --oneline --all")
        print(f"  epicstar's database, caches and JSON logs: {root / 'data'}")
        print(f"  the same status again: EPICSTAR_DATA_DIR={root / 'data'} {_program()} status")
        if serve:
            _serve(settings, sandbox, github_token, onedev_token, port)
    return 0 if ok else 1
