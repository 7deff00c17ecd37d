"""Settings from environment variables (``EPICSTAR_*``) and an optional TOML file.

Environment variables win over secrets' files (``EPICSTAR_<NAME>_FILE``), which win over the
file named by ``EPICSTAR_CONFIG``. Every problem is reported as a :class:`ConfigError` whose
message names the variable to fix.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from epicstar.auth.scopes import parse_scopes

ENV_PREFIX = "EPICSTAR_"
_RATE = re.compile(
    r"\s*(?P<amount>[0-9]{1,9})\s*(?:/|per)\s*(?P<every>[0-9]{1,6})?\s*"
    r"(?:second|minute|hour|day)s?\s*",
    re.IGNORECASE,
)
"""``EPICSTAR_API_RATE_LIMIT``: one rate, in the notation of the ``limits`` library."""
CONFIG_FILE_VARIABLE = "EPICSTAR_CONFIG"
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")


def default_jobs() -> int:
    """Passes at once for ``epicstar sync``: mostly waiting on two servers, so several per
    CPU, but few enough that a run of first mirrors does not swamp a small machine."""
    return min(16, 4 * (os.cpu_count() or 1))


SECRET_BEARING = frozenset({"database_url", "queue_url", "notify_urls"})
"""Settings that are no secret as such but whose values often hold one (a database's
password, a notification service's token): they are read from files too."""


class ConfigError(Exception):
    """The configuration is missing something or holds a malformed value."""


def normalise_url(value: str | None) -> str | None:
    if value is None:
        return None
    url = value.strip().rstrip("/")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


class SourceSettings(BaseSettings):
    """What reading GitHub takes: the settings the server and the agent share.

    Every secret can also be given as the name of a file holding it
    (``EPICSTAR_<NAME>_FILE``), for container secrets and files only their owner reads.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Path("data")

    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_user: str | None = None

    git_timeout: int = Field(default=300, ge=5, description="base seconds for one git command")
    git_timeout_per_mib: float = Field(default=2.0, ge=0)
    github_max_wait: int = Field(default=900, ge=0)
    http_timeout: float = Field(
        default=30.0, gt=0, description="seconds one GitHub or OneDev API request may take"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    full_walk_interval: int = Field(default=86400, ge=60, description="seconds between walks")

    include: Annotated[list[str], NoDecode] = []
    exclude: Annotated[list[str], NoDecode] = []
    skip_forks: bool = False
    skip_archived: bool = False
    max_size_mb: int | None = Field(default=None, ge=1)
    languages: Annotated[list[str], NoDecode] = []

    @field_validator("github_api_url", mode="before")
    @classmethod
    def _api_url(cls, value: Any) -> Any:
        return normalise_url(value) if isinstance(value, str) else value

    @field_validator("include", "exclude", "languages", mode="before")
    @classmethod
    def _filter_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("github_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: Any) -> Any:
        return _secret(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then secrets' files, then the config file (if any)."""
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            SecretFiles(settings_cls),
        ]
        config_file = cls.config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @classmethod
    def config_file(cls) -> Path | None:
        """The TOML file read after the environment; None: none."""
        return None

    @classmethod
    def secret_fields(cls) -> list[str]:
        """The settings that also accept ``EPICSTAR_<NAME>_FILE``: the secrets, and the
        settings whose values may carry one (:data:`SECRET_BEARING`)."""
        return [
            name
            for name, field in cls.model_fields.items()
            if field.annotation in (SecretStr, SecretStr | None) or name in SECRET_BEARING
        ]

    @property
    def github_git_origin(self) -> str:
        """Where this GitHub serves git, LFS and wikis (its clone URLs' origin), derived from
        ``github_api_url``: the one origin the GitHub token is sent to besides the API."""
        from epicstar.discovery.hosts import git_origin  # settings load no HTTP library

        return git_origin(self.github_api_url)

    def git_timeout_for(self, size_kb: int) -> float:
        """Seconds one git command may take on a repository of ``size_kb``."""
        return self.git_timeout + size_kb / 1024 * self.git_timeout_per_mib

    @property
    def cache_dir(self) -> Path:
        """Where each repository's bare cache lives."""
        return self.data_dir / "cache"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def secrets(self) -> list[str]:
        """Every secret value, for redaction."""
        token = self.github_token
        return [token.get_secret_value()] if token is not None else []


