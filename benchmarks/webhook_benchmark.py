"""Latency of ``POST /webhooks/github`` in ``epicstar serve`` at 50 concurrent senders.

    .venv/bin/python -m benchmarks.webhook_benchmark [--rates 100,250,500] [--repos 200]
        [--duration 10] [--warmup 2] [--connections 50] [--database-url postgresql://…]
        [--no-closed-loop] [--log-level info] [--keep DIR] [--json FILE] [--quick]

Target (the issue's): the handler only records and enqueues, with p95 under 10 ms at 50
concurrent senders. A sandbox (GitHub and OneDev stand-ins) holds ``--repos`` repositories,
all starred by the mirrored user; ``epicstar serve`` runs as a child process, mirrors them all
(untimed), and then receives signed ``push`` deliveries for them (each makes a repository due
and queues a mirror job: the hot path), mixed with stars by another user (ignored), from a
load generator in a third process over 50 kept-alive HTTP/1.1 connections. The same load
goes, in the same run, to a reference server doing no work on the same HTTP stack; and
epicstar also gets a load of ignored stars only (recorded, nothing queued), which shows the
handler without the passes its pushes start.

Open loop (the target's meaning): each rate for ``--warmup`` + ``--duration`` seconds.
Closed loop (saturation): every connection sends back to back. Exit status 0 when epicstar's
open-loop p95 with the mixed load is under 10 ms at every rate, 1 when not, 2 when the
benchmark failed (no figures, or any delivery answered other than 200/202, or not as
expected). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from benchmarks import serve_cli
from benchmarks import webhook_payloads as payloads
from benchmarks.contenders import BenchmarkError
from benchmarks.latency import Latency, p99_ms
from benchmarks.load_process import run_load_generator
from benchmarks.serve_cli import progress
from benchmarks.serve_setup import serve_setup
from benchmarks.servers import (
    MetricKey,
    ServerProcess,
    by_label,
    epicstar_serve,
    reference_server,
    total,
)
from benchmarks.webhook_load import Plan, Template
from benchmarks.webhook_report import (
    CpuUse,
    Environment,
    Parameters,
    Results,
    Run,
    Workers,
    format_table,
)
from epicstar.sandbox import Sandbox

OWNER = "bench"
PATH = "/webhooks/github"
DEFAULTS: dict[str, Any] = {
    "repos": 200,
    "rates": (100.0, 250.0, 500.0),
    "duration": 10.0,
    "warmup": 2.0,
}
QUICK: dict[str, Any] = {"repos": 5, "rates": (50.0,), "duration": 1.0, "warmup": 0.5}
FOREIGN_LOGIN = "someone-else"  # stars by anyone but the mirrored user are ignored
SETUP_TIMEOUT_BASE = 120.0  # seconds, plus one per repository, to mirror them all
CLIENT_GRACE = 120.0  # seconds the load generator may take beyond warm-up + duration
WEB_ONLY = "epicstar web-only"  # serve --workers 0: records and queues, passes run elsewhere
EXPECTED = {  # (server, workload): the answers every delivery must get
    ("epicstar", "mixed"): frozenset({"push: accepted", "star: ignored"}),
    (WEB_ONLY, "mixed"): frozenset({"push: accepted", "star: ignored"}),
    ("epicstar", "ignored"): frozenset({"star: ignored"}),
    ("reference", "mixed"): frozenset({"push: accepted", "star: accepted"}),
}


@dataclass(frozen=True)
class Options(serve_cli.ServeOptions):
    rates: tuple[float, ...]
    closed_loop: bool
    star_share: float
    log_level: str
    drain_timeout: float


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, e.g. 100,250,500")
    return rates


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.webhook_benchmark",
        description="Latency of epicstar's webhook receiver at 50 concurrent senders, "
        "against a do-nothing server on the same HTTP stack.",
    )
    parser.add_argument(
        "--rates",
        type=_rates,
        help="open-loop rates in requests/s, comma-separated (default 100,250,500)",
    )
    parser.add_argument("--repos", type=int, help="tracked repositories (default 200)")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 2)")
    parser.add_argument(
        "--no-closed-loop",
        dest="closed_loop",
        action="store_false",
        help="skip the closed-loop (saturation) runs",
    )
    parser.add_argument(
        "--star-share",
        type=float,
        default=0.1,
        help="share of the deliveries that are stars by another user (default 0.1)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="EPICSTAR_LOG_LEVEL of the server (default info, the service's default)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the workers' backlog after each epicstar run (600)",
    )
    serve_cli.add_arguments(
        parser,
        connections=50,
        connections_help="concurrent senders (50)",
        keep_help="work in this new directory and keep it (servers' logs, sandbox, data dir)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small defaults for a smoke run: --repos 5 --rates 50 --duration 1 --warmup 0.5",
    )
    args = parser.parse_args(argv)
    values = serve_cli.sized(parser, args, DEFAULTS, QUICK)
    if values["duration"] <= 0 or values["warmup"] < 0:
        parser.error("--duration must be positive and --warmup not negative")
    if not 0 <= args.star_share < 1:
        parser.error("--star-share must be at least 0 and below 1")
    serve_cli.check_arguments(parser, args)
    return Options(
        **serve_cli.common_options(args, values),
        rates=values["rates"],
        closed_loop=args.closed_loop,
        star_share=args.star_share,
        log_level=args.log_level,
        drain_timeout=args.drain_timeout,
    )


# ------------------------------------------------------------------------------ set-up


@dataclass(frozen=True)
class World:
    """The deliveries about the sandbox's repositories (all starred by the mirrored user)."""

    templates: tuple[Template, ...]  # pushes with stars by another user among them
    star_share: float  # actual share of star deliveries in ``templates``
    ignored: tuple[Template, ...]  # only stars by another user, one per repository


