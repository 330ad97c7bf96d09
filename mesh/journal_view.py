"""What the mesh reads from the node's journal at startup: seq heads per origin, our tombstones.

Both come from the journal's own reader (``Journal.contiguous_seqs``, ``Journal.states_of_kind``),
under its lock; from then on ``SeqBook`` keeps the heads in memory.
"""

from __future__ import annotations

import msgspec

from edge.journal import Journal
from edge.scene import Removed

from .seqs import Heads


class JournalView(msgspec.Struct, frozen=True):
    """Seq heads per origin and this node's own tombstones, as the journal holds them."""

    heads: dict[str, Heads]
    tombstones: list[Removed]


async def read_journal_view(journal: Journal, me: str) -> JournalView:
    """Read the view: every origin's heads, and our own removals oldest first."""
    heads = {origin: Heads(run, last) for origin, (run, last) in (await journal.contiguous_seqs()).items()}
    removed = [r for r in await journal.states_of_kind("removed") if isinstance(r, Removed) and r.origin == me]
    return JournalView(heads, sorted(removed, key=lambda r: r.ts))