class Settings(SourceSettings):
    database_url: str | None = None

    onedev_url: str | None = None
    onedev_token: SecretStr | None = None
    onedev_parent: str = "github"

    webhook_secret: SecretStr | None = None
    queue_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=2, ge=0, le=64, description="passes at once; 0: serve only records and queues"
    )
    jobs: int = Field(
        default_factory=default_jobs,
        ge=1,
        le=64,
        description="passes `epicstar sync` runs at once; default 4 per CPU, at most 16",
    )
    lease_seconds: int = Field(
        default=60, ge=2, description="lease of a pass, renewed while it runs"
    )
    lease_wait: int | None = Field(
        default=None,
        ge=0,
        description="seconds `sync` waits for another live pass of a repository; default a lease",
    )
    tick_seconds: int = Field(
        default=60, ge=1, le=3600, description="how often due work is looked for"
    )
    shutdown_grace: int = Field(
        default=20, ge=0, description="seconds running passes get to finish at shutdown"
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="`epicstar worker` serves /metrics here"
    )

    refresh_interval: int = Field(default=3600, ge=5, description="seconds between refreshes")
    max_attempts: int = Field(default=8, ge=1)
    retry_base_delay: int = Field(default=60, ge=1)
    retry_max_delay: int = Field(default=6 * 3600, ge=1)

    poll_interval: int = Field(default=300, ge=1, description="seconds between star polls")
    archived_refresh_interval: int = Field(default=7 * 86400, ge=60)
    unstar_policy: Literal["keep", "move", "delete"] = "keep"
    unstarred_parent: str | None = None
    rewrite_policy: Literal["mirror", "hold"] = Field(
        default="mirror",
        description="a force-push or deletion upstream: mirror it (keeping the old tip), "
        "or hold it back in OneDev until approved",
    )

    notify_urls: Annotated[list[str], NoDecode] = Field(
        default=[], repr=False, description="Apprise URLs; they hold tokens, so never shown"
    )
    notify_new_mirrors: bool = False

    api_rate_limit: str = Field(
        default="100/minute", description="requests per key (and failed ones per address)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[], description="addresses or networks whose X-Forwarded-For is believed"
    )
    webhook_retention_days: int = Field(
        default=8, ge=1, le=3650, description="days webhook bodies are kept for replay"
    )
    trusted_header: str | None = Field(
        default=None,
        description="a header naming the user an authenticating proxy signed in (Remote-User)",
    )
    trusted_header_scopes: Annotated[list[str], NoDecode] = Field(
        default=["read"], description="the scopes of users signed in by the trusted header"
    )
    agent_max_push_mb: int = Field(
        default=4096, ge=1, description="the largest request an agent may send (a push), in MiB"
    )
    lfs: bool = Field(default=True, description="mirror Git LFS objects (on/off)")
    lfs_max_object_mb: int | None = Field(
        default=None, ge=1, description="LFS objects larger than this many MiB are skipped"
    )
    wikis: bool = Field(default=True, description="mirror GitHub wikis (on/off)")
    session_hours: int = Field(
        default=12, ge=1, le=24 * 90, description="hours a dashboard sign-in lasts"
    )

    @field_validator("onedev_url", mode="before")
    @classmethod
    def _onedev_url(cls, value: Any) -> Any:
        return normalise_url(value) if isinstance(value, str) else value

    @field_validator("onedev_parent", mode="before")
    @classmethod
    def _parent(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in value.strip().split("/") if part]
            return "/".join(parts)
        return value

    @field_validator("notify_urls", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        match = _RATE.fullmatch(value)
        if match is None or int(match["amount"]) < 1 or int(match["every"] or 1) < 1:
            raise ValueError(
                f"'{value}' is not a rate: use one of e.g. 100/minute, 10/second, "
                "1000/hour or 500/10minutes"
            )
        return value.strip()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = _split_list(value)
        if not isinstance(value, list):
            return value
        for item in value:
            try:
                ipaddress.ip_network(str(item).strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"'{item}' is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)"
                ) from None
        return [str(item).strip() for item in value]

    @field_validator("trusted_header", mode="before")
    @classmethod
    def _header_name(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = value.strip()
        if name and not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"'{value}' is not an HTTP header name (e.g. Remote-User)")
        return name or None

    @field_validator("trusted_header_scopes", mode="before")
    @classmethod
    def _header_scopes(cls, value: Any) -> Any:
        value = _split_list(value)
        if not isinstance(value, list):
            return value
        return parse_scopes(str(item) for item in value)

    @field_validator("unstarred_parent", mode="before")
    @classmethod
    def _holding_parent(cls, value: Any) -> Any:
        if isinstance(value, str):
            return "/".join(part for part in value.strip().split("/") if part) or None
        return value

    @field_validator("onedev_token", "webhook_secret", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        return _secret(value)

    @classmethod
    def config_file(cls) -> Path | None:
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        return Path(config_file) if config_file else None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'epicstar.db').resolve()}"

    @property
    def holding_parent(self) -> str:
        """Where policy ``move`` puts the mirrors of unstarred repositories."""
        if self.unstarred_parent:
            return self.unstarred_parent
        return f"{self.onedev_parent}/_unstarred" if self.onedev_parent else "_unstarred"

    def require_onedev(self) -> tuple[str, str]:
        """The OneDev URL and token, or a ConfigError naming whichever is missing."""
        if not self.onedev_url:
            raise ConfigError(
                "EPICSTAR_ONEDEV_URL is not set: give the address of your OneDev server, "
                "e.g. https://onedev.example.com"
            )
        if self.onedev_token is None:
            raise ConfigError(
                "EPICSTAR_ONEDEV_TOKEN is not set: create an access token in OneDev "
                "(My Settings > Access Tokens, with 'has owner permissions') and export it"
            )
        return self.onedev_url, self.onedev_token.get_secret_value()

    def secrets(self) -> list[str]:
        """Every secret value, for redaction."""
        values = [self.github_token, self.onedev_token, self.webhook_secret]
        tokens = [value.get_secret_value() for value in values if value is not None]
        return tokens + [url for url in self.notify_urls if url]


