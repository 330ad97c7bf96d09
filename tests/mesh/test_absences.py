"""A peer missing from one liveliness query is not yet gone: only a second miss in a row marks it down."""

from __future__ import annotations

from mesh.sync import Absences


def test_one_miss_is_not_enough_two_in_a_row_are() -> None:
    absent = Absences()
    assert absent.gone({"cp", "kit2"}, {"kit2"}) == set()  # cp's answer came late: not down yet
    assert absent.gone({"cp", "kit2"}, {"cp", "kit2"}) == set()  # it answered: its count starts over
    assert absent.gone({"cp", "kit2"}, {"kit2"}) == set()
    assert absent.gone({"cp", "kit2"}, {"kit2"}) == {"cp"}  # missing twice running: gone


def test_a_peer_marked_down_meanwhile_is_forgotten() -> None:
    absent = Absences()
    assert absent.gone({"cp"}, set()) == set()
    assert absent.gone(set(), set()) == set()  # the subscriber's DELETE marked it down in between
    assert absent.gone({"cp"}, set()) == set()  # up again, then missed once: a fresh count
