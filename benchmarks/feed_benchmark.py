"""The commit feed in ``epicstar serve``: ingestion through the API, and the feed query over
a million stored commits.

    .venv/bin/python -m benchmarks.feed_benchmark [--feed-commits 1000000] [--repos 1000]
        [--authors 5000] [--ingest-commits 100000] [--batch 1000] [--samples 200]
        [--word-samples 20] [--database-url postgresql://…] [--json FILE] [--keep DIR] [--quick]

Set-up: a new database (SQLite in the data dir, or a new PostgreSQL database on the server
``--database-url`` names, dropped afterwards) holding ``--repos`` repositories and a feed of
``--feed-commits`` commits written straight into it (:mod:`benchmarks.feed_data`), and one key
of scopes ``read`` and ``agent``; ``epicstar serve`` then runs as a child process, its workers
included, against a sandbox of GitHub and OneDev stand-ins, with the API's rate limit raised.

1. The feed query: ``GET /api/v1/commits`` unfiltered (page 1 and page 20), for one
   repository, for one author, and for a rare word (``?q=``), each sent ``--samples`` times
   one after another (``--word-samples`` for the word) after a few unmeasured requests.
   Target: p95 at most 50 ms for the unfiltered, repository and author queries; the word
   search is reported as measured.
2. Ingestion: ``--ingest-commits`` commits posted in batches of ``--batch`` to
   ``POST /api/v1/repositories/{id}/commits``, one batch after another as the agent posts
   them, first to a reference that only reads and decodes the body
   (:mod:`benchmarks.feed_reference`), then to epicstar: commits per second and the latency
   of a batch. Each of epicstar's answers is checked (201, every commit inserted).

The figures go to stdout as one JSON document (and to ``--json``); progress to stderr. Exit
status 0 when the target is met, 1 when not, 2 when the benchmark failed. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from benchmarks import feed_data, serve_cli
from benchmarks.contenders import BenchmarkError
from benchmarks.latency import Latency
from benchmarks.serve_cli import progress
from benchmarks.serve_setup import prepare_database, serve_setup
from benchmarks.servers import ServerProcess, epicstar_serve, reference_server
from benchmarks.steady_runs import environment
from epicstar.state.models import SyncMethod

TARGET_P95_MS = 50.0
RATE_LIMIT = "1000000/minute"  # the budget must not be what is measured
WARMUP_REQUESTS = 5
TARGETED = ("unfiltered", "page 20", "repository", "author")
DEFAULTS: dict[str, Any] = {
    "feed_commits": 1_000_000,
    "repos": 1000,
    "authors": 5000,
    "ingest_commits": 100_000,
    "batch": 1000,
    "samples": 200,
    "word_samples": 20,
}
QUICK: dict[str, Any] = {
    "feed_commits": 3000,
    "repos": 30,
    "authors": 50,
    "ingest_commits": 400,
    "batch": 100,
    "samples": 10,
    "word_samples": 3,
}
INGEST_REPOSITORIES = 10
"""The batches are posted to this many repositories in turn."""


@dataclass(frozen=True)
class Options:
    feed_commits: int
    repos: int
    authors: int
    ingest_commits: int
    batch: int
    samples: int
    word_samples: int
    database_url: str | None
    json_path: Path | None
    keep: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.feed_benchmark",
        description="The feed query over a million stored commits and the ingestion of "
        "commits through the API, in epicstar serve.",
    )
    for name, help_text in (
        ("--feed-commits", "commits stored before the queries (default 1000000)"),
        ("--repos", "repositories they belong to (default 1000)"),
        ("--authors", "authors they are spread over (default 5000)"),
        ("--ingest-commits", "commits posted to the ingestion API (default 100000)"),
        ("--batch", "commits per posted batch (default 1000, the API's largest)"),
        ("--samples", "requests measured per query (default 200)"),
        ("--word-samples", "requests measured for the word search (default 20)"),
    ):
        parser.add_argument(name, type=int, help=help_text)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (e.g. postgresql://postgres@127.0.0.1:5432/test): a new "
        "database is created there for the run and dropped afterwards (default: SQLite)",
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    parser.add_argument("--keep", type=Path, help="work in this new directory and keep it")
    parser.add_argument("--quick", action="store_true", help="a smoke run with tiny figures")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    values = {key: getattr(args, key) if getattr(args, key) is not None else base[key]
              for key in DEFAULTS}  # fmt: skip
    if min(values.values()) < 1:
        parser.error("every count must be at least 1")
    if not 1 <= values["batch"] <= 1000:
        parser.error("--batch must be 1 to 1000")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep} exists already")
    if args.database_url is not None and not args.database_url.startswith(
        serve_cli.POSTGRES_SCHEMES
    ):
        parser.error("--database-url must be a postgresql:// URL")
    return Options(
        **values, database_url=args.database_url, json_path=args.json_path, keep=args.keep
    )


# ------------------------------------------------------------------------------ set-up


def fill(options: Options) -> Callable[[Session], None]:
    def add(session: Session) -> None:
        feed_data.store_feed(session, options.feed_commits, options.repos, options.authors)
        session.add_all(
            feed_data.repositories(
                INGEST_REPOSITORIES,
                feed_data.INGESTION_REPOSITORY_BASE,
                "posted",
                SyncMethod.AGENT,
            )
        )

    return add


def queries(options: Options) -> dict[str, dict[str, Any]]:
    """Each measured query's parameters."""
    repository = feed_data.FEED_REPOSITORY_BASE + 7 % options.repos
    _name, email = feed_data.author(42 % options.authors)
    return {
        "unfiltered": {},
        "page 20": {"page": 20},
        "repository": {"repository": repository},
        "author": {"author": email},
        "word": {"q": feed_data.RARE_WORD},
    }


