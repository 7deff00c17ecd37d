"""What every REST client of epicstar shares: one pooled httpx client, closed with it, and
requests tried again within seconds after a network error or a server's passing failure."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from epicstar.closing import Closeable
from epicstar.retry import RetryPolicy, Transient


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every HTTP client of the process shares (httpx's defaults: certifi's
    CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``). Loading the CA bundle is most of the
    cost of making a client: 20-30 ms each, paid once."""
    return httpx.create_ssl_context()


TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
"""Answers of a server (or the proxy before it) that is failing or restarting right now."""


class _TransientAnswer(Transient):
    """A transient status, carried through the retries so the last one can be handled."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"answered {response.status_code}", retry_after=retry_after)
        self.response = response


class PooledClient(Closeable):
    """Owns ``self._client`` (keep-alive connections); usable as a context manager."""

    _client: httpx.Client
    _retry: RetryPolicy
    _sleep: Callable[[float], None]

    def close(self) -> None:
        self._client.close()

    def _exchange(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        repeatable: bool,
        what: str,
        transient: Callable[[httpx.Response], bool] = lambda r: True,
        **request: Any,
    ) -> httpx.Response:
        """One request; a ``repeatable`` one is sent again after a network error or a
        :data:`TRANSIENT_STATUSES` answer that ``transient`` accepts, as :attr:`_retry`
        allows. Returns the last answer (possibly such a status) or raises the last
        ``httpx.TransportError``."""

        def once() -> httpx.Response:
            response = self._client.request(method, url, **request)
            if response.status_code in TRANSIENT_STATUSES and transient(response):
                raise _TransientAnswer(response, retry_after_seconds(response.headers))
            return response

        def retryable(error: BaseException) -> bool:
            return repeatable and isinstance(error, _TransientAnswer | httpx.TransportError)

        try:
            return self._retry.run(once, transient=retryable, what=what, sleep=self._sleep)
        except _TransientAnswer as last:
            return last.response


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``retry-after`` as seconds: an integer, or (rarely) an HTTP date; None if absent."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "").strip()
    if not value:
        return None
    try:
        return max(float(int(value)), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)
