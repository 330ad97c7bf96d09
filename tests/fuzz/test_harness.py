"""The fuzz harness itself: a spinning input is caught even by code that swallows every Exception."""

from __future__ import annotations

import pytest
from fuzz.harness import TALLIES, HangError, check


def test_a_spinning_parser_that_swallows_exceptions_is_still_stopped() -> None:
    def spin() -> None:
        while True:
            try:
                sum(range(1000))
            except Exception:
                continue

    with pytest.raises(HangError, match="CPU"):
        check("harness.selftest", spin, budget_s=0.2)
    assert TALLIES.pop("harness.selftest").hangs == 1


def test_only_the_documented_errors_pass() -> None:
    assert check("harness.selftest", lambda: int("x"), allowed=(ValueError,)) is None
    with pytest.raises(KeyError):
        check("harness.selftest", lambda: {}["x"], allowed=(ValueError,))
    tally = TALLIES.pop("harness.selftest")
    assert tally.inputs == 2 and len(tally.crashes) == 1
