"""How fast ``epicstar serve`` renders the dashboard's pages with 10,000 tracked repositories.

    .venv/bin/python -m benchmarks.dashboard_benchmark [--repos 10000] [--attempts 100000]
        [--rate 10] [--duration 15] [--warmup 2] [--connections 2]
        [--database-url postgresql://…] [--json FILE] [--keep DIR] [--quick]

Targets (issue 10's): the overview (``/``) in at most 100 ms at the 95th percentile, the
repositories page in at most 150 ms, whichever way it is searched, filtered, sorted or paged
(one repository's page is held to the same). A new database (as the API benchmark makes it:
:mod:`benchmarks.serve_setup`) gets ``--repos`` repositories in a realistic mix of states,
sync statuses, errors, descriptions and mirrored refs, ``--attempts`` attempts spread
unevenly over them, and one ``write`` key (a write key sees every action button, so its pages
are the heaviest). ``epicstar serve`` runs as a child process against the sandbox; the
benchmark signs in once with the key and sends the session's cookie with every request.

Each route is then loaded in turn by the API benchmark's open-loop load generator (a process
of its own), after one checked answer (the right rows and totals): first the do-nothing
reference route of :mod:`benchmarks.api_reference`, then each page. A table goes to stdout,
the figures to ``--json``, progress to stderr. Exit status 0 when every target is met, 1 when
one is missed, 2 when the benchmark failed (no figures, or any answer other than 200).
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from benchmarks import serve_cli
from benchmarks.contenders import BenchmarkError
from benchmarks.serve_cli import progress
from benchmarks.serve_setup import prepare_database, serve_setup
from benchmarks.servers import ServerProcess, epicstar_serve, reference_server
from benchmarks.steady_runs import Run, environment, measure
from epicstar.state.models import (
    AttemptOutcome,
    Origin,
    Repository,
    RepoState,
    SyncAttempt,
    SyncStatus,
    utcnow,
)
from epicstar.web.authentication import SESSION_COOKIE

OVERVIEW_TARGET_MS = 100.0
REPOSITORIES_TARGET_MS = 150.0
PER_PAGE = 50  # the repositories page's default
DEEP_PAGE = 150
SEARCH = "data"  # a part of many names, as a user would type it
RATE_LIMIT = "100000/minute"  # the budget must not be what is measured
REFERENCE_PATH = "/api/v1/repositories"
SEED = 10
DEFAULTS: dict[str, Any] = {
    "repos": 10_000,
    "attempts": 100_000,
    "rate": 10.0,
    "duration": 15.0,
    "warmup": 2.0,
}
QUICK: dict[str, Any] = {
    "repos": 200,
    "attempts": 2000,
    "rate": 10.0,
    "duration": 1.0,
    "warmup": 0.3,
}


@dataclass(frozen=True)
class Options(serve_cli.ServeOptions):
    attempts: int
    rate: float


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dashboard_benchmark",
        description="Latency of the dashboard's pages in epicstar serve with many tracked "
        "repositories, against a do-nothing FastAPI route on the same stack.",
    )
    parser.add_argument("--repos", type=int, help="tracked repositories (default 10000)")
    parser.add_argument("--attempts", type=int, help="recorded attempts (default 100000)")
    parser.add_argument("--rate", type=float, help="requests per second to each page (10)")
    parser.add_argument("--duration", type=float, help="measured seconds per page (15)")
    parser.add_argument("--warmup", type=float, help="seconds sent before measuring (2)")
    serve_cli.add_arguments(
        parser,
        connections=2,
        connections_help="kept-alive connections sharing the rate (2)",
        keep_help="work in this new directory and keep it",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: --repos 200 --attempts 2000 --duration 1 --warmup 0.3",
    )
    args = parser.parse_args(argv)
    values = serve_cli.sized(parser, args, DEFAULTS, QUICK)
    if values["rate"] <= 0 or values["duration"] <= 0 or values["warmup"] < 0:
        parser.error("--rate and --duration must be positive, --warmup not negative")
    if values["attempts"] < 1:
        parser.error("--attempts must be at least 1")
    serve_cli.check_arguments(parser, args)
    return Options(
        **serve_cli.common_options(args, values),
        attempts=values["attempts"],
        rate=values["rate"],
    )


# ------------------------------------------------------------------------------ the rows

NAMES_OF_OWNERS = (
    "acme bitwise cloudnine datalab evergreen fluxio gridworks hexcore ionic jetstream "
    "kilowatt lumen metrics-io nimbus"
)
WORDS_OF_NAMES = (
    "data fast graph http json kit lib log net parser queue rust sql stream sync test tiny ui "
    "vector web"
)
OWNERS, WORDS = tuple(NAMES_OF_OWNERS.split()), tuple(WORDS_OF_NAMES.split())
STATES = {
    RepoState.ACTIVE: 88,
    RepoState.UNSTARRED: 5,
    RepoState.EXCLUDED: 3,
    RepoState.SOURCE_GONE: 3,
    RepoState.BLOCKED: 1,
}
ACTIVE_STATUSES = {
    SyncStatus.COMPLETED: 85,
    SyncStatus.PENDING: 5,
    SyncStatus.FAILED: 6,
    SyncStatus.PERMANENT_FAILURE: 2,
    SyncStatus.IN_PROGRESS: 2,
}
OUTCOMES = {
    AttemptOutcome.UNCHANGED: 70,
    AttemptOutcome.MIRRORED: 20,
    AttemptOutcome.FAILED: 7,
    AttemptOutcome.PERMANENT_FAILURE: 1,
    AttemptOutcome.SOURCE_GONE: 1,
    AttemptOutcome.INTERRUPTED: 1,
}
ERRORS = (
    "git fetch failed (exit 128): fatal: unable to access 'https://github.com/{name}.git/': "
    "Could not resolve host: github.com",
    "OneDev answered 500 to POST /~api/projects: Internal server error\n"
    "java.lang.IllegalStateException: project name already used under this parent",
    "git push failed (exit 1): remote: error: object 1f3e5c2 is corrupt\n"
    " ! [remote rejected] main -> main (unpacker error)\nerror: failed to push some refs",
    "GitHub answered 451: Repository access blocked (DMCA takedown)",
    "GitHub answered 404: Not Found (the repository was deleted or made private)",
    "timed out after 1800 s fetching refs/heads/* and refs/tags/* (3.2 GiB received)",
)


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def _refs(rng: random.Random, index: int) -> dict[str, str]:
    """A few branches and tags; one repository in twenty has hundreds of tags."""
    tags = rng.randint(200, 600) if rng.random() < 0.05 else rng.randint(0, 25)
    refs = {
        f"refs/heads/{name}": f"{index:032x}{n:08x}"
        for n, name in enumerate(("main", "develop", "release")[: rng.randint(1, 3)])
    }
    refs.update(
        {f"refs/tags/v{tag // 10}.{tag % 10}": f"{index:032x}{tag:08x}" for tag in range(tags)}
    )
    return refs


def repository_rows(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        owner = f"{rng.choice(OWNERS)}{index % 97}"
        name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{index:05d}"
        state = _pick(rng, STATES)
        status = _pick(rng, ACTIVE_STATUSES) if state == RepoState.ACTIVE else SyncStatus.COMPLETED
        failing = status in (SyncStatus.FAILED, SyncStatus.PERMANENT_FAILURE) or state in (
            RepoState.SOURCE_GONE,
            RepoState.BLOCKED,
        )
        never_synced = status == SyncStatus.PENDING
        synced = None if never_synced else now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        attempted = (synced or now) + timedelta(seconds=rng.randint(0, 3600))
        rows.append(
            {
                "github_id": 5_000_000 + index * 13,
                "full_name": f"{owner}/{name}",
                "origin": Origin.MANUAL,  # the sandbox's starred list (empty) has no say
                "state": state,
                "sync_status": status,
                "onedev_path": f"github/{owner}/{name}",
                "onedev_project_id": None if never_synced else 20_000 + index,
                "html_url": f"https://github.com/{owner}/{name}",
                "clone_url": f"https://github.com/{owner}/{name}.git",
                "description": None
                if rng.random() < 0.15
                else f"A {rng.choice(WORDS)} library for <b>{rng.choice(WORDS)}</b> & "
                + " ".join(rng.choices(WORDS, k=rng.randint(3, 25))),
                "default_branch": "main",
                "language": rng.choice(("Python", "Rust", "Go", "TypeScript", "C", None)),
                "size_kb": rng.randint(10, 2_000_000),
                "starred_at": now - timedelta(days=rng.randint(1, 3000)),
                "mirrored_refs": None if never_synced else _refs(rng, index),
                "last_synced_at": synced,
                "last_attempt_at": None if never_synced else attempted,
                # nothing falls due during the run: the workers stay idle
                "next_due_at": now + timedelta(days=3650),
                "retry_count": rng.randint(1, 5) if failing else 0,
                "error": rng.choice(ERRORS).format(name=f"{owner}/{name}") if failing else None,
                "state_reason": "GitHub answered 404" if state == RepoState.SOURCE_GONE else None,
            }
        )
    return rows


def attempt_rows(
    repositories: list[dict[str, Any]], count: int, now: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    """``count`` attempts, most repositories with a few, some with hundreds."""
    ids = [row["github_id"] for row in repositories]
    weights = [rng.paretovariate(1.2) for _ in ids]
    rows = []
    for repository_id in rng.choices(ids, weights, k=count):
        started = now - timedelta(seconds=rng.randint(60, 86400 * 90))
        outcome = _pick(rng, OUTCOMES)
        mirrored = outcome == AttemptOutcome.MIRRORED
        failed = outcome in (AttemptOutcome.FAILED, AttemptOutcome.PERMANENT_FAILURE)
        rows.append(
            {
                "repository_id": repository_id,
                "trigger": rng.choice(("schedule", "schedule", "schedule", "webhook", "api")),
                "started_at": started,
                "finished_at": started + timedelta(milliseconds=rng.randint(300, 600_000)),
                "outcome": outcome,
                "refs_changed": rng.randint(1, 12) if mirrored else 0,
                "new_commits": rng.randint(1, 400) if mirrored else 0,
                "bytes_fetched": rng.randint(1000, 50_000_000) if mirrored else 0,
                "error": rng.choice(ERRORS).format(name=repository_id) if failed else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Seeded:
    """What the pages must show of the rows written."""

    repos: int
    searched_total: int  # matching SEARCH, active and completed
    busiest_id: int  # the repository with the most attempts
    busiest_attempts: int


def seeding(options: Options, seeded: list[Seeded]) -> Callable[[Session], None]:
    """The rows, written in bulk; what the pages must show of them is appended to ``seeded``."""

    def fill(session: Session) -> None:
        rng, now = random.Random(SEED), utcnow()
        repositories = repository_rows(options.repos, now, rng)
        attempts = attempt_rows(repositories, options.attempts, now, rng)
        session.execute(insert(Repository), repositories)
        session.execute(insert(SyncAttempt), attempts)
        busiest, most = Counter(row["repository_id"] for row in attempts).most_common(1)[0]
        searched = sum(
            1
            for row in repositories
            if SEARCH in row["full_name"]
            and (row["state"], row["sync_status"]) == (RepoState.ACTIVE, SyncStatus.COMPLETED)
        )
        seeded.append(Seeded(options.repos, searched, busiest, most))

    return fill


# ------------------------------------------------------------------------------ the routes


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    target_ms: float | None  # None: the reference, measured for comparison only
    expect: tuple[str, ...]  # text the checked first answer holds
    rows: int | None = None  # repository rows (data-github-id) it lists, when a table


def routes(seeded: Seeded) -> list[Route]:
    deep = min(DEEP_PAGE, -(-seeded.repos // PER_PAGE))
    deep_rows = seeded.repos - (deep - 1) * PER_PAGE if deep < DEEP_PAGE else PER_PAGE
    first_rows = min(PER_PAGE, seeded.repos)
    listed = f"{seeded.repos} repositories"
    return [
        Route("overview", "/", OVERVIEW_TARGET_MS, (f'card-number">{seeded.repos}<',)),
        Route("repositories", "/repositories", REPOSITORIES_TARGET_MS, (listed,), first_rows),
        Route(
            "searched and filtered",
            f"/repositories?q={SEARCH}&state=active&status=completed",
            REPOSITORIES_TARGET_MS,
            (f"{seeded.searched_total} repositor",),
            min(PER_PAGE, seeded.searched_total),
        ),
        Route(
            "sorted by last sync",
            "/repositories?sort=-last_synced_at",
            REPOSITORIES_TARGET_MS,
            (listed,),
            first_rows,
        ),
        Route(
            f"page {deep}",
            f"/repositories?page={deep}",
            REPOSITORIES_TARGET_MS,
            (listed,),
            deep_rows,
        ),
        Route(
            "one repository",
            f"/repositories/{seeded.busiest_id}",
            REPOSITORIES_TARGET_MS,
            (f'data-github-id="{seeded.busiest_id}"', f"{seeded.busiest_attempts} attempts"),
        ),
    ]


REFERENCE = Route("reference (empty route)", REFERENCE_PATH, None, ())


def sign_in(server: ServerProcess, key: str) -> str:
    """The session's cookie, from ``POST /login`` as a browser sends it."""
    response = server.client.post(
        f"{server.url}/login", data={"key": key, "next": "/"}, follow_redirects=False
    )
    token = response.cookies.get(SESSION_COOKIE)
    if response.status_code != 303 or not token:
        raise BenchmarkError(f"sign-in: {response.status_code} {response.text[:300]}")
    return token


