"""``make bench``: every benchmark in ``benchmarks/``, one after the other, on this machine.

Every ``benchmarks/*.py`` script (found, not listed, so a new one joins by being there) runs, then
the incident benchmark (``python -m benchmarks.incident``). A script that has ``--write-doc``
gets it, so its own section of docs/PERFORMANCE.md is replaced; every output is kept in
``var/bench/<name>.txt``; at the end the section "All benchmarks, one run" lists each command
with its wall time and exit status, and holds the outputs of the scripts that write no section of
their own. So every figure in docs/PERFORMANCE.md can be re-measured together, on one machine.

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

from benchmarks.incident.report import machine  # noqa: E402
from benchmarks.perfdoc import replace_section  # noqa: E402

TITLE = "## All benchmarks, one run"
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


def commands(quick: bool) -> list[tuple[str, list[str], bool]]:
    """(name, argv after the interpreter, writes its own section) for every benchmark, incident last."""
    out = []
    for script in sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")):
        own = "--write-doc" in script.read_text(encoding="utf-8")
        args = QUICK.get(script.name, []) if quick else (["--write-doc"] if own else [])
        out.append((script.name, [f"benchmarks/{script.name}", *args], own))
    args = QUICK["incident"] if quick else ["--write-doc"]
    out.append(("incident", ["-m", "benchmarks.incident", *args], True))
    return out


def run_one(name: str, argv: list[str], logs: Path) -> tuple[float, int, str]:
    """Run one benchmark; its wall time, exit status and output."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, *argv], check=False, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        status, output = done.returncode, done.stdout + (f"\n[stderr]\n{done.stderr}" if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        status, output = -1, f"stopped after {TIMEOUT_S} s\n{exc.stdout or ''}"
    wall = time.monotonic() - started
    (logs / f"{name.removesuffix('.py')}.txt").write_text(output, encoding="utf-8")
    return wall, status, output


def section(rows: list[tuple[str, list[str], bool, float, int, str]], total_s: float) -> str:
    """The summary section: commands, times, statuses, and the outputs that have no section of their own."""
    lines = [
        TITLE,
        "",
        f"`make bench` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}; {total_s / 60:.1f} min in all; "
        f"load average at the end {' / '.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "Scripts marked *own section* replaced theirs above; the others' output is below, as printed.",
        "",
        "| benchmark | command | wall s | exit |",
        "|---|---|---:|---:|",
    ]
    for name, argv, own, wall, status, _ in rows:
        mark = " (own section)" if own else ""
        lines.append(f"| {name}{mark} | `python {' '.join(argv)}` | {wall:.0f} | {status} |")
    for name, _argv, own, _, status, output in rows:
        if own and status == 0:
            continue
        # An indented code block, not a fenced one: a script's own "## " lines must not look like a section.
        block = ["    " + line for line in output.strip().splitlines()]
        lines += ["", f"<details><summary>{name}</summary>", "", *block, "", "</details>"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short options; docs/PERFORMANCE.md is left alone")
    args = parser.parse_args()
    logs = REPO / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows = []
    for name, argv, own in commands(args.quick):
        print(f"== {name}: python {' '.join(argv)}", flush=True)
        wall, status, output = run_one(name, argv, logs)
        print(f"   {wall:.0f} s, exit {status}; output in var/bench/", flush=True)
        rows.append((name, argv, own, wall, status, output))
    total = time.monotonic() - started
    print(f"all benchmarks: {total / 60:.1f} min")
    if not args.quick:
        replace_section(TITLE, section(rows, total))
    if any(row[4] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
