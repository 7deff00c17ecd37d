"""The agent's settings: the environment wins over secrets' files, which win over its config
file, which wins over the defaults; the filters are validated as the server validates them."""

from __future__ import annotations

from pathlib import Path

import pytest

from epicstar.agent.config import default_config_path, load_agent_settings
from epicstar.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))


def write_config(text: str) -> Path:
    path = default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_agent_settings()
    assert settings.server_url is None
    assert settings.api_key is None
    assert settings.github_api_url == "https://api.github.com"
    assert settings.data_dir == tmp_path / "share" / "epicstar" / "agent"
    assert settings.include == []
    assert default_config_path() == tmp_path / "config" / "epicstar" / "agent.toml"


def test_environment_wins_over_file_which_wins_over_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(
        'server_url = "https://file.example.com/"\n'
        'github_api_url = "https://ghe.example.com/api/v3"\n'
        'include = ["octo/*"]\n'
        "skip_forks = true\n"
    )
    monkeypatch.setenv("EPICSTAR_SERVER_URL", "https://env.example.com")
    monkeypatch.setenv("EPICSTAR_EXCLUDE", "*/dotfiles, octo/secret")
    settings = load_agent_settings()
    assert settings.server_url == "https://env.example.com"  # environment over file
    assert settings.github_api_url == "https://ghe.example.com/api/v3"  # file over default
    assert settings.include == ["octo/*"]
    assert settings.skip_forks is True
    assert settings.exclude == ["*/dotfiles", "octo/secret"]  # the server's list syntax
    assert settings.max_size_mb is None  # default


def test_secrets_from_environment_files_and_references(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_config('api_key = "${MY_AGENT_KEY}"\ngithub_token = "${GH_TOKEN}"\n')
    monkeypatch.setenv("MY_AGENT_KEY", "esk_from_reference")
    monkeypatch.setenv("GH_TOKEN", "ghp_from_reference")
    settings = load_agent_settings()
    assert settings.secrets() == ["ghp_from_reference", "esk_from_reference"]
    assert "ghp_from_reference" not in repr(settings)

    token_file = tmp_path / "token"
    token_file.write_text("ghp_from_file\n")
    monkeypatch.setenv("EPICSTAR_GITHUB_TOKEN_FILE", str(token_file))
    assert load_agent_settings().require_github_token() == "ghp_from_file"  # file over config
    monkeypatch.setenv("EPICSTAR_GITHUB_TOKEN", "ghp_from_environment")
    assert load_agent_settings().require_github_token() == "ghp_from_environment"

    monkeypatch.setenv("EPICSTAR_API_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="EPICSTAR_API_KEY_FILE: cannot read"):
        load_agent_settings()


def test_the_server_reads_secret_files_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "od").write_text("od_secret\n")
    monkeypatch.setenv("EPICSTAR_ONEDEV_TOKEN_FILE", str(tmp_path / "od"))
    assert load_settings().secrets() == ["od_secret"]


def test_unset_reference_is_unset_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('server_url = "https://s.example.com"\ngithub_token = "${NOT_SET_ANYWHERE}"\n')
    settings = load_agent_settings()
    assert settings.github_token is None
    with pytest.raises(ConfigError, match="EPICSTAR_GITHUB_TOKEN is not set"):
        settings.require_github_token()
    with pytest.raises(ConfigError, match="EPICSTAR_API_KEY is not set"):
        settings.require_server()


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EPICSTAR_SERVER_URL", "epicstar.example.com")
    with pytest.raises(ConfigError, match="EPICSTAR_SERVER_URL: must be an http"):
        load_agent_settings()
    monkeypatch.delenv("EPICSTAR_SERVER_URL")
    write_config("max_size_mb = 0\n")
    with pytest.raises(ConfigError, match="EPICSTAR_MAX_SIZE_MB"):
        load_agent_settings()
    write_config("max_size_mb = \n")
    with pytest.raises(ConfigError, match=r"agent\.toml"):
        load_agent_settings()


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_agent_settings(tmp_path / "missing.toml", required=True)
    other = tmp_path / "other.toml"
    other.write_text('server_url = "https://other.example.com"\n')
    write_config('server_url = "https://default.example.com"\n')
    assert load_agent_settings(other, required=True).server_url == "https://other.example.com"
