"""The systemd units and the settings file shipped in deploy/: valid for systemd's own checker,
hardened, and naming every setting epicstar has."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from epicstar.config import Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("epicstar*.service")) + sorted(
    (DEPLOY / "systemd").glob("*.timer")
)
ENV_EXAMPLE = DEPLOY.parent / ".env.example"
HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "StateDirectory=epicstar",
    "User=epicstar",
    "UMask=0077",
    "CapabilityBoundingSet=",
)


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze (Debian package systemd) must be installed in CI")
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


def test_the_units_pass_systemds_own_checks(tmp_path: Path) -> None:
    epicstar = Path(sys.executable).with_name("epicstar")
    assert epicstar.is_file()
    for unit in UNITS:  # as installed: the command where the units expect it
        text = unit.read_text().replace("/opt/epicstar/bin/epicstar", str(epicstar))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        [systemd_analyze(), "verify", *(str(tmp_path / unit.name) for unit in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert {unit.name for unit in UNITS} == {
        "epicstar.service",
        "epicstar-worker@.service",
        "epicstar-sync.service",
        "epicstar-sync.timer",
    }


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service"], ids=str)
def test_each_service_is_hardened_and_configured_from_its_file(unit: Path) -> None:
    lines = {line.strip() for line in unit.read_text().splitlines()}
    assert set(HARDENING) <= lines, set(HARDENING) - lines
    assert "EnvironmentFile=/etc/epicstar/epicstar.env" in lines
    assert "Environment=EPICSTAR_DATA_DIR=/var/lib/epicstar" in lines
    stop = next(line for line in lines if line.startswith("TimeoutStopSec="))
    assert int(stop.partition("=")[2]) > Settings.model_fields["shutdown_grace"].default


def test_the_settings_file_names_every_setting_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = ENV_EXAMPLE.read_text()
    named = re.findall(r"^#?(EPICSTAR_[A-Z0-9_]+)=", text, flags=re.MULTILINE)
    expected = {f"EPICSTAR_{name.upper()}" for name in Settings.model_fields} | {"EPICSTAR_CONFIG"}
    assert sorted(named) == sorted(expected), set(named) ^ expected
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith(("EPICSTAR_", "#EPICSTAR_")):
            continue
        assert not any(quote in line for quote in "\"'"), line  # systemd keeps no quotes
        above = number - 1
        while lines[above].startswith(("EPICSTAR_", "#EPICSTAR_")):
            above -= 1
        assert lines[above].startswith("# "), f"nothing says what {line} is"

    # As systemd and compose read it: the lines not commented out give settings that load.
    for line in text.splitlines():
        if line.startswith("EPICSTAR_"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("EPICSTAR_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.onedev_url == "https://onedev.example.com"
    assert settings.github_token is None  # left blank: unset, not an empty token
