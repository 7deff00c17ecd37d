"""Structured JSON logs, with every configured secret, and anything that looks like an API
key, masked before anything is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

_API_KEY = re.compile(r"(esk_[a-z0-9]{8,32}_)[A-Za-z0-9]+")
_KEY_IN_QUERY = re.compile(r"([?&;]key=)[^&;#\s\"']+")


def mask_keys(text: str) -> str:
    """``text`` with the secret part of API keys (``esk_<prefix>_***``) and the value of any
    ``key=`` URL parameter (the feed's) masked."""
    return _KEY_IN_QUERY.sub(r"\1***", _API_KEY.sub(r"\1***", text))


class SecretMasker:
    """A structlog processor replacing secret values anywhere in an event's strings."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [secret for secret in secrets if secret]

    def mask(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, "***")
            return mask_keys(value)
        if isinstance(value, dict):
            return {key: self.mask(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.mask(item) for item in value)
        return value

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return {key: self.mask(value) for key, value in event.items()}


def configure(
    *, secrets: Iterable[str], level: str, log_file: Path | None, stdlib: bool = False
) -> None:
    """JSON lines to ``log_file`` (appending), or to stderr when no file is given.

    With ``stdlib``, records of the standard library's logging (uvicorn, Huey, Apprise) are
    rendered the same way, masked the same way, into the same stream.
    """
    stream: TextIO
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stream = log_file.open("a", encoding="utf-8")
    else:
        stream = sys.stderr
    masker = SecretMasker(secrets)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[structlog.typing.Processor] = [
        structlog.processors.format_exc_info,
        masker,
        structlog.processors.JSONRenderer(default=str),
    ]
    if stdlib:
        _route_stdlib(stream, shared, renderer, _LEVELS.get(level, logging.ERROR))
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.ERROR)),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _route_stdlib(
    stream: TextIO,
    shared: list[structlog.typing.Processor],
    renderer: list[structlog.typing.Processor],
    level: int,
) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(level, logging.INFO))
    # Huey logs every job and httpx every request at INFO; epicstar's own events say more.
    for chatty in ("huey", "httpx"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
