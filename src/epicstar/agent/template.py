"""``epicstar agent init``: a commented config file with every setting, readable only by its
owner, and never a secret in it (the GitHub token stays in the environment)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from epicstar.agent.config import AgentSettings, default_data_dir
from epicstar.config import ENV_PREFIX

FILE_MODE = 0o600

_HELP: dict[str, str] = {
    "server_url": "The epicstar server to deliver to (required).",
    "api_key": "The server's key of scope `agent` (epicstar keys create --scope agent).",
    "github_token": "The GitHub token: it is read here and never sent to the server.",
    "github_api_url": "GitHub's REST API; change it for GitHub Enterprise.",
    "github_user": "Read someone's public stars instead of the token's user's stars.",
    "data_dir": "The agent's local state and bare caches.",
    "include": "Only stars whose owner/name matches one of these patterns.",
    "exclude": "Never stars whose owner/name matches one of these patterns.",
    "skip_forks": "Leave forks out.",
    "skip_archived": "Leave archived repositories out.",
    "max_size_mb": "Leave out repositories bigger than this (MiB, as GitHub reports).",
    "languages": "Only repositories in one of these languages.",
    "full_walk_interval": "Seconds between reads of the whole starred list (finds unstars).",
    "git_timeout": "Seconds one git command may take, plus git_timeout_per_mib per MiB.",
    "git_timeout_per_mib": "Extra seconds per MiB of repository for one git command.",
    "github_max_wait": "The longest wait for GitHub's rate limit (seconds).",
    "http_timeout": "Seconds one request to GitHub or the server may take.",
    "log_level": "debug, info, warning or error (the log file is in data_dir/logs).",
}
_EXAMPLES: dict[str, object] = {
    "server_url": "https://epicstar.example.com",
    "github_user": "octocat",
    "include": ["octocat/*", "*/awesome-*"],
    "exclude": ["*/dotfiles"],
    "max_size_mb": 500,
    "languages": ["Python", "Rust"],
}


class ConfigExists(Exception):
    """The config file exists and --force was not given."""


_FIRST = ("server_url", "api_key", "github_token", "github_api_url", "github_user", "data_dir")


def render_template() -> str:
    """The config file's text: every setting with its help; the secrets as references to
    their environment variables, the others commented out with their default or an example."""
    lines = [
        "# epicstar agent configuration (TOML).",
        f"# Each setting may also come from the environment as {ENV_PREFIX}<NAME>, which wins",
        f"# over this file; secrets also from the file named by {ENV_PREFIX}<NAME>_FILE.",
        "# Uncomment and edit what you need, then check with `epicstar agent test`.",
    ]
    secrets = set(AgentSettings.secret_fields())
    fields = AgentSettings.model_fields
    names = [*_FIRST, *(name for name in fields if name not in _FIRST)]
    for name in names:
        variable = f"{ENV_PREFIX}{name.upper()}"
        lines.append("")
        lines.append(f"# {_HELP.get(name, fields[name].description or name)}")
        if name in secrets:
            lines.append(
                '# Written as a reference to the environment variable holding it ("${NAME}"),'
            )
            lines.append(f"# never as the value itself; {variable}_FILE works too.")
            lines.append(f'{name} = "${{{variable}}}"')
            continue
        lines.append(f"# {name} = {_toml_value(_value_for(name, fields[name].default))}")
    return "\n".join(lines) + "\n"


def _value_for(name: str, default: object) -> object:
    if name in _EXAMPLES:
        return _EXAMPLES[name]
    if name == "data_dir":
        return str(default_data_dir())
    return default


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


def write_template(path: Path, *, force: bool) -> None:
    """Write :func:`render_template` to ``path`` with mode 0600; :class:`ConfigExists` if the
    file is there and ``force`` is false. The file is replaced whole or not at all."""
    path = path.expanduser()
    if path.exists() and not force:
        raise ConfigExists(f"{path} exists; give --force to replace it")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(render_template())
        if not force:
            os.link(temporary, path)  # fails if the file appeared meanwhile: never overwrite
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except FileExistsError:
        os.unlink(temporary)
        raise ConfigExists(f"{path} exists; give --force to replace it") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