def first_answer(server: ServerProcess, route: Route, cookie: str) -> float:
    """Milliseconds of the route's first answer, checked to show what was written."""
    started = time.perf_counter()
    response = server.client.get(f"{server.url}{route.path}", headers={"Cookie": cookie})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchmarkError(f"{route.name}: {response.status_code} {response.text[:300]}")
    missing = [text for text in route.expect if text not in response.text]
    rows = len(set(re.findall(r'<tr data-github-id="(\d+)"', response.text)))
    if missing or (route.rows is not None and rows != route.rows):
        raise BenchmarkError(
            f"{route.name}: the page lacks {missing} or lists {rows} rows, not {route.rows}"
        )
    return elapsed


# ------------------------------------------------------------------------------ runs


@contextlib.contextmanager
def served(options: Options, scratch: Path) -> Iterator[tuple[dict[str, Any], list[Result]]]:
    """Everything set up, every route measured; yields the environment and the results."""
    with contextlib.ExitStack() as stack:
        setup = stack.enter_context(serve_setup(scratch, options.database_url))
        progress(
            f"writing {options.repos} repositories, {options.attempts} attempts and a key "
            f"({setup.backend}) …"
        )
        seeded: list[Seeded] = []
        key = prepare_database(setup.database_url, seeding(options, seeded), scopes=["write"])
        env = {**setup.env, "EPICSTAR_API_RATE_LIMIT": RATE_LIMIT}
        reference = stack.enter_context(
            reference_server("benchmarks.api_reference", scratch / "reference.log")
        )
        epicstar = stack.enter_context(epicstar_serve(env, scratch / "serve.log", name="epicstar"))
        cookie = f"{SESSION_COOKIE}={sign_in(epicstar, key)}"
        headers = {"Cookie": cookie, "User-Agent": "epicstar-dashboard-benchmark"}
        results: list[Result] = []
        for server, route in [(reference, REFERENCE)] + [(epicstar, r) for r in routes(seeded[0])]:
            first_ms = first_answer(server, route, cookie)
            progress(f"  {route.name}: first answer {first_ms:.1f} ms; measuring …")
            run = measure(
                server,
                route.path,
                headers,
                options,
                rate=options.rate,
                plan_path=scratch / f"plan-{len(results)}.json",
                first_ms=first_ms,
            )
            progress(f"    {run.latency_ms.summary()}, failures {run.failures}")
            results.append(Result(route, run))
        yield environment(setup.backend, RATE_LIMIT), results


