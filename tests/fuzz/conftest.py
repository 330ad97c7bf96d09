"""Fuzz session set-up: quiet-but-formatted logging, and the tally (inputs, crashes, hangs, time) at the end."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fuzz.harness import FUZZ_EXAMPLES, TALLIES, summary_lines

PACKAGES = ("edge", "drones", "mesh", "media", "sim")


class _FormatOnly(logging.Handler):
    """Formats every record (so a broken log call still fails) and keeps none: drop logs stay out of the report."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> Iterator[None]:
    handler = _FormatOnly()
    loggers = [logging.getLogger(name) for name in PACKAGES]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        lg.setLevel(logging.DEBUG)
    yield
    for lg, (propagate, level) in zip(loggers, saved, strict=True):
        lg.removeHandler(handler)
        lg.propagate, lg.level = propagate, level


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLIES:
        return
    terminalreporter.section(f"fuzz: {FUZZ_EXAMPLES} examples asked per target")
    for line in summary_lines():
        terminalreporter.write_line(line)
