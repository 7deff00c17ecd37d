"""GET /metrics, the counters of epicstar.metrics, and its gauges read at scrape time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from huey import Huey, MemoryHuey, SqliteHuey
from prometheus_client.parser import text_string_to_metric_families

from epicstar.discovery.ratelimit import RateLimit
from epicstar.metrics import (
    PASS_DURATION_BUCKETS,
    WEBHOOK_EVENTS,
    Metrics,
    webhook_event,
    webhook_result,
)
from epicstar.state.database import Database
from epicstar.state.models import AttemptOutcome, Repository, RepoState, SyncStatus
from tests.web.conftest import MakeWeb, Web, payload, push_event, raw, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DOWN = "postgresql://u@127.0.0.1:1/x"  # nothing listens on port 1


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(web: Web) -> Samples:
    response = web.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def rendered(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return parse(body.decode("utf-8"))


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _labels in samples}


def deliveries(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["event"], dict(labels)["result"]): count
        for (name, labels), count in samples.items()
        if name == "epicstar_webhook_deliveries_total"
    }


@pytest.fixture
def memory_queue() -> Huey:
    return MemoryHuey(f"t-{uuid.uuid4().hex[:8]}", results=False, utc=True)


# ----------------------------------------------------------------------- repositories


def test_repositories_are_counted_by_state_and_sync_status(web: Web, db: Database) -> None:
    rows = [
        (RepoState.ACTIVE, SyncStatus.COMPLETED),
        (RepoState.ACTIVE, SyncStatus.COMPLETED),
        (RepoState.ACTIVE, SyncStatus.FAILED),
        (RepoState.SOURCE_GONE, SyncStatus.COMPLETED),
        (RepoState.EXCLUDED, SyncStatus.PENDING),
    ]
    with db.session() as session:
        for github_id, (state, status) in enumerate(rows, start=1):
            session.add(
                Repository(
                    github_id=github_id,
                    full_name=f"owner/repo-{github_id}",
                    state=state,
                    sync_status=status,
                )
            )

    samples = scrape(web)

    counts = {
        (dict(labels)["state"], dict(labels)["sync_status"]): count
        for (name, labels), count in samples.items()
        if name == "epicstar_repositories"
    }
    assert counts[("active", "completed")] == 2
    assert counts[("active", "failed")] == 1
    assert counts[("source_gone", "completed")] == 1
    assert counts[("excluded", "pending")] == 1
    # Every known combination is present, at 0 when empty, so no series vanishes.
    assert len(counts) == len(RepoState) * len(SyncStatus)
    assert sum(counts.values()) == len(rows)
    assert value(samples, "epicstar_scrape_errors_total", source="database") == 0


def test_no_queue_and_no_rate_limit_means_no_such_gauges(web: Web) -> None:
    samples = scrape(web)
    assert not {
        "epicstar_queue_depth",
        "epicstar_queue_scheduled",
        "epicstar_github_rate_limit_remaining",
    } & names(samples)


# --------------------------------------------------------------------------- webhooks


def test_deliveries_are_counted_by_event_and_result(web: Web) -> None:
    assert web.deliver("star", raw("star.created"), delivery="d-1").status_code == 202
    assert web.deliver("star", raw("star.created"), delivery="d-1").json() == {
        "status": "duplicate"
    }
    assert web.deliver("ping", raw("ping")).status_code == 200
    assert web.deliver("push", push_event(repo_id=1)).json()["status"] == "ignored"
    assert web.deliver("watch", raw("watch.started"), secret="wrong").status_code == 401
    assert web.deliver("star", payload("star.created"), form=True).status_code == 202

    assert deliveries(scrape(web)) == {
        ("star", "accepted"): 2,
        ("star", "duplicate"): 1,
        ("ping", "pong"): 1,
        ("push", "ignored"): 1,
        ("watch", "rejected"): 1,
    }


def test_unknown_and_hostile_event_names_are_counted_as_other(web: Web) -> None:
    web.deliver("issues", {"action": "opened"})
    for index in range(20):  # a sender making up names makes no new series
        web.deliver(f"made-up-{index}", {})
    web.deliver("star", raw("star.created"), headers={"X-GitHub-Event": "x" * 500})
    missing = web.post(b"{}", {"Content-Type": "application/json"})
    assert missing.status_code == 401

    assert deliveries(scrape(web)) == {
        ("other", "ignored"): 21,
        ("other", "rejected"): 2,  # malformed event header; no header (nor signature)
    }


def test_a_delivery_the_database_cannot_record_is_counted_unavailable() -> None:
    with serving(Database(DOWN)) as make:
        web = make()
        response = web.deliver("star", raw("star.created"))
        samples = scrape(web)
    assert response.status_code == 503
    assert deliveries(samples) == {("star", "unavailable"): 1}


@pytest.mark.parametrize(
    ("event", "label"),
    [("star", "star"), ("push", "push"), ("Star", "other"), ("", "other"), (None, "other")],
)
def test_event_label(event: str | None, label: str) -> None:
    assert webhook_event(event) == label
    assert {"star", "watch", "push", "repository", "ping"} <= WEBHOOK_EVENTS


@pytest.mark.parametrize(
    ("status_code", "status", "label"),
    [
        (202, "accepted", "accepted"),
        (200, "ignored", "ignored"),
        (200, "duplicate", "duplicate"),
        (200, "pong", "pong"),
        (200, None, "ignored"),
        (202, "something new", "accepted"),
        (400, None, "rejected"),
        (413, None, "rejected"),
        (503, "unavailable", "unavailable"),
    ],
)
def test_result_label(status_code: int, status: str | None, label: str) -> None:
    assert webhook_result(status_code, status) == label


# ------------------------------------------------------------------------------ queue


@pytest.fixture(params=["memory", "sqlite"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    if request.param == "memory":
        yield MemoryHuey(name, results=False, utc=True)
    else:
        huey = SqliteHuey(name, filename=str(tmp_path / "queue.db"), results=False, utc=True)
        yield huey
        huey.storage.close()


def _noop() -> None:
    """A job that never runs: no consumer is started."""


def test_queue_depth_and_scheduled_jobs_are_read_at_scrape_time(db: Database, queue: Huey) -> None:
    noop = queue.task(name="noop")(_noop)
    metrics = Metrics(database=db, huey=queue)
    samples = rendered(metrics)
    assert value(samples, "epicstar_queue_depth") == 0
    assert value(samples, "epicstar_queue_scheduled") == 0

    for _ in range(3):
        noop()
    queue.add_schedule(noop.s(delay=3600))  # what a consumer does with a job due later

    with serving(db) as make:
        samples = scrape(make(metrics=metrics))
    assert value(samples, "epicstar_queue_depth") == 3
    assert value(samples, "epicstar_queue_scheduled") == 1
    assert value(samples, "epicstar_scrape_errors_total", source="queue") == 0


def test_the_default_metrics_of_an_app_with_a_queue_read_it(
    make_web: MakeWeb, memory_queue: Huey
) -> None:
    memory_queue.task(name="noop")(_noop)()
    samples = scrape(make_web(queue=memory_queue))
    assert value(samples, "epicstar_queue_depth") == 1
    assert value(samples, "epicstar_repositories", state="active", sync_status="pending") == 0


# -------------------------------------------------------------------- failing sources


class BrokenQueue:
    def pending_count(self) -> int:
        raise ConnectionError("the queue is gone")

    def scheduled_count(self) -> int:
        return 0


def test_a_database_failure_leaves_the_other_metrics_in_the_scrape(memory_queue: Huey) -> None:
    metrics = Metrics(database=Database(DOWN), huey=memory_queue)
    metrics.observe_pass(AttemptOutcome.MIRRORED, 1.0, 10)
    with serving(Database(DOWN)) as make:
        web = make(metrics=metrics)
        first = scrape(web)
        second = scrape(web)

    assert "epicstar_repositories" not in names(first)
    assert value(first, "epicstar_queue_depth") == 0
    assert value(first, "epicstar_passes_total", outcome="mirrored") == 1
    assert value(first, "epicstar_scrape_errors_total", source="database") == 1
    assert value(first, "epicstar_scrape_errors_total", source="queue") == 0
    assert value(second, "epicstar_scrape_errors_total", source="database") == 2


def test_a_queue_failure_leaves_out_both_queue_gauges(sqlite_db: Database) -> None:
    samples = rendered(Metrics(database=sqlite_db, huey=BrokenQueue()))
    assert not {"epicstar_queue_depth", "epicstar_queue_scheduled"} & names(samples)
    assert value(samples, "epicstar_scrape_errors_total", source="queue") == 1
    assert "epicstar_repositories" in names(samples)


# ------------------------------------------------------------------------- rate limit


def test_rate_limit_gauges_follow_the_last_rate_limit_seen() -> None:
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    last: list[RateLimit | None] = [None]
    metrics = Metrics(rate_limit=lambda: last[0])

    assert "epicstar_github_rate_limit_remaining" not in names(rendered(metrics))

    last[0] = RateLimit(limit=5000, remaining=4321, used=679, reset=reset, resource="core")
    samples = rendered(metrics)
    assert value(samples, "epicstar_github_rate_limit_remaining", resource="core") == 4321
    assert (
        value(samples, "epicstar_github_rate_limit_reset_timestamp_seconds", resource="core")
        == reset.timestamp()
    )

    last[0] = RateLimit(limit=60, remaining=0, used=60, reset=reset, resource=None)
    samples = rendered(metrics)
    assert value(samples, "epicstar_github_rate_limit_remaining", resource="unknown") == 0
    assert value(samples, "epicstar_scrape_errors_total", source="rate_limit") == 0


def test_a_failing_rate_limit_source_is_counted() -> None:
    def broken() -> RateLimit | None:
        raise RuntimeError("boom")

    samples = rendered(Metrics(rate_limit=broken))
    assert value(samples, "epicstar_scrape_errors_total", source="rate_limit") == 1
    assert "epicstar_github_rate_limit_remaining" not in names(samples)


# ------------------------------------------------------------------------ mirror passes


def test_passes_are_counted_by_outcome_with_their_duration_and_bytes() -> None:
    metrics = Metrics()
    before = rendered(metrics)
    for outcome in AttemptOutcome:  # every outcome's series exists before its first pass
        assert value(before, "epicstar_passes_total", outcome=outcome.value) == 0
    assert value(before, "epicstar_fetched_bytes_total") == 0

    metrics.observe_pass(AttemptOutcome.UNCHANGED, 0.2, 0)
    metrics.observe_pass(AttemptOutcome.UNCHANGED, 0.3, 0)
    metrics.observe_pass(AttemptOutcome.MIRRORED, 42.0, 1_000_000)
    metrics.observe_pass("failed", 3000.0, 512)
    samples = rendered(metrics)

    assert value(samples, "epicstar_passes_total", outcome="unchanged") == 2
    assert value(samples, "epicstar_passes_total", outcome="mirrored") == 1
    assert value(samples, "epicstar_passes_total", outcome="failed") == 1
    assert value(samples, "epicstar_passes_total", outcome="blocked") == 0
    assert value(samples, "epicstar_fetched_bytes_total") == 1_000_512

    def bucket(outcome: str, le: str) -> float | None:
        return value(samples, "epicstar_pass_duration_seconds_bucket", outcome=outcome, le=le)

    assert bucket("unchanged", "0.1") == 0
    assert bucket("unchanged", "0.25") == 1
    assert bucket("unchanged", "0.5") == 2
    assert bucket("mirrored", "30.0") == 0
    assert bucket("mirrored", "60.0") == 1
    assert bucket("failed", "1800.0") == 0
    assert bucket("failed", "3600.0") == 1
    assert bucket("failed", "+Inf") == 1
    assert value(samples, "epicstar_pass_duration_seconds_sum", outcome="unchanged") == 0.5
    assert value(samples, "epicstar_pass_duration_seconds_count", outcome="mirrored") == 1

    buckets = sorted(
        float(dict(labels)["le"])
        for (name, labels) in samples
        if name == "epicstar_pass_duration_seconds_bucket" and dict(labels)["outcome"] == "failed"
    )
    assert buckets == [*PASS_DURATION_BUCKETS, float("inf")]
    assert (PASS_DURATION_BUCKETS[0], PASS_DURATION_BUCKETS[-1]) == (0.01, 3600.0)


def test_an_unknown_pass_outcome_is_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown pass outcome"):
        metrics.observe_pass("exploded", 1.0, 0)
    assert "epicstar_passes_total" in names(rendered(metrics))
    assert not any(dict(labels).get("outcome") == "exploded" for _name, labels in rendered(metrics))


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe_pass("mirrored", 1.0, 1)
    assert value(rendered(first), "epicstar_passes_total", outcome="mirrored") == 1
    assert value(rendered(second), "epicstar_passes_total", outcome="mirrored") == 0


# ---------------------------------------------------------------------------- serving


def test_serve_exposes_the_registry_on_its_own_port_until_closed(memory_queue: Huey) -> None:
    metrics = Metrics(huey=memory_queue)
    metrics.observe_pass("unchanged", 0.1, 0)
    with metrics.serve("127.0.0.1", 0) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert response.status_code == 200
    samples = parse(response.text)
    assert value(samples, "epicstar_passes_total", outcome="unchanged") == 1
    assert value(samples, "epicstar_queue_depth") == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)


def test_rewrites_are_counted_by_kind() -> None:
    metrics = Metrics()
    before = rendered(metrics)
    for kind in ("forced", "deleted", "tag_moved"):
        assert value(before, "epicstar_ref_rewrites_total", kind=kind) == 0

    metrics.observe_rewrites(["forced", "deleted", "forced"])
    metrics.observe_rewrites([])
    samples = rendered(metrics)

    assert value(samples, "epicstar_ref_rewrites_total", kind="forced") == 2
    assert value(samples, "epicstar_ref_rewrites_total", kind="deleted") == 1
    assert value(samples, "epicstar_ref_rewrites_total", kind="tag_moved") == 0
