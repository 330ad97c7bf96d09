"""Fault-campaign fixtures; the helpers live beside this file (made importable here).

Each test runs ``cycles()`` fault cycles: 3 by default (the bounded subset in ``make test``),
``FIELDKIT_FAULT_CYCLES`` of them under ``make faults`` (100), which also collects each test's
counts through ``FIELDKIT_FAULT_REPORT`` (see campaign.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "mesh"))  # meshkit, test_process, test_netns

from campaign import Tally
from meshkit import net  # noqa: F401  (the fixture)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep each phase's report on the test item, so the ``tally`` fixture knows how the test ended."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)
    return None


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """The test's counts, recorded for the campaign however it ends (a failed cycle is reported, not hidden)."""
    counted = Tally(request.node.name)
    yield counted
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        why = crash.message.splitlines()[0] if crash is not None and crash.message else "failed"
        counted.failed = f"cycle {counted.cycles}: {why[:300]}"
    counted.record()
