"""``make bench``: every benchmark in ``benchmarks/``, one after the other, on this machine.

Every ``benchmarks/*.py`` script (found, not listed, so a new one joins by being there) runs with
``--write-doc``, then the incident benchmark (``python -m benchmarks.incident --repeats 3 --write-doc``); each
replaces its own section of docs/PERFORMANCE.md, and every output is kept in ``var/bench/<name>.txt``.
At the end the section "All benchmarks, one run" becomes the index of the run: when, on which
machine, how long, and each command with its wall time and exit status. So every figure in
docs/PERFORMANCE.md can be re-measured together, on one machine.

Not run: this file, ``perfdoc.py`` (the doc writer), ``faults.py``, the fault campaign, which
``make faults`` runs (about half an hour of kills and cuts, a test campaign more than a benchmark),
and ``fuzz.py``, which ``make fuzz`` runs (hours at 10^6 inputs per target).

``--quick`` (``make bench BENCH_QUICK=1``) gives each script its short options and leaves
docs/PERFORMANCE.md alone (the outputs are still kept in var/bench/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from benchmarks.perfdoc import machine, replace_section  # noqa: E402

TITLE = "## All benchmarks, one run"
NOT_BENCHMARKS = {"run_all.py", "perfdoc.py", "faults.py", "fuzz.py"}
TIMEOUT_S = 1800  # per script: a hung one is stopped and reported, the rest still run
QUICK = {
    "scene_journal.py": ["--quick"],
    "mavlink_router.py": ["--quick"],
    "drones_ingest.py": ["--quick"],
    "cmdpost.py": ["--minutes", "10", "--repeats", "1"],
    "cot.py": ["--repeats", "1"],
    "mesh_sync.py": ["--quick"],
    "mesh_narrowband.py": ["--quick"],
    "mesh_video.py": ["--window", "8"],
    "video.py": ["--quick"],
    "basemaps.py": ["--repeats", "1"],
    "radio_nmea.py": ["--seconds", "0.5"],
    "radio_hytera.py": ["--seconds", "0.5"],
    "radio_mototrbo.py": ["--seconds", "0.5"],
    "radio_binary.py": ["--seconds", "1", "--repeats", "1"],
    "radio_ingest.py": ["--rounds", "2"],
    "incident": ["--scale", "0.2"],
}


def scripts() -> list[str]:
    """The benchmark scripts' file names, sorted."""
    return sorted(p.name for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS and not p.name.startswith("_"))


def commands(quick: bool) -> list[tuple[str, list[str]]]:
    """(name, argv after the interpreter) for every benchmark, incident last."""
    out = [(name, [f"benchmarks/{name}", *(QUICK.get(name, []) if quick else ["--write-doc"])]) for name in scripts()]
    incident = QUICK["incident"] if quick else ["--repeats", "3", "--write-doc"]  # p99 varies run to run here
    out.append(("incident", ["-m", "benchmarks.incident", *incident]))
    return out


def run_one(name: str, argv: list[str], logs: Path) -> tuple[float, int]:
    """Run one benchmark, its output kept in ``logs``; its wall time and exit status."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, *argv], check=False, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        status, output = done.returncode, done.stdout + (f"\n[stderr]\n{done.stderr}" if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        status, output = -1, f"stopped after {TIMEOUT_S} s\n{partial}"
    wall = time.monotonic() - started
    (logs / f"{name.removesuffix('.py')}.txt").write_text(output, encoding="utf-8")
    return wall, status


def section(rows: list[tuple[str, list[str], float, int]], total_s: float) -> str:
    """The index of the run: when, where, how long, and each command with its wall time and exit status."""
    failed = [name for name, _, _, status in rows if status]
    lines = [
        TITLE,
        "",
        f"`make bench` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}; {total_s / 60:.1f} min in all; "
        f"load average (1/5/15 min) at the end {' / '.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "Each command below replaced its own section of this document in that run; its output, as printed, is "
        "in `var/bench/<benchmark>.txt`"
        + (f". **Failed** (their sections keep an earlier run's numbers): {', '.join(failed)}." if failed else "."),
        "",
        "| benchmark | command | wall s | exit |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {name} | `python {' '.join(argv)}` | {wall:.0f} | {status} |" for name, argv, wall, status in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short options; docs/PERFORMANCE.md is left alone")
    args = parser.parse_args()
    logs = REPO / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows = []
    for name, argv in commands(args.quick):
        print(f"== {name}: python {' '.join(argv)}", flush=True)
        wall, status = run_one(name, argv, logs)
        print(f"   {wall:.0f} s, exit {status}; output in var/bench/", flush=True)
        rows.append((name, argv, wall, status))
    total = time.monotonic() - started
    print(f"all benchmarks: {total / 60:.1f} min")
    if not args.quick:
        replace_section(TITLE, section(rows, total))
    if any(row[3] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
