"""The fault campaign with full counts: every test in tests/faults, 100 cycles each, and a summary.

``make faults`` runs this. The tests (the same ones ``make test`` runs with 3 cycles each) read
``FIELDKIT_FAULT_CYCLES`` and append what they counted to ``FIELDKIT_FAULT_REPORT`` (one JSON line
each, see tests/faults/campaign.py); this script sets both, runs pytest, and prints a table: cycles,
events acknowledged, lost, duplicated, and the recovery time after each fault (p50 and max). With
``--write-doc`` it replaces the "Fault campaign" section of docs/PERFORMANCE.md.

The counts are asserted by the tests (0 lost, 0 duplicated); the times are only measured here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.perfdoc import machine, replace_section  # noqa: E402

SECTION = "## Fault campaign"


def run(cycles: int, select: str, keep: Path | None) -> tuple[list[dict[str, object]], int, float]:
    """Run the campaign; (each test's tally, pytest's exit code, seconds). ``keep``: append the tallies there."""
    with tempfile.TemporaryDirectory(prefix="fieldkit-faults-") as tmp:
        report = Path(tmp) / "faults.jsonl"
        env = {**os.environ, "FIELDKIT_FAULT_CYCLES": str(cycles), "FIELDKIT_FAULT_REPORT": str(report)}
        # A cycle takes up to ~10 s: the suite's 120 s per-test timeout is raised to match the count.
        args = [sys.executable, "-m", "pytest", "-q", "tests/faults", f"--timeout={max(120, cycles * 30)}"]
        if select:
            args += ["-k", select]
        started = time.monotonic()
        code = subprocess.run(args, cwd=REPO, env=env, check=False).returncode
        took = time.monotonic() - started
        text = report.read_text() if report.exists() else ""
    if keep is not None:
        with keep.open("a", encoding="utf-8") as out:
            out.write(text)
    return [json.loads(line) for line in text.splitlines()], code, took


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def table(tallies: list[dict[str, object]]) -> list[str]:
    lines = [
        "| fault | cycles | events acknowledged | lost | duplicated | recovery p50 / max (s) | took (s) | result "
        "| finished (UTC) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for t in tallies:
        recovery = [float(r) for r in t["recovery_s"]]  # type: ignore[attr-defined]
        acknowledged = t["acknowledged"] or "-"
        lines.append(
            f"| {t['name']} | {t['cycles']} | {acknowledged} | {t['lost']} | {t['duplicated']} "
            f"| {_seconds(recovery)} | {t['seconds']} | {_result(t)} | {t.get('finished', '-')} |"
        )
    return lines


def _result(t: dict[str, object]) -> str:
    if not t.get("failed"):
        return "passed"
    return "FAILED at " + str(t["failed"]).replace("|", "/")


def section(tallies: list[dict[str, object]], cycles: int, code: int, took: float, command: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Command: `{command}` ({when}, {took / 60:.0f} min).  ",
        f"Machine: {machine()}.  ",
        f"Asked for {cycles} cycles per fault; pytest exit code {code}"
        + (" (every test passed)." if code == 0 else " (a test failed: see the rows it left and the log)."),
        "",
        *table(tallies),
        "",
        "What each row does (tests/faults; `make test` runs the same tests with 3 cycles each):",
        "",
        "- *SIGKILL edge node*: `fieldkit sim` (radios on the simulated PDT gateway) meshed with a command",
        "  post (`fieldkit run`); messages and alarms posted through the API while a WebSocket viewer records",
        "  every committed event (radio emergencies and texts too); SIGKILL mid-stream, restart. Recovery:",
        "  from the kill until the restarted edge serves and the command post holds every acknowledged event.",
        "- *partition/heal*: blackhole, reset and sub-lease blip of the link proxy between two nodes, and a",
        "  veth link taken down between two network namespaces; alarms and acks raised on both sides during",
        "  the cut. Recovery: from the heal until both sides hold everything.",
        "- *link flaps*: pty unplug/replug under the radio gateway, MAVLink UDP silence and TCP server loss,",
        "  the sim camera paused; recovery from the link's return until data flows (or the feed is live).",
        "- *journal disk full / read-only*: the journal on a private tmpfs filled to the last block, or on a",
        "  loop-mounted ext4 turned read-only by an error; 503s while it cannot store, the live picture goes",
        "  on, radio events held and stored when space returns (read-only: after the operator's repair).",
        "  Recovery (disk full): from freeing space until a message is acknowledged again. The command",
        "  post's disk filling while a kit raises alarms over the mesh: recovery from freeing space until",
        "  the command post holds every alarm (catch-up at its next audit).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100, help="fault cycles per test (default 100)")
    parser.add_argument("-k", dest="select", default="", help="only the tests pytest -k selects")
    parser.add_argument("--write-doc", action="store_true", help="replace its section in docs/PERFORMANCE.md")
    parser.add_argument("--keep", type=Path, help="also append the tallies (JSON lines) to this file")
    parser.add_argument(
        "--merge", type=Path, help="tallies of an earlier run (--keep): tests not re-run now keep those rows"
    )
    args = parser.parse_args()
    cycles = max(1, min(args.cycles, 10_000))
    tallies, code, took = run(cycles, args.select, args.keep)
    if args.merge:
        now = {t["name"] for t in tallies}
        earlier = [json.loads(line) for line in args.merge.read_text().splitlines() if line.strip()]
        tallies = [t for t in earlier if t["name"] not in now] + tallies
    command = f"make faults FAULT_CYCLES={cycles}"
    if args.select:
        command = f".venv/bin/python benchmarks/faults.py --cycles {cycles} -k '{args.select}' --write-doc"
    text = section(tallies, cycles, code, took, command)
    print(text)
    if args.write_doc:
        replace_section(SECTION, text)
    return code


if __name__ == "__main__":
    sys.exit(main())
