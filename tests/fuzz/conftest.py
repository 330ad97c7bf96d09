"""Fuzz session set-up: quiet-but-formatted logging, and the tally (inputs, crashes, hangs, time) at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz.harness import FUZZ_EXAMPLES, TALLIES, quiet_logs, summary_lines


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> Iterator[None]:
    with quiet_logs():
        yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLIES:
        return
    terminalreporter.section(f"fuzz: {FUZZ_EXAMPLES} examples asked per target")
    for line in summary_lines():
        terminalreporter.write_line(line)
