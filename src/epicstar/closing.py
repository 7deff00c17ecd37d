"""Objects that hold resources until ``close()``, usable in a ``with`` statement."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closeable:
    """``with obj:`` closes ``obj`` on the way out; subclasses define :meth:`close`."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
