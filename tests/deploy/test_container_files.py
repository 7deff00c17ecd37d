"""Containerfile and compose.yaml, read as their tools read them (no container registry is
reachable here to build or start them: tests/e2e/test_install_steps.py runs the Containerfile's
steps outside a container)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from epicstar.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
COMPOSE = ROOT / "compose.yaml"


def instructions() -> list[tuple[str, str]]:
    """The Containerfile's instructions, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", CONTAINERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_image_runs_serve_unprivileged_with_a_health_check_and_no_secret() -> None:
    steps = instructions()
    keywords = [keyword for keyword, _ in steps]
    assert keywords.count("FROM") == 2, "one stage builds, the other runs"
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users == ["epicstar"]
    assert keywords.index("USER") > keywords.index("COPY", keywords.index("FROM", 1))
    assert ("CMD", '["epicstar", "serve"]') in steps
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("VOLUME", '["/data"]') in steps
    [health] = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert "/health" in health
    runtime = " ".join(rest for keyword, rest in steps[keywords.index("FROM", 1) :])
    for package in ("python3", "git", "git-lfs", "ca-certificates"):
        assert f" {package} " in f" {runtime} "
    for keyword, rest in steps:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"TOKEN|SECRET|PASSWORD", rest), rest


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def test_compose_starts_epicstar_after_a_healthy_postgresql_with_secrets_from_files() -> None:
    document = compose()
    services = document["services"]
    assert set(services) == {"postgres", "epicstar", "redis", "worker"}
    assert {name for name, service in services.items() if service.get("profiles")} == {
        "redis",
        "worker",
    }
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["epicstar"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["worker"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    declared = document["secrets"]
    readable = set(Settings.secret_fields())
    for name in ("epicstar", "worker"):
        service = services[name]
        assert service["env_file"] == ".env"
        assert (
            seconds(service["stop_grace_period"]) > Settings.model_fields["shutdown_grace"].default
        )
        assert service["volumes"] == ["data:/data"]
        mounted = set(service["secrets"])
        assert mounted <= set(declared)
        for variable, value in service["environment"].items():
            if variable.endswith("_FILE"):
                setting = variable.removeprefix("EPICSTAR_").removesuffix("_FILE").lower()
                assert setting in readable, variable
                assert value.removeprefix("/run/secrets/") in mounted, variable
            else:
                assert not re.search(r"TOKEN|SECRET|PASSWORD", variable), variable
    assert all(set(secret) == {"file"} for secret in declared.values())
    assert set(document["volumes"]) == {"postgres", "redis", "data"}


def test_podman_compose_reads_compose_yaml_as_a_user_would_have_it(tmp_path: Path) -> None:
    if shutil.which("podman") is None:  # podman-compose asks podman for its version first
        if os.environ.get("CI"):
            pytest.fail("podman must be installed in CI (.ci/run installs it)")
        pytest.skip("podman is not installed (Debian package podman)")
    for name in ("compose.yaml", "Containerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in compose()["secrets"]:
        (secrets / name).write_text("placeholder\n")
    tool = Path(sys.executable).with_name("podman-compose")
    result = subprocess.run(
        [str(tool), "-f", "compose.yaml", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) >= {"postgres", "epicstar"}
    assert resolved["services"]["epicstar"]["environment"]["EPICSTAR_DATA_DIR"] == "/data"