# ------------------------------------------------------------------------------ runs


def _checked(server: ServerProcess, response: Any, status: int) -> Any:
    if response.status_code != status:
        server.check_alive()
        raise BenchmarkError(f"{server.name}: {response.status_code} {response.text[:300]}")
    return response.json()


def measure_query(
    server: ServerProcess, key: str, params: dict[str, Any], samples: int
) -> dict[str, Any]:
    url = f"{server.url}/api/v1/commits"
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "epicstar-feed-benchmark"}
    first = _checked(server, server.client.get(url, params=params, headers=headers), 200)
    for _ in range(WARMUP_REQUESTS - 1):
        _checked(server, server.client.get(url, params=params, headers=headers), 200)
    latencies = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        response = server.client.get(url, params=params, headers=headers)
        latencies.append(time.perf_counter_ns() - started)
        _checked(server, response, 200)
    latency = Latency.of(latencies)
    return {
        "params": params,
        "items": len(first["items"]),
        "has_more": first["has_more"],
        "latency_ms": {name: round(value, 3) for name, value in asdict(latency).items()},
    }


def measure_ingestion(
    server: ServerProcess, key: str, bodies: list[tuple[int, bytes]], *, check: bool
) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "User-Agent": "epicstar-feed-benchmark",
    }
    latencies = []
    commits = 0
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    for github_id, body in bodies:
        url = f"{server.url}/api/v1/repositories/{github_id}/commits"
        sent = time.perf_counter_ns()
        response = server.client.post(url, content=body, headers=headers, timeout=120)
        latencies.append(time.perf_counter_ns() - sent)
        answer = _checked(server, response, 201)
        commits += answer["total"]
        if check and answer["inserted"] != answer["total"]:
            raise BenchmarkError(f"{server.name}: a batch was not wholly inserted: {answer}")
    elapsed = time.perf_counter() - started
    latency = Latency.of(latencies)
    return {
        "server": server.name,
        "batches": len(bodies),
        "commits": commits,
        "seconds": round(elapsed, 3),
        "commits_per_s": round(commits / elapsed, 1),
        "batch_latency_ms": {name: round(value, 3) for name, value in asdict(latency).items()},
        "server_cpu_s": round(server.cpu_seconds() - cpu_before, 3),
    }