class SecretFiles(PydanticBaseSettingsSource):
    """``EPICSTAR_<NAME>_FILE``: each secret read from the file that variable names."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value comes from __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        secret_fields = getattr(self.settings_cls, "secret_fields", list)
        for name in secret_fields():
            variable = f"{ENV_PREFIX}{name.upper()}_FILE"
            path = os.environ.get(variable, "").strip()
            if not path:
                continue
            try:
                values[name] = Path(path).expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise ConfigError(f"{variable}: cannot read {path}: {reason}") from None
        return values


def _secret(value: Any) -> Any:
    """A secret as given, without surrounding blanks; blank means unset."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def describe_problem(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part is not None]
    field = location[0] if location else ""
    variable = f"{ENV_PREFIX}{field.upper()}" if field else CONFIG_FILE_VARIABLE
    message = str(error.get("msg", "is invalid"))
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return f"{variable}: {message}"


def _split_list(value: Any) -> Any:
    """A JSON array or a comma-separated list (``'octo/*, */dotfiles'``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning every validation problem into one clear ConfigError."""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"{CONFIG_FILE_VARIABLE}: no such file: {config_file}")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(describe_problem(dict(item)) for item in error.errors())
        raise ConfigError(problems) from None
    except ValueError as error:  # a malformed TOML file
        raise ConfigError(f"{CONFIG_FILE_VARIABLE}: {error}") from None
