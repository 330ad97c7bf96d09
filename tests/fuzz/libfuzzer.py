"""One fuzz target under libFuzzer (atheris), coverage guided: ``python -m fuzz.libfuzzer TARGET [libFuzzer flags]``.

Started by ``benchmarks/fuzz.py``, one process per target (atheris owns the process and ends it with
libFuzzer's own exit). The code under test (``edge``, ``drones``, ``mesh``, ``media``) is instrumented
for coverage; the target's bytes go through the same ``run_one`` as in ``make test``.

A failing input does not end the run: the first input of each distinct failure (type and place) is
saved as ``var/fuzz/<target>/crash-<sha1>`` (``hang-`` for the watchdog), noted in ``findings.jsonl``
with its traceback, and fuzzing goes on, so one run counts every distinct failure. A hang the watchdog
cannot interrupt (inside C code) meets libFuzzer's ``-timeout`` instead, which saves ``timeout-<sha1>``
and ends the process. ``--list`` prints the target names.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

import atheris
from fuzz.harness import MODULES, TALLIES, TARGETS, HangError, Target, quiet_logs, run_one

INSTRUMENTED = ["edge", "drones", "mesh", "media"]


def _record(folder: Path, t: Target, data: bytes, exc: BaseException, seen: set[str]) -> None:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    signature = f"{type(exc).__name__} at {where.filename}:{where.lineno}" if where else type(exc).__name__
    if signature in seen:
        return
    seen.add(signature)
    kind = "hang" if isinstance(exc, HangError) else "crash"
    path = folder / f"{kind}-{hashlib.sha1(data).hexdigest()}"
    path.write_bytes(data)
    finding = {"target": t.name, "kind": kind, "signature": signature, "input": str(path),
               "traceback": "".join(traceback.format_exception(exc))[-4000:]}
    with (folder / "findings.jsonl").open("a") as out:
        out.write(json.dumps(finding) + "\n")
    print(f"FUZZ {kind.upper()} {t.name}: {signature} (input saved as {path})", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    with atheris.instrument_imports(include=INSTRUMENTED):
        for module in MODULES:
            importlib.import_module(module)
    if argv[1:2] == ["--list"]:
        print("\n".join(sorted(TARGETS)))
        return
    t = TARGETS[argv[1]]
    folder = Path(os.environ.get("FUZZ_FINDINGS") or Path("var/fuzz") / t.name)
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()

    def one(data: bytes) -> None:
        try:
            run_one(t, data)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # every failure is a finding; the run goes on
            _record(folder, t, data, exc, seen)

    atheris.Setup([argv[0], f"-max_len={t.max_len}", *argv[2:]], one)
    with quiet_logs():
        atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
    sys.exit(1 if any(tally.crashes or tally.hangs for tally in TALLIES.values()) else 0)