@contextlib.contextmanager
def served(options: Options, scratch: Path) -> Iterator[dict[str, Any]]:
    """Everything set up and measured; yields the figures but the target."""
    with contextlib.ExitStack() as stack:
        setup = stack.enter_context(serve_setup(scratch, options.database_url))
        load_before = os.getloadavg()
        progress(
            f"writing {options.repos} repositories and {options.feed_commits} commits "
            f"({setup.backend}) …"
        )
        started = time.perf_counter()
        key = prepare_database(setup.database_url, fill(options), scopes=["read", "agent"])
        setup_s = time.perf_counter() - started
        progress(f"  written in {setup_s:.1f} s")
        env = {**setup.env, "EPICSTAR_API_RATE_LIMIT": RATE_LIMIT}
        reference = reference_server("benchmarks.feed_reference", scratch / "reference.log")
        stack.callback(reference.stop)
        epicstar = epicstar_serve(env, scratch / "serve.log", name="epicstar")
        stack.callback(epicstar.stop)
        for server in (reference, epicstar):  # both started already: they start together
            stack.enter_context(server)
        measured: dict[str, Any] = {}
        for name, params in queries(options).items():
            samples = options.word_samples if name == "word" else options.samples
            measured[name] = measure_query(epicstar, key, params, samples)
            latency = measured[name]["latency_ms"]
            progress(
                f"  GET /api/v1/commits {name}: {measured[name]['items']} items, "
                f"p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms, "
                f"max {latency['max_ms']:.2f} ms"
            )
        progress(f"ingesting {options.ingest_commits} commits in batches of {options.batch} …")
        bodies = list(feed_data.batches(options.ingest_commits, options.batch, INGEST_REPOSITORIES))
        ingestion = []
        for server, check in ((reference, False), (epicstar, True)):
            run = measure_ingestion(server, key, bodies, check=check)
            progress(
                f"  {server.name}: {run['commits_per_s']:.0f} commits/s, batch p95 "
                f"{run['batch_latency_ms']['p95_ms']:.1f} ms"
            )
            ingestion.append(run)
        yield {
            "environment": {
                **environment(setup.backend, RATE_LIMIT),
                "load_average_before": [round(value, 2) for value in load_before],
                "load_average_after": [round(value, 2) for value in os.getloadavg()],
            },
            "setup_s": round(setup_s, 1),
            "queries": measured,
            "ingestion": ingestion,
        }


def report(options: Options, figures: dict[str, Any]) -> dict[str, Any]:
    p95s = {name: figures["queries"][name]["latency_ms"]["p95_ms"] for name in TARGETED}
    return {
        "benchmark": "feed",
        "environment": figures["environment"],
        "parameters": {
            "feed_commits": options.feed_commits,
            "repositories": options.repos,
            "authors": options.authors,
            "rare_word_commits": feed_data.RARE_COMMITS,
            "per_page": 50,
            "samples": options.samples,
            "word_samples": options.word_samples,
            "ingest_commits": options.ingest_commits,
            "batch": options.batch,
            "setup_s": figures["setup_s"],
        },
        "queries": figures["queries"],
        "ingestion": figures["ingestion"],
        "target": {
            "p95_ms": TARGET_P95_MS,
            "queries": list(TARGETED),
            "worst_p95_ms": max(p95s.values()),
            "met": max(p95s.values()) <= TARGET_P95_MS,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    with serve_cli.scratch_directory(options.keep, "epicstar-feed-") as scratch:
        try:
            with served(options, scratch) as figures:
                result = report(options, figures)
        except Exception as error:
            return serve_cli.failed(error)
    text = json.dumps(result, indent=2)
    print(text)
    if options.json_path is not None:
        options.json_path.write_text(text + "\n")
    return 0 if result["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
