"""A poll waiting on GitHub holds no database lock: webhooks are answered meanwhile."""

from __future__ import annotations

import threading
import time

import pytest

from epicstar.state.models import RepoState, StarListState
from epicstar.sync.poll import PollReport
from tests.e2e.conftest import World
from tests.e2e.helpers import wait_for
from tests.web.conftest import payload, serving

RATE_LIMIT_WAIT = 5  # seconds GitHub tells the poll to wait
RATE_LIMITED = {"message": "You have exceeded a secondary rate limit."}


def unstar_delivery(world: World) -> dict[str, object]:
    """The mirrored user unstarred something: the receiver asks for a full walk."""
    event = payload("star.deleted")
    event["sender"] = {**event["sender"], "login": world.login}
    return event


@pytest.mark.parametrize("waits_on", ["the list", "a look-up by id"])
def test_a_webhook_is_answered_at_once_while_a_poll_waits_on_github(
    world: World, waits_on: str
) -> None:
    for name in ("a", "b", "c", "d"):
        world.github.create_repo("octo", name, empty=True)
    world.star("octo/a", "octo/b", "octo/c")
    if waits_on == "the list":
        path = r"^/user/starred$"  # the very first poll: its walk is rate limited
    else:
        world.poll()
        world.star("octo/d")
        world.github.unstar(world.login, "octo/b")  # looked up by id before it is unstarred
        path = r"^/repositories/\d+$"
    world.github.inject(
        "GET", path, 403, headers={"retry-after": str(RATE_LIMIT_WAIT)}, body=RATE_LIMITED
    )
    database = world.db()
    polled: list[PollReport] = []
    poll = threading.Thread(target=lambda: polled.append(world.poll(full=True)))
    try:
        with serving(database) as make_web:
            web = make_web(login=world.login)
            poll.start()
            wait_for(lambda: world.github.count(status=403) == 1, timeout=30)

            started = time.monotonic()
            answer = web.deliver("star", unstar_delivery(world))
            took = time.monotonic() - started

            assert answer.status_code == 202, answer.text
            assert poll.is_alive(), "the delivery waited for the poll to finish"
            assert took < RATE_LIMIT_WAIT / 2
            poll.join(timeout=60)
    finally:
        poll.join(timeout=60)
        with database.session() as session:
            star_list = session.get(StarListState, "user")
        database.dispose()

    assert len(polled) == 1
    kinds = sorted((change.kind, change.full_name) for change in polled[0].changes)
    if waits_on == "the list":
        assert kinds == [("track", "octo/a"), ("track", "octo/b"), ("track", "octo/c")]
    else:
        assert kinds == [("track", "octo/d"), ("unstar", "octo/b")]
        assert world.row(world.github.repo("octo/b").id).state == RepoState.UNSTARRED
    assert star_list is not None
    assert star_list.last_full_walk_at is None, "the walk the webhook asked for is still due"