def _interleave(pushes: list[Template], stars: list[Template]) -> list[Template]:
    """Both lists merged so that the stars are spread evenly among the pushes."""
    keyed = [((i + 0.5) / len(pushes), 0, t) for i, t in enumerate(pushes)]
    keyed += [((j + 0.5) / len(stars), 1, t) for j, t in enumerate(stars)]
    return [t for _, _, t in sorted(keyed, key=lambda item: (item[0], item[1]))]


def prepare_world(
    sandbox: Sandbox, github_token: str, repos: int, star_share: float, secret: bytes
) -> World:
    user = sandbox.github.tokens[github_token]
    names = [f"repo-{index:04d}" for index in range(1, repos + 1)]
    for name in names:
        sandbox.github.create_repo(OWNER, name, description=f"benchmark repository {name}")
    full_names = tuple(f"{OWNER}/{name}" for name in names)
    sandbox.github.star_many(user.login, full_names)
    headers = {"Authorization": f"Bearer {github_token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=sandbox.github_api_url, headers=headers, timeout=30) as client:
        repositories = []
        for full_name in full_names:
            response = client.get(f"/repos/{full_name}")
            response.raise_for_status()
            repositories.append(response.json())
    pusher = payloads.user(user.login, user.id)
    foreign = payloads.user(FOREIGN_LOGIN, 9_000_001)
    pushes = [payloads.template("push", payloads.push(r, pusher), secret) for r in repositories]
    star_count = round(repos * star_share / (1 - star_share)) if star_share > 0 else 0
    stars = [
        payloads.template("star", payloads.star(repositories[i % repos], foreign), secret)
        for i in range(0, star_count * 7, 7)
    ]
    templates = _interleave(pushes, stars) if stars else pushes
    ignored = tuple(
        payloads.template("star", payloads.star(r, foreign), secret) for r in repositories
    )
    return World(tuple(templates), len(stars) / len(templates), ignored)


Condition = Callable[[Mapping[MetricKey, float]], bool]


def wait_until(
    server: ServerProcess, done: Condition, timeout: float, what: str, *, required: bool = True
) -> float | None:
    """Poll ``/metrics`` until ``done(metrics)`` holds on two scrapes in a row with the same
    count of finished passes; seconds until the first of them (None: timed out)."""
    started = time.monotonic()
    first_seen: float | None = None  # when ``done`` began to hold with this pass count
    last_passes = -1.0
    while time.monotonic() - started < timeout:
        server.check_alive()
        metrics = server.metrics()
        passes = total(metrics, "epicstar_passes_total")
        if not done(metrics):
            first_seen = None
        elif passes != last_passes or first_seen is None:
            first_seen = time.monotonic()
        else:
            return first_seen - started
        last_passes = passes
        time.sleep(0.25)
    if required:
        raise BenchmarkError(f"epicstar did not finish {what} within {timeout:g} s")
    return None


def idle(metrics: Mapping[MetricKey, float]) -> bool:
    """No job waits in the queue and no pass is running."""
    queued = total(metrics, "epicstar_queue_depth")
    running = total(metrics, "epicstar_repositories", sync_status="in_progress")
    return queued == 0 and running == 0


def all_mirrored(repos: int) -> Condition:
    def check(metrics: Mapping[MetricKey, float]) -> bool:
        completed = total(metrics, "epicstar_repositories", state="active", sync_status="completed")
        return idle(metrics) and completed == repos

    return check


# ------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class ClientOutput:
    samples: dict[str, Any]
    cpu_s: float


def run_client(plan: Plan, scratch: Path) -> ClientOutput:
    """The load generator in its own process; its samples."""
    samples = run_load_generator(
        "benchmarks.webhook_load",
        plan.to_json(),
        scratch / "plan.json",
        timeout=plan.warmup + plan.duration + CLIENT_GRACE,
    )
    return ClientOutput(samples, float(samples["cpu_s"]))


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _diff(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, int]:
    keys = set(after) | set(before)
    changes = {key: round(after.get(key, 0.0) - before.get(key, 0.0)) for key in keys}
    return {key: value for key, value in sorted(changes.items()) if value}


class Bench:
    def __init__(self, options: Options, world: World, scratch: Path) -> None:
        self.options = options
        self.world = world
        self.scratch = scratch

    def plan(self, server: ServerProcess, workload: str, mode: str, rate: float) -> Plan:
        return Plan(
            host=server.host,
            port=server.port,
            path=PATH,
            mode=mode,
            connections=self.options.connections,
            rate=rate,
            warmup=self.options.warmup,
            duration=self.options.duration,
            templates=self.world.templates if workload == "mixed" else self.world.ignored,
        )

    def measure(
        self, name: str, workload: str, server: ServerProcess, mode: str, rate: float | None
    ) -> Run:
        """One run against ``server``; for epicstar, its workers are idle before it starts,
        and their backlog is waited for afterwards."""
        is_epicstar = name == "epicstar"
        if is_epicstar:
            wait_until(server, idle, self.options.drain_timeout, "the previous backlog")
            before = server.metrics()
        plan = self.plan(server, workload, mode, rate or 0.0)
        wall0, server0, own0 = time.monotonic(), server.cpu_seconds(), _own_cpu()
        client = run_client(plan, self.scratch)
        wall, server_cpu = time.monotonic() - wall0, server.cpu_seconds() - server0
        sandbox_cpu = max(0.0, _own_cpu() - own0 - client.cpu_s)
        server.check_alive()
        samples = client.samples
        workers = None
        if is_epicstar:
            after = server.metrics()
            drain = wait_until(
                server, idle, self.options.drain_timeout, "the backlog", required=False
            )
            drained = server.metrics()
            workers = self._workers(before, after, drained, drain)
        answers: dict[str, int] = samples["answers"]
        window_s = samples["window_ns"] / 1e9
        return Run(
            server=name,
            workload=workload,
            mode=mode,
            rate=rate,
            connections=plan.connections,
            window_s=window_s,
            answered_in_window=samples["answered_in_window"],
            latency=Latency.of(samples["latencies_ns"]),
            statuses=samples["statuses"],
            answers=answers,
            transport_errors=samples["transport_errors"],
            errors=tuple(samples["errors"]),
            warmup_requests=samples["warmup_requests"],
            sent=samples["warmup_requests"] + len(samples["latencies_ns"]),
            cpu=CpuUse(wall, server_cpu, client.cpu_s, sandbox_cpu),
            from_schedule=Latency.of(samples["from_schedule_ns"]) if mode == "open" else None,
            client_lag_p99_ms=p99_ms(samples["client_lag_ns"]),
            workers=workers,
            unexpected={k: v for k, v in answers.items() if k not in EXPECTED[name, workload]},
        )

    @staticmethod
    def _workers(
        before: Mapping[MetricKey, float],
        after: Mapping[MetricKey, float],
        drained: Mapping[MetricKey, float],
        drain_s: float | None,
    ) -> Workers:
        deliveries = "epicstar_webhook_deliveries_total"
        accepted = total(after, deliveries, result="accepted") - total(
            before, deliveries, result="accepted"
        )

        def passes(metrics: Mapping[MetricKey, float]) -> dict[str, float]:
            return by_label(metrics, "epicstar_passes_total", "outcome")

        return Workers(
            accepted=round(accepted),
            deliveries_counted=round(total(after, deliveries) - total(before, deliveries)),
            passes_during=_diff(passes(after), passes(before)),
            passes_after=_diff(passes(drained), passes(after)),
            drain_s=drain_s,
            scheduled_after=round(total(drained, "epicstar_queue_scheduled")),
        )

    def series(
        self, servers: Mapping[str, ServerProcess], mode: str, rate: float | None
    ) -> list[Run]:
        """The reference, epicstar with ignored deliveries only, epicstar without workers
        (it records and queues), then epicstar with the mix and its own workers (whose
        backlog of passes is waited for before the next run), under the same load."""
        runs = []
        for name, workload in (
            ("reference", "mixed"),
            ("epicstar", "ignored"),
            (WEB_ONLY, "mixed"),
            ("epicstar", "mixed"),
        ):
            label = f"{rate:g} req/s" if rate is not None else "back to back"
            what = name if workload == "mixed" else f"{name}, {workload} deliveries only"
            progress(f"  {mode} loop, {label}: {what} …")
            run = self.measure(name, workload, servers[name], mode, rate)
            progress(
                f"    {run.throughput:.1f} req/s, {run.latency.summary()}, failures {run.failures}"
                + (
                    f", backlog drained in {run.workers.drain_s:.1f} s"
                    if run.workers is not None and run.workers.drain_s is not None
                    else ""
                )
            )
            counted = run.workers.deliveries_counted if run.workers is not None else run.sent
            if not run.failures and counted != run.sent:
                raise BenchmarkError(
                    f"epicstar counted {counted} deliveries, the client sent {run.sent}"
                )
            runs.append(run)
        return runs


def environment(backend: str, log_level: str) -> Environment:
    return Environment(
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        cpus=os.cpu_count() or 1,
        python=platform.python_version(),
        uvicorn=uvicorn.__version__,
        http_parser="httptools" if importlib.util.find_spec("httptools") else "h11",
        database=backend,
        queue="huey SQLite in the data dir",
        log_level=log_level,
    )


def run_benchmark(options: Options, scratch: Path) -> Results:
    """Everything, in ``scratch`` (which the caller removes)."""
    secret = secrets.token_hex(20)
    with contextlib.ExitStack() as stack:
        setup = stack.enter_context(serve_setup(scratch, options.database_url))
        # Thousands of passes ask GitHub for each repository: no rate limit in the way.
        setup.sandbox.github.set_rate_limit(setup.github_token, 1_000_000_000)
        progress(f"creating {options.repos} repositories in the sandbox …")
        world = prepare_world(
            setup.sandbox, setup.github_token, options.repos, options.star_share, secret.encode()
        )
        reference = stack.enter_context(
            reference_server(
                "benchmarks.webhook_reference", scratch / "reference.log", name="reference server"
            )
        )
        env = {
            **setup.env,
            "EPICSTAR_WEBHOOK_SECRET": secret,
            "EPICSTAR_LOG_LEVEL": options.log_level,
        }
        progress(
            f"starting epicstar serve ({setup.backend}); it mirrors the starred repositories …"
        )
        started = time.monotonic()
        epicstar = stack.enter_context(epicstar_serve(env, scratch / "serve.log"))
        wait_until(
            epicstar,
            all_mirrored(options.repos),
            SETUP_TIMEOUT_BASE + options.repos,
            f"mirroring {options.repos} repositories",
        )
        setup_s = time.monotonic() - started
        progress(f"  {options.repos} repositories mirrored in {setup_s:.1f} s")
        # The same database, a queue of its own that no worker reads: what the handler costs
        # when passes run elsewhere (workers on other machines).
        web_only_env = {
            **env,
            "EPICSTAR_WORKERS": "0",
            "EPICSTAR_QUEUE_URL": f"sqlite:///{scratch / 'web-only-queue.db'}",
        }
        web_only = stack.enter_context(epicstar_serve(web_only_env, scratch / "web-only.log"))
        bench = Bench(options, world, scratch)
        servers = {"reference": reference, "epicstar": epicstar, WEB_ONLY: web_only}
        runs: list[Run] = []
        for rate in options.rates:
            runs += bench.series(servers, "open", rate)
        if options.closed_loop:
            runs += bench.series(servers, "closed", None)
    parameters = Parameters(
        repositories=options.repos,
        connections=options.connections,
        rates=options.rates,
        warmup_s=options.warmup,
        duration_s=options.duration,
        closed_loop=options.closed_loop,
        star_share=world.star_share,
    )
    measured_on = environment(setup.backend, options.log_level)
    return Results(measured_on, parameters, setup_s, tuple(runs))


def write_json(path: Path, figures: Mapping[str, object]) -> None:
    path.write_text(json.dumps(figures, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    with serve_cli.scratch_directory(options.keep, "epicstar-wh-") as scratch:
        try:
            results = run_benchmark(options, scratch)
        except Exception as error:
            return serve_cli.failed(error)
    print(format_table(results))
    if options.json_path is not None:
        write_json(options.json_path, results.to_json())
    if results.failures:
        print(f"benchmark failed: {results.failures} deliveries failed", file=sys.stderr)
        return serve_cli.FAILED
    return 0 if results.target_met else 1


if __name__ == "__main__":
    sys.exit(main())
