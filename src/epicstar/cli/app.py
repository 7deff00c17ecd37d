"""Command definitions; each command's work lives in its own module.

This module imports Typer alone: a command imports what it needs only when it runs, so that
``--help`` and every command start without loading the web, database and logging libraries.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from epicstar.config import Settings

# Plain help and usage errors, as click prints them: Typer's Rich panels load Rich and
# markdown-it, 80 ms of every `--help` and every mistyped option.
PLAIN: dict[str, Any] = {"rich_markup_mode": None}

app = typer.Typer(
    name="epicstar",
    help="Keep a private, always-current copy of your starred GitHub repositories in OneDev.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    **PLAIN,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, **PLAIN)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(
    help="API keys for the REST API (work with or without the server running).",
    no_args_is_help=True,
    **PLAIN,
)
app.add_typer(keys_app, name="keys")
agent_app = typer.Typer(
    help="Run where your GitHub token lives: fetch your stars here, deliver them to a server.",
    no_args_is_help=True,
    **PLAIN,
)
app.add_typer(agent_app, name="agent")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The agent's TOML config file (default: ~/.config/epicstar/agent.toml, "
        "under $XDG_CONFIG_HOME when set).",
        dir_okay=False,
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"epicstar: error: {message}", err=True)
    raise typer.Exit(code)


def settings_and_logs(*, service: bool = False) -> Settings:
    """The settings, with JSON logs: to the log file for commands, to stderr for services."""
    from epicstar.config import ConfigError, load_settings
    from epicstar.data_dir import prepare_data_dir
    from epicstar.logs import configure

    settings = load_settings()
    prepare_data_dir(settings.data_dir)
    log_file = settings.log_dir / "epicstar.log"
    try:
        configure(
            secrets=settings.secrets(),
            level=settings.log_level,
            log_file=None if service else log_file,
            stdlib=service,
        )
    except OSError as error:
        raise ConfigError(
            f"EPICSTAR_DATA_DIR: cannot open the log file {log_file}: {error.strerror or error}"
        ) from None
    return settings


@app.command()
def add(
    repository: Annotated[str, typer.Argument(metavar="OWNER/NAME", help="e.g. fastapi/fastapi")],
) -> None:
    """Track a GitHub repository; the next `epicstar sync` mirrors it."""
    from epicstar.cli.add_command import run_add

    run_add(settings_and_logs(), repository)


@app.command()
def method(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="[OWNER/NAME...] agent|server",
            help="Repositories (none with --all), then who fetches them from GitHub.",
            show_default=False,
        ),
    ],
    every: Annotated[bool, typer.Option("--all", help="Every tracked repository.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
) -> None:
    """Switch repositories between the server's workers and an agent (`epicstar agent`)."""
    from epicstar.cli.method_command import parse_request, run_method

    request = parse_request(words, every=every)
    run_method(settings_and_logs(), request, dry_run=dry_run)


@app.command()
def sync(
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch and push even when nothing changed.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Also retry permanent failures.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be created, updated, moved or deleted."),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Read the whole starred list (finds unstars).")
    ] = False,
    due_only: Annotated[
        bool,
        typer.Option("--due-only", help="Only repositories whose refresh is due (for cron)."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON document on stdout (progress goes to stderr)."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=64,
            help="Passes at once (EPICSTAR_JOBS; default 4 per CPU, at most 16).",
        ),
    ] = None,
) -> None:
    """Poll your stars, then mirror every tracked repository; exit 0 only if all are up to date."""
    from epicstar.cli.sync_command import run_dry_run, run_sync_command

    settings = settings_and_logs()
    if jobs is not None:  # in the settings, so the database's pool is sized for them too
        settings = settings.model_copy(update={"jobs": jobs})
    run = run_dry_run if dry_run else run_sync_command
    code = run(
        settings,
        force=force,
        retry_failed=retry_failed,
        full=full,
        due_only=due_only,
        as_json=as_json,
    )
    raise typer.Exit(code)


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only repositories in this state.")
    ] = None,
) -> None:
    """Show every tracked repository and how its last pass went."""
    from epicstar.cli.status_command import run_status

    run_status(settings_and_logs(), as_json=as_json, states=state or [])


RepositoryArgument = Annotated[
    str, typer.Argument(metavar="OWNER/NAME", help="A tracked repository, e.g. fastapi/fastapi.")
]


@app.command()
def history(
    repository: RepositoryArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
) -> None:
    """List what GitHub overwrote or deleted in a repository (old tips kept), newest first."""
    from epicstar.cli.rewrite_commands import run_history

    run_history(settings_and_logs(), repository, as_json=as_json)


@app.command()
def approve(repository: RepositoryArgument) -> None:
    """Apply the rewrites held back by EPICSTAR_REWRITE_POLICY=hold, with a pass now."""
    from epicstar.cli.rewrite_commands import run_approve

    raise typer.Exit(run_approve(settings_and_logs(), repository))


@app.command()
def restore(
    repository: RepositoryArgument,
    rewrite_id: Annotated[
        int, typer.Argument(metavar="REWRITE_ID", help="The id `epicstar history` shows.")
    ],
    branch: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="BRANCH",
            help="The branch to create in OneDev (default: epicstar/rewritten/<time>/<ref>).",
        ),
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Delete the branch an earlier restore made.")
    ] = False,
) -> None:
    """Push an old tip GitHub overwrote to OneDev as a branch; later passes leave it alone."""
    from epicstar.cli.rewrite_commands import run_restore

    if remove and branch is not None:
        fail("--remove takes no --as: it removes the branch the rewrite was restored as")
    run_restore(settings_and_logs(), repository, rewrite_id, branch=branch, remove=remove)


