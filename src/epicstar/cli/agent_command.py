"""``epicstar agent init|test|sync``: the agent's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from epicstar.agent.checks import run_checks
from epicstar.agent.config import AgentSettings, default_config_path, load_agent_settings
from epicstar.agent.report import document, line_hooks, progress_hooks, summary_line
from epicstar.agent.run import run_agent_sync
from epicstar.agent.template import ConfigExists, write_template
from epicstar.config import ConfigError
from epicstar.data_dir import prepare_data_dir
from epicstar.logs import configure


def agent_settings(config: Path | None) -> AgentSettings:
    """The settings, from ``config`` (it must exist when named) or the default file."""
    return load_agent_settings(config, required=config is not None)


def run_init(config: Path | None, *, force: bool) -> int:
    path = (config or default_config_path()).expanduser()
    try:
        write_template(path, force=force)
    except ConfigExists as error:
        print(f"epicstar: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path} (readable only by you); edit server_url, then run `epicstar agent test`")
    return 0


def run_test(config: Path | None) -> int:
    checks = run_checks(agent_settings(config))
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


def run_sync(config: Path | None, *, dry_run: bool, full: bool, as_json: bool) -> int:
    settings = agent_settings(config)
    _logs(settings)
    console = Console(highlight=False)
    if as_json:
        report = run_agent_sync(settings, dry_run=dry_run, full=full)
    elif console.is_terminal:
        with progress_hooks(console) as hooks:
            report = run_agent_sync(settings, dry_run=dry_run, full=full, hooks=hooks)
    else:
        report = run_agent_sync(settings, dry_run=dry_run, full=full, hooks=line_hooks())
    if as_json:
        print(json.dumps(document(report), indent=2))
    elif report.aborted:
        print(f"epicstar: error: {report.aborted}", file=sys.stderr)
    else:
        print(summary_line(report))
    return report.exit_code


def _logs(settings: AgentSettings) -> None:
    prepare_data_dir(settings.data_dir)
    log_file = settings.log_dir / "agent.log"
    try:
        configure(secrets=settings.secrets(), level=settings.log_level, log_file=log_file)
    except OSError as error:
        raise ConfigError(
            f"EPICSTAR_DATA_DIR: cannot open the log file {log_file}: {error.strerror or error}"
        ) from None
