"""Settings: defaults, the config file, and errors that name the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from epicstar.config import ConfigError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.github_api_url == "https://api.github.com"
    assert settings.onedev_parent == "github"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'epicstar.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_and_normalisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPICSTAR_ONEDEV_URL", "https://onedev.example.com/")
    monkeypatch.setenv("EPICSTAR_ONEDEV_PARENT", "/mirrors//github/")
    monkeypatch.setenv("EPICSTAR_GITHUB_TOKEN", "ghp_secret")
    settings = load_settings()
    assert settings.onedev_url == "https://onedev.example.com"
    assert settings.onedev_parent == "mirrors/github"
    assert "ghp_secret" not in repr(settings)
    assert settings.secrets() == ["ghp_secret"]


def test_malformed_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPICSTAR_PORT", "eighty")
    with pytest.raises(ConfigError, match=r"^EPICSTAR_PORT: "):
        load_settings()
    monkeypatch.delenv("EPICSTAR_PORT")
    monkeypatch.setenv("EPICSTAR_ONEDEV_URL", "onedev.example.com")
    with pytest.raises(ConfigError, match="EPICSTAR_ONEDEV_URL: must be an http"):
        load_settings()


def test_missing_onedev_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="EPICSTAR_ONEDEV_URL is not set"):
        load_settings().require_onedev()
    monkeypatch.setenv("EPICSTAR_ONEDEV_URL", "https://onedev.example.com")
    with pytest.raises(ConfigError, match="EPICSTAR_ONEDEV_TOKEN is not set"):
        load_settings().require_onedev()


def test_config_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "epicstar.toml"
    config.write_text('onedev_url = "https://file.example.com"\nonedev_parent = "from-file"\n')
    monkeypatch.setenv("EPICSTAR_CONFIG", str(config))
    monkeypatch.setenv("EPICSTAR_ONEDEV_PARENT", "from-env")
    settings = load_settings()
    assert settings.onedev_url == "https://file.example.com"
    assert settings.onedev_parent == "from-env"


def test_missing_or_broken_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EPICSTAR_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="EPICSTAR_CONFIG: no such file"):
        load_settings()
    broken = tmp_path / "broken.toml"
    broken.write_text("onedev_url = \n")
    monkeypatch.setenv("EPICSTAR_CONFIG", str(broken))
    with pytest.raises(ConfigError, match="EPICSTAR_CONFIG"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100/minute", "100/minute"), (" 5 per 2 minutes ", "5 per 2 minutes"), ("10/SECOND", None)],
)
def test_an_api_rate_is_one_rate(monkeypatch: pytest.MonkeyPatch, text: str, expected: str | None):
    monkeypatch.setenv("EPICSTAR_API_RATE_LIMIT", text)
    assert load_settings().api_rate_limit == (expected or text)


@pytest.mark.parametrize(
    "text", ["often", "0/minute", "5/0 minutes", "5/minute;100/hour", "5/fortnight", "-1/minute"]
)
def test_a_malformed_api_rate_names_the_variable(monkeypatch: pytest.MonkeyPatch, text: str):
    monkeypatch.setenv("EPICSTAR_API_RATE_LIMIT", text)
    with pytest.raises(ConfigError, match=r"^EPICSTAR_API_RATE_LIMIT: '.*' is not a rate"):
        load_settings()


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPICSTAR_TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12,::1")
    assert load_settings().trusted_proxies == ["10.0.0.1", "172.16.0.0/12", "::1"]
    monkeypatch.setenv("EPICSTAR_TRUSTED_PROXIES", '["fd00::/8"]')
    assert load_settings().trusted_proxies == ["fd00::/8"]
    for text in ("proxy.example.com", "10.0.0.0/33", "[1]"):
        monkeypatch.setenv("EPICSTAR_TRUSTED_PROXIES", text)
        with pytest.raises(ConfigError, match=r"^EPICSTAR_TRUSTED_PROXIES: '.*' is not an IP"):
            load_settings()


def test_every_setting_that_can_hold_a_secret_is_read_from_a_file_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = {
        "GITHUB_TOKEN": "ghp_from_a_file",
        "ONEDEV_TOKEN": "od_from_a_file",
        "WEBHOOK_SECRET": "hook secret from a file",
        "DATABASE_URL": "postgresql+psycopg://epicstar:pg-password@db/epicstar",
        "QUEUE_URL": "redis://:redis-password@cache:6379/0",
        "NOTIFY_URLS": "ntfy://ntfy-token@ntfy.example/topic, tgram://bot-token/chat",
    }
    for name, value in files.items():
        path = tmp_path / name.lower()
        path.write_text(value + "\n")  # as `echo ... > file` leaves it
        monkeypatch.setenv(f"EPICSTAR_{name}_FILE", str(path))

    settings = load_settings()

    assert settings.github_token is not None
    assert settings.github_token.get_secret_value() == "ghp_from_a_file"
    assert settings.database_url == files["DATABASE_URL"]
    assert settings.queue_url == files["QUEUE_URL"]
    assert settings.notify_urls == [
        "ntfy://ntfy-token@ntfy.example/topic",
        "tgram://bot-token/chat",
    ]
    assert "hook secret from a file" in settings.secrets()

    monkeypatch.setenv("EPICSTAR_DATABASE_URL", "sqlite:///from-the-environment.db")
    assert load_settings().database_url == "sqlite:///from-the-environment.db"  # env wins

    monkeypatch.setenv("EPICSTAR_QUEUE_URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="EPICSTAR_QUEUE_URL_FILE: cannot read"):
        load_settings()
