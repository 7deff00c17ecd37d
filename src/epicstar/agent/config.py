"""The agent's settings: the server's address and key, and what reading GitHub takes.

They are the server's own GitHub and filter settings (:class:`~epicstar.config.SourceSettings`)
plus the server to deliver to. Each comes from ``EPICSTAR_<NAME>``, then (secrets) from the
file ``EPICSTAR_<NAME>_FILE`` names, then from the agent's TOML config file under its name in
lower case (``server_url = "…"``); the environment wins.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from epicstar.config import ConfigError, SourceSettings, describe_problem, normalise_url

APP_DIR = "epicstar"
_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
CONFIG_NAME = "agent.toml"


def _xdg_home(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value) if value and Path(value).is_absolute() else Path.home() / fallback


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/epicstar/agent.toml`` (``~/.config/epicstar/agent.toml``)."""
    return _xdg_home("XDG_CONFIG_HOME", ".config") / APP_DIR / CONFIG_NAME


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/epicstar/agent`` (``~/.local/share/epicstar/agent``)."""
    return _xdg_home("XDG_DATA_HOME", ".local/share") / APP_DIR / "agent"


class AgentSettings(SourceSettings):
    data_dir: Path = Field(default_factory=default_data_dir)
    server_url: str | None = None
    api_key: SecretStr | None = None

    @field_validator("server_url", mode="before")
    @classmethod
    def _server_url(cls, value: Any) -> Any:
        return normalise_url(value) if isinstance(value, str) else value

    @field_validator("api_key", "github_token", mode="before")
    @classmethod
    def _secret_or_reference(cls, value: Any) -> Any:
        """``"${NAME}"`` stands for the environment variable ``NAME``; blank means unset."""
        if not isinstance(value, str):
            return value
        reference = _REFERENCE.fullmatch(value.strip())
        if reference is not None:
            value = os.environ.get(reference["name"], "")
        return value.strip() or None

    @classmethod
    def config_file(cls) -> Path | None:
        toml_file = cls.model_config.get("toml_file")
        return Path(str(toml_file)) if toml_file else None

    @property
    def state_database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'agent.db').resolve()}"

    def require_server(self) -> tuple[str, str]:
        """The server's URL and the agent key, or a ConfigError naming what is missing."""
        if not self.server_url:
            raise ConfigError(
                "EPICSTAR_SERVER_URL is not set: give the address of your epicstar server, "
                "e.g. https://epicstar.example.com"
            )
        if self.api_key is None:
            raise ConfigError(
                "EPICSTAR_API_KEY is not set: create a key on the server with "
                "`epicstar keys create --name laptop --scope agent` and export it"
            )
        return self.server_url, self.api_key.get_secret_value()

    def require_github_token(self) -> str:
        if self.github_token is None:
            raise ConfigError(
                "EPICSTAR_GITHUB_TOKEN is not set: the agent reads your stars and repositories "
                "with it (it never leaves this machine)"
            )
        return self.github_token.get_secret_value()

    def secrets(self) -> list[str]:
        """Every secret value, for redaction."""
        values = [self.github_token, self.api_key]
        return [value.get_secret_value() for value in values if value is not None]


def load_agent_settings(
    config_file: Path | None = None, *, required: bool = False
) -> AgentSettings:
    """Read the agent's settings from the environment and ``config_file`` (the default path
    when None). A missing file is an error only when ``required`` (it was named)."""
    path = (config_file or default_config_path()).expanduser()
    if path.exists() and not path.is_file():
        raise ConfigError(f"--config: {path} is not a file")
    if required and not path.is_file():
        raise ConfigError(f"--config: no such file: {path} (create it with `epicstar agent init`)")

    class FromFile(AgentSettings):
        model_config = SettingsConfigDict(toml_file=path if path.is_file() else None)

    try:
        return FromFile()
    except ValidationError as error:
        problems = "; ".join(describe_problem(dict(item)) for item in error.errors())
        raise ConfigError(problems) from None
    except ValueError as error:  # a malformed TOML file
        raise ConfigError(f"{path}: {error}") from None
