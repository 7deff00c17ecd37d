"""Notifications through Apprise: a repository failed for good, lost its source, or is new.

The service URLs come from ``EPICSTAR_NOTIFY_URLS`` (any URL Apprise understands: Slack,
Discord, ntfy, e-mail, a JSON webhook, ...). Sending never blocks or breaks the caller: each
message goes on a bounded queue that one daemon thread delivers; a failing or slow service is
logged (``notify.failed``, never with its URL, which holds its token) and the message dropped.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Self

import structlog

from epicstar.closing import Closeable
from epicstar.config import ConfigError, Settings
from epicstar.logs import SecretMasker

if TYPE_CHECKING:  # Apprise is loaded only when a notification service is configured
    import apprise

    from epicstar.mirror.rewrites import Rewrite

log = structlog.get_logger("epicstar.notify")

NotifyKind = Literal["success", "warning", "failure"]
"""An ``apprise.NotifyType`` value, named without loading Apprise."""

DEFAULT_MAX_QUEUED = 1000
"""Messages waiting beyond this many are dropped (and logged) rather than held."""

_MAX_ERROR_CHARS = 500
_REWRITES_LISTED = 20
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")


@dataclass(frozen=True, slots=True)
class _Message:
    kind: str
    full_name: str
    title: str
    body: str
    notify_type: NotifyKind


class Notifier(Closeable):
    """Sends epicstar's notifications to every configured Apprise service, in the background.

    A notifier without services does nothing and starts no thread. Call :meth:`close` (or use
    it as a context manager) at shutdown to deliver what is still queued.
    """

    def __init__(
        self,
        services: apprise.Apprise | None,
        *,
        secrets: Iterable[str] = (),
        notify_new_mirrors: bool = False,
        onedev_url: str | None = None,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self._apprise = services
        self._masker = SecretMasker(secrets)
        self._notify_new_mirrors = notify_new_mirrors
        self._onedev_url = onedev_url.rstrip("/") if onedev_url else None
        self._max_queued = max_queued
        # Unbounded underneath so that close() can always add its stop marker;
        # the bound is kept by counting _pending.
        self._queue: queue.Queue[_Message | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0  # queued or being delivered
        self._closed = False
        self._abandon = threading.Event()
        self._thread: threading.Thread | None = None
        if services is not None and len(services) > 0:
            self._thread = threading.Thread(target=self._run, name="epicstar-notify", daemon=True)
            self._thread.start()

    @classmethod
    def disabled(cls) -> Self:
        """A notifier that sends nothing."""
        return cls(None)

    @property
    def enabled(self) -> bool:
        """Whether any notification service is configured."""
        return self._thread is not None

    # The events

    def permanent_failure(
        self,
        full_name: str,
        github_id: int,
        error: str | None,
        attempts: int,
        *,
        onedev_path: str | None = None,
    ) -> None:
        """A repository stopped being retried automatically."""
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        first = (
            f"Mirroring {full_name} (GitHub id {github_id}) failed after {tries} and is no "
            f"longer retried automatically: {self._error_text(error)}"
        )
        second = "Fix the cause, then run `epicstar sync --retry-failed`."
        if onedev_path:
            second = f"OneDev: {self._where(onedev_path)}. {second}"
        self._send(
            "permanent_failure",
            full_name,
            f"epicstar: {full_name} failed permanently",
            f"{first}\n{second}",
            "failure",
        )

    def source_lost(
        self,
        full_name: str,
        github_id: int,
        state: str,
        reason: str | None,
        *,
        onedev_path: str | None = None,
    ) -> None:
        """GitHub no longer serves a repository (``source_gone``) or blocks it (``blocked``)."""
        if state == "blocked":
            title = f"epicstar: {full_name} is blocked on GitHub"
            first = f"GitHub blocks access to {full_name} (GitHub id {github_id})"
        elif state == "source_gone":
            title = f"epicstar: {full_name} is gone from GitHub"
            first = (
                f"{full_name} (GitHub id {github_id}) was deleted on GitHub "
                "or is no longer visible to the token"
            )
        else:
            title = f"epicstar: {full_name} is no longer on GitHub"
            first = f"GitHub no longer serves {full_name} (GitHub id {github_id}, state {state})"
        if reason:
            first = f"{first}: {self._error_text(reason)}"
        where = f" at {self._where(onedev_path)}" if onedev_path else ""
        second = f"The mirror in OneDev{where} is kept."
        self._send("source_lost", full_name, title, f"{first}\n{second}", "warning")

    def new_mirror(self, full_name: str, github_id: int, onedev_path: str) -> None:
        """A repository was mirrored for the first time (only with EPICSTAR_NOTIFY_NEW_MIRRORS)."""
        if not self._notify_new_mirrors:
            return
        self._send(
            "new_mirror",
            full_name,
            f"epicstar: {full_name} mirrored",
            f"{full_name} (GitHub id {github_id}) is now mirrored in OneDev at "
            f"{self._where(onedev_path)}.",
            "success",
        )

    def rewritten(
        self,
        full_name: str,
        github_id: int,
        rewrites: Sequence[Rewrite],
        *,
        held: bool,
        onedev_path: str | None = None,
    ) -> None:
        """A pass found branches or tags GitHub overwrote or deleted: one message per pass."""
        count = "1 ref" if len(rewrites) == 1 else f"{len(rewrites)} refs"
        if rewrites and rewrites[0].whole_repository:
            title = f"epicstar: GitHub rewrote the whole history of {full_name}"
            first = f"Every branch of {full_name} (GitHub id {github_id}) was rewritten: {count}."
        else:
            title = f"epicstar: {count} of {full_name} rewritten on GitHub"
            first = f"GitHub overwrote or deleted {count} of {full_name} (GitHub id {github_id})."
        lines = [first]
        lines += [f"- {_describe_rewrite(r)}" for r in rewrites[:_REWRITES_LISTED]]
        if len(rewrites) > _REWRITES_LISTED:
            lines.append(f"- and {len(rewrites) - _REWRITES_LISTED} more")
        where = f" at {self._where(onedev_path)}" if onedev_path else ""
        if held:
            lines.append(
                f"The mirror in OneDev{where} keeps them as they were (EPICSTAR_REWRITE_POLICY="
                f"hold) until `epicstar approve {full_name}`."
            )
        else:
            lines.append(f"The mirror in OneDev{where} follows GitHub.")
        lines.append(
            f"The old tips are kept: `epicstar history {full_name}` lists them, "
            f"`epicstar restore {full_name} ID` brings one back as a branch."
        )
        self._send("rewritten", full_name, title, "\n".join(lines), "warning")

    # Lifecycle

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued message was delivered or dropped; False at the timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=max(timeout, 0.0))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (waiting up to ``timeout`` seconds), then stop the thread.

        Messages still waiting at the timeout are dropped; later events are ignored.
        """
        with self._idle:
            if self._closed:
                return
            self._closed = True
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        if not self.flush(timeout):
            self._abandon.set()
            log.warning("notify.abandoned", pending=self._pending, timeout=timeout)
        self._queue.put(None)
        self._thread.join(max(deadline - time.monotonic(), 0.0))

    # Internals

    def _where(self, onedev_path: str) -> str:
        path = onedev_path.strip("/")
        return f"{self._onedev_url}/{path}" if self._onedev_url else path

    def _error_text(self, text: str | None) -> str:
        """One line, secrets masked (before shortening, so no part of a secret survives)."""
        if not text:
            return "no error message"
        line = " ".join(str(self._masker.mask(text)).split())
        if len(line) > _MAX_ERROR_CHARS:
            line = line[: _MAX_ERROR_CHARS - 1] + "…"
        return line

    def _send(
        self, kind: str, full_name: str, title: str, body: str, notify_type: NotifyKind
    ) -> None:
        if self._thread is None:
            return
        message = _Message(
            kind=kind,
            full_name=full_name,
            title=str(self._masker.mask(title)),
            body=str(self._masker.mask(body)),
            notify_type=notify_type,
        )
        with self._idle:
            if self._closed:
                problem = "closed"
            elif self._pending >= self._max_queued:
                problem = "queue_full"
            else:
                problem = None
                self._pending += 1
                self._queue.put_nowait(message)
        if problem is not None:
            log.warning("notify.dropped", kind=kind, repository=full_name, reason=problem)

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            try:
                if self._abandon.is_set():
                    log.warning(
                        "notify.dropped",
                        kind=message.kind,
                        repository=message.full_name,
                        reason="closing",
                    )
                else:
                    self._deliver(message)
            except Exception as error:  # the thread must outlive any one message
                log.warning(
                    "notify.failed",
                    kind=message.kind,
                    repository=message.full_name,
                    error=type(error).__name__,
                )
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, message: _Message) -> None:
        # An exception (a broken plugin) is logged by _run with its type only: the message
        # of a network error can quote the service's URL.
        import apprise

        assert self._apprise is not None  # no thread delivers without services
        started = time.monotonic()
        result = self._apprise.notify(
            body=message.body,
            title=message.title,
            notify_type=apprise.NotifyType(message.notify_type),
            body_format=apprise.NotifyFormat.TEXT,
        )
        seconds = round(time.monotonic() - started, 3)
        if result:
            log.info(
                "notify.sent", kind=message.kind, repository=message.full_name, seconds=seconds
            )
            return
        log.warning(
            "notify.failed",
            kind=message.kind,
            repository=message.full_name,
            status=result.status.name,
            services=[service.name for service in result if not service],
            seconds=seconds,
        )


