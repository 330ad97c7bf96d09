"""What the mesh reads from the node's journal at startup: seq heads per origin, our tombstones.

The journal (edge/journal/store.py) has no query for "highest contiguous seq held per origin", so
this opens its own read-only connection to the SQLite file (WAL lets readers run beside the
writer) and asks once, at startup; from then on ``SeqBook`` keeps the heads in memory.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from edge.scene.model import Change, Removed

from .seqs import Heads

_decode = msgspec.msgpack.Decoder(Change).decode

# The end of the first run of consecutive seqs of each origin: the smallest seq whose successor
# is missing. UNIQUE(origin, seq) gives the index that makes the NOT EXISTS a lookup.
_HEADS = """
SELECT e.origin, min(e.seq), (SELECT min(seq) FROM events WHERE origin = e.origin),
       (SELECT max(seq) FROM events WHERE origin = e.origin)
FROM events e
WHERE NOT EXISTS (SELECT 1 FROM events f WHERE f.origin = e.origin AND f.seq = e.seq + 1)
GROUP BY e.origin
"""


class JournalView(msgspec.Struct, frozen=True):
    """Seq heads per origin and this node's own tombstones, as the journal holds them."""

    heads: dict[str, Heads]
    tombstones: list[Removed]


def read_journal_view(path: Path, me: str) -> JournalView:
    """Read the view (blocking: run it in a thread). A missing file gives an empty view."""
    if not path.exists():
        return JournalView({}, [])
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        heads = {}
        for origin, run_end, first, last in conn.execute(_HEADS):
            heads[origin] = Heads(run_end if first == 1 else 0, last)
        tombstones = []
        for (body,) in conn.execute("SELECT body FROM state WHERE kind = 'removed'"):
            change = _decode(body)
            if isinstance(change, Removed) and change.origin == me:
                tombstones.append(change)
        tombstones.sort(key=lambda r: r.ts)
        return JournalView(heads, tombstones)
    finally:
        conn.close()
