"""What every REST client of epicstar shares: one pooled httpx client, closed with it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx


class PooledClient:
    """Owns ``self._client`` (keep-alive connections); usable as a context manager."""

    _client: httpx.Client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