def build_notifier(settings: Settings) -> Notifier:
    """The notifier for ``settings``, or a ConfigError naming the entry Apprise refuses.

    The error gives the entry's position and scheme only: the URL itself holds a token.
    """
    urls = settings.notify_urls
    if not urls:
        return Notifier.disabled()
    import apprise

    apprise_logger = logging.getLogger("apprise")
    if apprise_logger.level == logging.NOTSET:
        # Apprise's INFO is chatter and its DEBUG quotes the endpoints (tokens included);
        # its warnings about failed deliveries name the service, not the URL.
        apprise_logger.setLevel(logging.WARNING)
    # Delivered on the notifier's own daemon thread, never in Apprise's thread pool (used for
    # its async mode and its per-service deadline): Python waits for that pool's threads at
    # exit, so a slow service would hold the process past close()'s bound.
    asset = apprise.AppriseAsset(
        app_id="epicstar",
        app_desc="epicstar notifications",
        async_mode=False,
        service_timeout=0,
    )
    services = apprise.Apprise(asset=asset)
    with _apprise_silenced():  # Apprise's own messages about a bad URL can quote all of it
        for number, url in enumerate(urls, start=1):
            if not url.strip():
                raise ConfigError(f"EPICSTAR_NOTIFY_URLS: entry {number} is empty")
            service = apprise.Apprise.instantiate(url.strip(), asset=asset)
            if service is None:
                raise ConfigError(
                    f"EPICSTAR_NOTIFY_URLS: entry {number} ({_scheme(url)}) is not a URL "
                    "Apprise understands; see https://appriseit.com/services/ for the formats"
                )
            services.add(service)
    return Notifier(
        services,
        secrets=settings.secrets(),
        notify_new_mirrors=settings.notify_new_mirrors,
        onedev_url=settings.onedev_url,
    )


def _scheme(url: str) -> str:
    match = _SCHEME.match(url.strip())
    return f"scheme '{match.group(1).lower()}'" if match else "no scheme"


class _CurrentThreadOnly(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self._thread


@contextmanager
def _apprise_silenced() -> Iterator[None]:
    """Drop the records the ``apprise`` logger emits from this thread meanwhile."""
    apprise_logger = logging.getLogger("apprise")
    drop = _CurrentThreadOnly()
    apprise_logger.addFilter(drop)
    try:
        yield
    finally:
        apprise_logger.removeFilter(drop)


def _describe_rewrite(rewrite: Rewrite) -> str:
    old = rewrite.old[:12]
    if rewrite.new is None:
        change = f"deleted (was {old})"
    else:
        change = f"{rewrite.kind.replace('_', ' ')}: {old} -> {rewrite.new[:12]}"
    if rewrite.commits_lost:
        change += f", {rewrite.commits_lost} commits on no other branch or tag"
    return f"{rewrite.ref} {change}"
