"""The fuzz harness itself: the watchdog, the byte reader, and the libFuzzer process with its findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fuzz.draw import Draw
from fuzz.harness import TALLIES, HangError, Target, check


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


def test_a_draw_reads_choices_in_order_and_the_simplest_once_the_bytes_run_out() -> None:
    d = Draw(bytes([7, 0x34, 0x12, 3]) + b"abc")
    assert d.int(0, 9) == 7  # one byte for a small span
    assert d.int(0, 0xFFFF) == 0x1234  # two, little-endian
    assert d.bytes(8) == b"abc"  # a length, then as many bytes
    assert (d.int(5, 9), d.bytes(100), d.choice("xyz"), d.text(10)) == (5, b"", "x", "")


def test_a_failing_input_is_saved_once_per_failure_and_the_run_goes_on(tmp_path: Path) -> None:
    from fuzz.libfuzzer import _record  # noqa: PLC0415 -- imports atheris: only here

    t = Target("harness.selftest", lambda d: None)
    seen: set[str] = set()
    for data in (b"first", b"second"):
        try:
            {}["x"]
        except KeyError as exc:
            _record(tmp_path, t, data, exc, seen)
    (saved,) = tmp_path.glob("crash-*")
    assert saved.read_bytes() == b"first"
    (finding,) = [json.loads(line) for line in (tmp_path / "findings.jsonl").read_text().splitlines()]
    assert finding["target"] == "harness.selftest" and finding["signature"].startswith("KeyError at ")


def test_make_fuzz_runs_a_target_under_libfuzzer_in_its_own_process(tmp_path: Path) -> None:
    from benchmarks.fuzz import run_target  # noqa: PLC0415

    result = run_target("radio.nmea", 300, max_time=120, timeout=30, out=tmp_path)
    assert (result.inputs, result.crashes, result.hangs) == (300, 0, 0), result.findings
    assert "Done 300 runs" in (tmp_path / "radio.nmea" / "libfuzzer.log").read_text()
    assert not (tmp_path / "radio.nmea" / "scratch").exists()