@dataclass(frozen=True)
class Result:
    route: Route
    run: Run

    @property
    def met(self) -> bool | None:
        target = self.route.target_ms
        return None if target is None else self.run.latency_ms.p95_ms <= target

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route.name,
            "path": self.route.path,
            "target_p95_ms": self.route.target_ms,
            "met": self.met,
            **self.run.to_json(),
        }


def report(options: Options, env: dict[str, Any], results: list[Result]) -> dict[str, Any]:
    return {
        "benchmark": "dashboard",
        "environment": env,
        "parameters": {
            "repositories": options.repos,
            "attempts": options.attempts,
            "rate_per_s": options.rate,
            "connections": options.connections,
            "warmup_s": options.warmup,
            "duration_s": options.duration,
            "loop": "open",
            "key_scopes": ["write"],
        },
        "routes": [result.to_json() for result in results],
        "targets_met": all(result.met is not False for result in results),
        "failures": sum(result.run.failures for result in results),
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a plain-text table, one route a line."""
    env = figures["environment"]
    lines = [
        f"dashboard, {figures['parameters']['repositories']} repositories, "
        f"{figures['parameters']['attempts']} attempts, {env['database']}, "
        f"{figures['parameters']['rate_per_s']:g} requests/s per route (ms)",
        f"{'route':<26}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'target':>8}  met",
    ]
    for route in figures["routes"]:
        latency = route["latency_ms"]
        target = route["target_p95_ms"]
        met = {True: "yes", False: "NO", None: ""}[route["met"]]
        lines.append(
            f"{route['route']:<26}{latency['p50_ms']:>8.1f}{latency['p95_ms']:>8.1f}"
            f"{latency['p99_ms']:>8.1f}{latency['max_ms']:>8.1f}"
            f"{'' if target is None else f'{target:g}':>8}  {met}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    with serve_cli.scratch_directory(options.keep, "epicstar-dashboard-") as scratch:
        try:
            with served(options, scratch) as (env, results):
                figures = report(options, env, results)
        except Exception as error:
            return serve_cli.failed(error)
    print(table(figures))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(figures, indent=2) + "\n")
    if figures["failures"]:
        print(f"benchmark failed: {figures['failures']} requests failed", file=sys.stderr)
        return serve_cli.FAILED
    return 0 if figures["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
