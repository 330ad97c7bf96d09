"""docs/PERFORMANCE.md, written by the benchmarks: one ``## `` section each, replaced in place.

Every benchmark builds its section as ``heading(title, ...)`` followed by its tables, prints it and,
with ``--write-doc``, hands it to ``replace_section``. So each section says the same things the same
way: the exact command, when, on which machine, how loaded the machine was.

``FIELDKIT_PERFDOC`` names another file to write (a copy, to try a script without touching the doc).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INTRO = """# Performance

Measured numbers for fieldkit, produced by the scripts in `benchmarks/` (`make bench` runs them).
Each section says which command produced it, when, and on which machine; rerun the command to
refresh a section (`--write-doc` replaces it here). Speed is measured here, never asserted in tests.
"""


def doc_path() -> Path:
    """docs/PERFORMANCE.md, or the file ``FIELDKIT_PERFDOC`` names."""
    return Path(os.environ.get("FIELDKIT_PERFDOC") or REPO / "docs" / "PERFORMANCE.md")


def replace_section(title: str, text: str) -> None:
    """Put ``text`` (starting with ``title``, a ``## `` heading) where that section is, or at the end.

    The section runs to the next ``## `` heading; a missing document is started with the intro.
    """
    path = doc_path()
    doc = path.read_text(encoding="utf-8") if path.exists() else INTRO
    start = doc.find("\n" + title + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[: start + 1] + text.rstrip("\n") + ("\n\n" + doc[end + 1 :] if end >= 0 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


def machine(*extra: str) -> str:
    """CPU model, cores, kernel, Python (and whatever versions the caller adds): where the numbers belong."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), model)
    except OSError:
        pass
    parts = [model, f"{os.cpu_count()} cores", f"Linux {platform.release()}", f"Python {platform.python_version()}"]
    return ", ".join([*parts, *extra])


def command(argv: list[str] | None = None) -> str:
    """The command that ran this script, as typed from the repository's root."""
    script = Path(sys.argv[0]).resolve()
    shown = str(script.relative_to(REPO)) if script.is_relative_to(REPO) else sys.argv[0]
    return "python " + shlex.join([shown, *(sys.argv[1:] if argv is None else argv)])


def heading(title: str, *extra: str, cmd: str | None = None, wall_s: float | None = None) -> list[str]:
    """The section's first lines: title, then command, date, machine, wall time and load average."""
    took = f"; {wall_s:.0f} s wall" if wall_s is not None else ""
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        title,
        "",
        f"`{cmd or command()}` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine(*extra)}{took}; "
        f"load average (1/5/15 min) at the end {load}.",
        "",
    ]


def publish(lines: list[str], *, write: bool) -> str:
    """Print the section (``lines``, starting with ``heading``); with ``write``, replace it in the doc."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    if write:
        replace_section(lines[0], text)
    return text
