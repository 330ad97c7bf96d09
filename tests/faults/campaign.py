"""How many fault cycles to run, and the campaign's record of what each test counted.

``make faults`` sets ``FIELDKIT_FAULT_CYCLES=100`` and ``FIELDKIT_FAULT_REPORT=<file>``; each test
appends one JSON line there (cycles, lost, duplicated, recovery times), which
``benchmarks/faults_summary.py`` turns into the table in docs/PERFORMANCE.md. Without the variables a
test runs 3 cycles and records nothing: that is the bounded subset ``make test`` runs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


def cycles(default: int = 3) -> int:
    """Fault cycles per test: ``FIELDKIT_FAULT_CYCLES`` or ``default``."""
    value = int(os.environ.get("FIELDKIT_FAULT_CYCLES", default))
    if value < 1:
        raise ValueError("FIELDKIT_FAULT_CYCLES must be at least 1")
    return value


@dataclass
class Tally:
    """What one fault test counted over its cycles."""

    name: str
    cycles: int = 0
    acknowledged: int = 0  # events the node acknowledged (2xx, or committed) during the test
    lost: int = 0  # acknowledged but missing afterwards
    duplicated: int = 0  # stored or applied more than once
    recovery_s: list[float] = field(default_factory=list)  # from the fault's end until working again
    failed: str | None = None  # why the test failed (the counts then cover the cycles done before)
    started: float = field(default_factory=time.monotonic)

    def record(self) -> None:
        """Append this tally to ``FIELDKIT_FAULT_REPORT`` (if set) as one JSON line."""
        path = os.environ.get("FIELDKIT_FAULT_REPORT")
        if not path:
            return
        finished = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        line = asdict(self) | {"seconds": round(time.monotonic() - self.started, 1), "finished": finished}
        line["recovery_s"] = [round(r, 3) for r in self.recovery_s]
        del line["started"]
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
