"""A queue and its jobs, as the workers and the tests build them."""

from __future__ import annotations

from huey import Huey

from epicstar.config import Settings
from epicstar.queue.backend import make_huey
from epicstar.queue.jobs import Jobs


def build(settings: Settings, *, immediate: bool = False) -> tuple[Huey, Jobs]:
    huey = make_huey(settings, immediate=immediate)
    return huey, Jobs(huey, settings)
