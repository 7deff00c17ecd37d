"""Latency of an authenticated ``GET /api/v1/repositories`` in ``epicstar serve``.

    .venv/bin/python -m benchmarks.api_benchmark [--repos 1000] [--rate 50] [--duration 20]
        [--warmup 2] [--connections 10] [--database-url postgresql://…] [--json FILE]
        [--keep DIR] [--quick]

Target (the issue's): with 1,000 tracked repositories, at a steady 50 requests/s, p95 at most
20 ms, the first verification of the key (Argon2) excluded. The rows are written straight
into a new database (SQLite in the data dir, or a new PostgreSQL database on the server
``--database-url`` names, dropped afterwards) with one read key made as ``epicstar keys
create`` makes it; ``epicstar serve`` then runs as a child process, its workers included,
against a sandbox of GitHub and OneDev stand-ins. Each server is asked once before the load
(that first answer verifies the key and is checked: 50 items, the right total). A load
generator in a third process then sends the same request on an open-loop schedule, first to a
do-nothing reference on the same stack (:mod:`benchmarks.api_reference`), then to epicstar.

The figures go to stdout as one JSON document (and to ``--json``); progress to stderr. Exit
status 0 when epicstar's p95 meets the target, 1 when not, 2 when the benchmark failed (no
figures, or any answer other than 200). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from benchmarks import serve_cli
from benchmarks.contenders import BenchmarkError
from benchmarks.serve_cli import progress
from benchmarks.serve_setup import prepare_database, serve_setup
from benchmarks.servers import ServerProcess, epicstar_serve, reference_server
from benchmarks.steady_runs import Run, environment, measure
from epicstar.state.models import Origin, Repository, RepoState, SyncStatus, utcnow

TARGET_P95_MS = 20.0
PATH = "/api/v1/repositories"
PER_PAGE = 50  # the API's default page
RATE_LIMIT = "100000/minute"  # the budget must not be what is measured
DEFAULTS: dict[str, Any] = {"repos": 1000, "rate": 50.0, "duration": 20.0, "warmup": 2.0}
QUICK: dict[str, Any] = {"repos": 60, "rate": 50.0, "duration": 1.0, "warmup": 0.5}


@dataclass(frozen=True)
class Options(serve_cli.ServeOptions):
    rate: float


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.api_benchmark",
        description="Latency of an authenticated GET /api/v1/repositories in epicstar serve, "
        "against a do-nothing FastAPI route on the same stack, at a steady open-loop rate.",
    )
    parser.add_argument("--repos", type=int, help="tracked repositories (default 1000)")
    parser.add_argument("--rate", type=float, help="requests per second (default 50)")
    parser.add_argument("--duration", type=float, help="measured seconds (default 20)")
    parser.add_argument("--warmup", type=float, help="seconds sent before measuring (default 2)")
    serve_cli.add_arguments(
        parser,
        connections=10,
        connections_help="kept-alive connections sharing the rate (10)",
        keep_help="work in this new directory and keep it",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: --repos 60 --duration 1 --warmup 0.5"
    )
    args = parser.parse_args(argv)
    values = serve_cli.sized(parser, args, DEFAULTS, QUICK)
    if values["rate"] <= 0 or values["duration"] <= 0 or values["warmup"] < 0:
        parser.error("--rate and --duration must be positive, --warmup not negative")
    serve_cli.check_arguments(parser, args)
    return Options(**serve_cli.common_options(args, values), rate=values["rate"])


# ------------------------------------------------------------------------------ set-up


def tracked_repositories(repos: int) -> Callable[[Session], None]:
    """``repos`` tracked repositories as passes leave them."""

    def fill(session: Session) -> None:
        now = utcnow()
        session.add_all(
            Repository(
                github_id=1_000_000 + index,
                full_name=f"bench-{index % 37:02d}/repository-{index:05d}",
                origin=Origin.MANUAL,  # the sandbox's starred list (empty) has no say
                state=RepoState.ACTIVE,
                sync_status=SyncStatus.COMPLETED,
                onedev_path=f"github/bench-{index % 37:02d}/repository-{index:05d}",
                html_url=f"https://github.com/bench/repository-{index:05d}",
                description=f"benchmark repository {index}",
                default_branch="main",
                language="Python",
                size_kb=1000 + index,
                starred_at=now - timedelta(days=index),
                mirrored_refs={
                    "refs/heads/main": f"{index:040x}",
                    "refs/heads/develop": f"{index + 1:040x}",
                    **{f"refs/tags/v1.{tag}": f"{index + tag:040x}" for tag in range(8)},
                },
                onedev_project_id=10_000 + index,
                last_synced_at=now,
                last_attempt_at=now,
                next_due_at=now + timedelta(days=3650),
            )
            for index in range(repos)
        )

    return fill


def first_answer(server: ServerProcess, key: str, repos: int | None) -> float:
    """Milliseconds of the first authenticated request (the key's verification), checked."""
    started = time.perf_counter()
    response = server.client.get(
        f"{server.url}{PATH}", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchmarkError(f"{server.name}: {response.status_code} {response.text[:300]}")
    if repos is not None:
        page = response.json()
        if page["total"] != repos or len(page["items"]) != min(PER_PAGE, repos):
            raise BenchmarkError(f"{server.name}: unexpected page: total {page['total']}")
    return elapsed


# ------------------------------------------------------------------------------ runs


@contextlib.contextmanager
def served(options: Options, scratch: Path) -> Iterator[tuple[dict[str, Any], list[Run]]]:
    """Everything set up, both servers measured; yields the environment and the runs."""
    with contextlib.ExitStack() as stack:
        setup = stack.enter_context(serve_setup(scratch, options.database_url))
        progress(f"writing {options.repos} repositories and a key ({setup.backend}) …")
        key = prepare_database(
            setup.database_url, tracked_repositories(options.repos), scopes=["read"]
        )
        env = {**setup.env, "EPICSTAR_API_RATE_LIMIT": RATE_LIMIT}
        reference = stack.enter_context(
            reference_server("benchmarks.api_reference", scratch / "reference.log")
        )
        epicstar = stack.enter_context(epicstar_serve(env, scratch / "serve.log", name="epicstar"))
        runs = []
        for server, repos in ((reference, None), (epicstar, options.repos)):
            first_ms = first_answer(server, key, repos)
            progress(f"  {server.name}: first answer {first_ms:.1f} ms; measuring …")
            run = measure(
                server,
                PATH,
                {"Authorization": f"Bearer {key}", "User-Agent": "epicstar-api-benchmark"},
                options,
                rate=options.rate,
                plan_path=scratch / f"plan-{server.name}.json",
                first_ms=first_ms,
            )
            progress(
                f"    {run.throughput_per_s:.1f} req/s, {run.latency_ms.summary()}, "
                f"failures {run.failures}"
            )
            runs.append(run)
        yield environment(setup.backend, RATE_LIMIT), runs


def report(options: Options, env: dict[str, Any], runs: list[Run]) -> dict[str, Any]:
    epicstar = next(run for run in runs if run.server == "epicstar")
    return {
        "benchmark": "api",
        "environment": env,
        "parameters": {
            "repositories": options.repos,
            "path": PATH,
            "per_page": PER_PAGE,
            "rate_per_s": options.rate,
            "connections": options.connections,
            "warmup_s": options.warmup,
            "duration_s": options.duration,
            "loop": "open",
        },
        "runs": [run.to_json() for run in runs],
        "target": {
            "p95_ms": TARGET_P95_MS,
            "epicstar_p95_ms": round(epicstar.latency_ms.p95_ms, 3),
            "met": epicstar.latency_ms.p95_ms <= TARGET_P95_MS,
        },
        "failures": sum(run.failures for run in runs),
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    with serve_cli.scratch_directory(options.keep, "epicstar-api-") as scratch:
        try:
            with served(options, scratch) as (env, runs):
                figures = report(options, env, runs)
        except Exception as error:
            return serve_cli.failed(error)
    text = json.dumps(figures, indent=2)
    print(text)
    if options.json_path is not None:
        options.json_path.write_text(text + "\n")
    if figures["failures"]:
        print(f"benchmark failed: {figures['failures']} requests failed", file=sys.stderr)
        return serve_cli.FAILED
    return 0 if figures["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
