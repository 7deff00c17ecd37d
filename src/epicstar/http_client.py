"""What every REST client of epicstar shares: one pooled httpx client, closed with it."""

from __future__ import annotations

import httpx

from epicstar.closing import Closeable


class PooledClient(Closeable):
    """Owns ``self._client`` (keep-alive connections); usable as a context manager."""

    _client: httpx.Client

    def close(self) -> None:
        self._client.close()
