"""The command starts and ends quickly: asking for help loads none of the libraries the work
needs, and no command walks its objects on the way out."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY_LIBRARIES = {
    "alembic",
    "apprise",
    "argon2",
    "fastapi",
    "feedgen",
    "httpx",
    "huey",
    "jinja2",
    "markdown_it",
    "prometheus_client",
    "psycopg",
    "pydantic_settings",
    "pygments",
    "redis",
    "rich",
    "sqlalchemy",
    "starlette",
    "structlog",
    "uvicorn",
}

PROBE = """
import contextlib, gc, io, json, sys
import typer.main
from epicstar.cli import app, main

def paths(command, prefix):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, [*prefix, name])

helped = []
for path in paths(typer.main.get_command(app), []):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*path, "--help"])
    assert "Usage: epicstar" in out.getvalue(), (path, out.getvalue())
    helped.append(" ".join(path))
loaded = sorted({name.partition(".")[0] for name in sys.modules})
print(json.dumps({"helped": helped, "loaded": loaded, "frozen": gc.get_freeze_count()}))
"""


def test_help_loads_no_library_a_command_needs_to_run() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout)
    assert {"", "status", "serve", "sync", "keys create", "agent sync"} <= set(report["helped"])
    assert HEAVY_LIBRARIES.isdisjoint(report["loaded"]), HEAVY_LIBRARIES & set(report["loaded"])
    # Left to the collector, the objects the imports made cost about a second of CPU in the
    # interpreter's shutdown.
    assert report["frozen"] > 0