@app.command()
def worker(
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="Concurrent jobs (EPICSTAR_WORKERS)."),
    ] = None,
) -> None:
    """Run background jobs from the queue (EPICSTAR_QUEUE_URL) until stopped."""
    settings = settings_and_logs(service=True)
    from epicstar.service.worker import run_worker

    count = workers or settings.workers
    if count < 1:
        fail("epicstar worker needs at least one worker (EPICSTAR_WORKERS or --workers)")
    # In the settings, as `serve` does, so the database's pool is sized for them too.
    run_worker(settings.model_copy(update={"workers": count}), workers=count)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (EPICSTAR_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="Port to listen on (EPICSTAR_PORT)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="Passes at once (EPICSTAR_WORKERS); 0: only record and queue, for workers "
            "elsewhere.",
        ),
    ] = None,
) -> None:
    """Run the service: webhooks, health, metrics, and the workers, until stopped."""
    settings = settings_and_logs(service=True)
    from epicstar.service.serve import run_serve

    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    run_serve(settings, host=host or settings.host, port=settings.port if port is None else port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring its schema up to date."""
    from epicstar.cli.status_command import run_db_upgrade

    run_db_upgrade(settings_and_logs())


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The new file to write the copy to.")],
) -> None:
    """Copy the SQLite database to PATH, consistent even while the service runs (PostgreSQL:
    the pg_dump command to use is printed)."""
    from epicstar.cli.db_command import run_db_backup

    run_db_backup(settings_and_logs(), path)


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="A copy made by `epicstar db backup`.")],
) -> None:
    """Put a backup in place of the SQLite database, keeping the replaced one beside it, and
    bring its schema up to date. Stop the service first."""
    from epicstar.cli.db_command import run_db_restore

    run_db_restore(settings_and_logs(), path)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. 'phone'.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, write, admin, agent or feed; repeat for several."),
    ],
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="Lifetime: 90d, 12h, 30m or 45s (default: none)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object, with the key, on stdout.")
    ] = False,
) -> None:
    """Create an API key; it is printed once, alone on the last line."""
    from epicstar.auth.store import parse_expiry
    from epicstar.cli.keys_command import run_create

    try:
        lifetime = parse_expiry(expires_in) if expires_in is not None else None
    except ValueError as error:
        fail(f"--expires-in: {error}")
    run_create(settings_and_logs(), name=name, scopes=scope, expires_in=lifetime, as_json=as_json)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array instead of a table.")
    ] = False,
) -> None:
    """List API keys (never the keys themselves)."""
    from epicstar.cli.keys_command import run_list

    run_list(settings_and_logs(), as_json=as_json)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="ID_OR_PREFIX", help="The key's id or prefix.")],
) -> None:
    """Revoke an API key: every server refuses it from the next request on."""
    from epicstar.cli.keys_command import run_revoke

    run_revoke(settings_and_logs(), key)


@app.command()
def demo(
    directory: Annotated[
        str, typer.Option("--dir", help="Where the demo keeps its data.")
    ] = "demo-data",
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then run the service and its dashboard on the demo's data until Ctrl+C.",
        ),
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="With --serve: the port on 127.0.0.1 (0: any free one).",
        ),
    ] = 8000,
) -> None:
    """Mirror sample repositories between local GitHub and OneDev stand-ins (no accounts)."""
    from epicstar.cli.demo_command import run_demo

    raise typer.Exit(run_demo(directory, serve=serve, port=port))


@agent_app.command("init")
def agent_init(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a commented config file with every setting (mode 0600, no secret in it)."""
    from epicstar.cli.agent_command import run_init

    raise typer.Exit(run_init(config, force=force))


@agent_app.command("test")
def agent_test(config: ConfigOption = None) -> None:
    """Check the server, the agent key and the GitHub token; exit 0 only if all three pass."""
    from epicstar.cli.agent_command import run_test

    raise typer.Exit(run_test(config))


@agent_app.command("sync")
def agent_sync(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Say what would be delivered; change nothing on the server."
        ),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Read the whole starred list (finds unstars).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document on stdout, no progress.")
    ] = False,
) -> None:
    """Poll your stars, deliver what changed to the server; exit 0 only if all was delivered."""
    from epicstar.cli.agent_command import run_sync

    raise typer.Exit(run_sync(config, dry_run=dry_run, full=full, as_json=as_json))


def main(argv: list[str] | None = None) -> None:
    try:
        _run(lambda: app(args=argv, prog_name="epicstar", standalone_mode=True))
    finally:
        # The process ends now. Python's shutdown would walk every object the imports made
        # (a hundred thousand and more) in several garbage collections, about a second of
        # CPU here; frozen, they are freed as their references go, and the rest by the OS.
        gc.freeze()


def _run(action: Callable[[], object]) -> None:
    try:
        action()
    except KeyboardInterrupt:
        typer.echo("epicstar: interrupted", err=True)
        sys.exit(130)
    except Exception as error:
        from epicstar.cli.errors import user_error_message

        message = user_error_message(error)
        if message is None:
            raise
        typer.echo(f"epicstar: error: {message}", err=True)
        sys.exit(2)
