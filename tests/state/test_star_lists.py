"""The starred list's row is created once, even by two first polls at the same moment."""

from __future__ import annotations

import threading

from epicstar.state import star_lists
from epicstar.state.database import Database
from epicstar.state.models import StarListState


def test_a_second_first_poll_waits_for_the_row_instead_of_failing(db: Database) -> None:
    outcome: dict[str, object] = {}
    first_has_row = threading.Event()
    second_started = threading.Event()

    def second() -> None:
        first_has_row.wait(10)
        second_started.set()
        try:
            with db.session() as session:
                row, created = star_lists.locked(session, "user")
                row.stars += 1
                outcome["second"] = (created, row.stars)
        except Exception as error:  # what the test is about: no unique-key failure
            outcome["second"] = error

    thread = threading.Thread(target=second)
    thread.start()
    with db.session() as session:
        row, created = star_lists.locked(session, "user")
        assert created
        row.stars = 10
        first_has_row.set()
        second_started.wait(10)
        thread.join(0.5)  # the second is held back until this transaction ends
        assert thread.is_alive()
    thread.join(30)
    assert outcome["second"] == (False, 11)
    with db.session() as session:
        stored = session.get(StarListState, "user")
        assert stored is not None
        assert stored.stars == 11
