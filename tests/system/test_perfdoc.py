"""docs/PERFORMANCE.md as the benchmarks write it: one section each, replaced in place, and the run's index.

Only the writing is checked here (into a copy, through ``FIELDKIT_PERFDOC``); no speed is asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import perfdoc, run_all

REPO = Path(__file__).resolve().parents[2]
DOC = """# Performance

Intro.

## First

old first

### Its subsection

old detail

## Second

second stays
"""


@pytest.fixture
def doc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "PERFORMANCE.md"
    monkeypatch.setenv("FIELDKIT_PERFDOC", str(path))
    return path


def test_a_section_is_replaced_in_place_with_its_subsections_and_the_rest_kept(doc: Path) -> None:
    doc.write_text(DOC)
    perfdoc.replace_section("## First", "## First\n\nnew first\n")
    text = doc.read_text()
    assert "old first" not in text and "old detail" not in text
    assert text.index("new first") < text.index("## Second") and "second stays" in text
    assert text.startswith("# Performance\n\nIntro.\n\n## First\n")


def test_a_missing_section_goes_at_the_end_and_a_missing_doc_starts_with_the_intro(doc: Path) -> None:
    perfdoc.replace_section("## Third", "## Third\n\nthird\n")
    assert doc.read_text().startswith(perfdoc.INTRO) and doc.read_text().endswith("## Third\n\nthird\n")
    perfdoc.replace_section("## Fourth", "## Fourth\n\nfourth\n")
    text = doc.read_text()
    assert text.index("## Third") < text.index("## Fourth") and text.count("## Third") == 1


def test_the_index_lists_every_command_with_wall_time_and_exit_and_no_output() -> None:
    rows = [(name, argv, 12.3, 0) for name, argv in run_all.commands(quick=False)]
    rows[1] = (rows[1][0], rows[1][1], 4.0, 1)
    text = run_all.section(rows, 600.0)
    assert text.startswith(run_all.TITLE + "\n\n`make bench` — ") and "10.0 min in all" in text
    assert f"**Failed** (their sections keep an earlier run's numbers): {rows[1][0]}." in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "`python " in line]
    assert len(table) == len(rows)
    assert all(line.endswith(" | 12 | 0 |") for i, line in enumerate(table) if i != 1)
    assert "<details>" not in text and "    " not in text  # the outputs stay in var/bench/


def test_every_benchmark_run_all_runs_takes_write_doc() -> None:
    names = run_all.scripts()
    assert "mesh_video.py" in names and "perfdoc.py" not in names and "run_all.py" not in names
    for name in names:
        source = (REPO / "benchmarks" / name).read_text(encoding="utf-8")
        assert re.search(r"add_argument\(\s*\"--write-doc\"", source), name
        assert name in run_all.QUICK, f"{name} has no short options for make bench BENCH_QUICK=1"
    assert not any("--write-doc" in argv for _, argv in run_all.commands(quick=True))  # the doc is left alone


def test_a_script_writes_its_own_section_with_command_and_machine(doc: Path) -> None:
    doc.write_text(DOC + "\n## Radio: Hytera HRNP/HDAP\n\nold numbers\n\n## Last\n\nlast stays\n")
    command = [sys.executable, "benchmarks/radio_hytera.py", "--seconds", "0.05", "--units", "50", "--write-doc"]
    env = {**os.environ, "FIELDKIT_PERFDOC": str(doc)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    text = doc.read_text()
    section = text[text.index("## Radio: Hytera HRNP/HDAP") : text.index("## Last")]
    assert "old numbers" not in section and "| stream | bytes | events |" in section
    assert "`python benchmarks/radio_hytera.py --seconds 0.05 --units 50 --write-doc` — " in section
    assert perfdoc.machine() in section
    assert "second stays" in text and "last stays" in text
