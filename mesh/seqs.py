"""Which seqs this node holds from each origin: the contiguous head, the highest, and the gaps (pure).

Catch-up asks a peer for everything after the *contiguous* head, never after the highest seq
held, so a gap left by a dropped sample or a cut link is always filled rather than skipped.
"""

from __future__ import annotations

from msgspec import Struct


class Heads(Struct, frozen=True, array_like=True):
    """``contiguous``: every seq 1..contiguous is held; ``max_seq``: the highest held."""

    contiguous: int
    max_seq: int

    @property
    def gap(self) -> bool:
        """True if some seq below ``max_seq`` is missing."""
        return self.max_seq > self.contiguous


class SeqBook:
    """Per origin: contiguous head, highest seq, and the seqs held above a gap."""

    def __init__(self, heads: dict[str, Heads] | None = None) -> None:
        self._contiguous: dict[str, int] = {}
        self._max: dict[str, int] = {}
        # Seqs held above the contiguous head. Those already in the journal at startup are not
        # known one by one (only their max): a catch-up after the head lists them again, and each
        # seq it returns, new or duplicate, is noted here.
        self._ahead: dict[str, set[int]] = {}
        for origin, h in (heads or {}).items():
            self._contiguous[origin] = h.contiguous
            self._max[origin] = max(h.max_seq, h.contiguous)

    def __contains__(self, origin: str) -> bool:
        return origin in self._max

    def heads(self, origin: str) -> Heads:
        """What is held from ``origin`` (0, 0 if nothing)."""
        return Heads(self._contiguous.get(origin, 0), self._max.get(origin, 0))

    def origins(self) -> list[str]:
        """Every origin anything is held from."""
        return sorted(self._max)

    def note(self, origin: str, seq: int) -> bool:
        """Record that ``seq`` of ``origin`` is held; True if a gap remains below the highest seq."""
        if seq <= 0:
            return self.heads(origin).gap
        head = self._contiguous.get(origin, 0)
        self._max[origin] = max(self._max.get(origin, 0), seq)
        if seq == head + 1:
            ahead = self._ahead.get(origin)
            head = seq
            while ahead and head + 1 in ahead:
                head += 1
                ahead.discard(head)
            if ahead is not None and not ahead:
                del self._ahead[origin]
            self._contiguous[origin] = head
        elif seq > head:
            self._ahead.setdefault(origin, set()).add(seq)
        return self._max[origin] > self._contiguous.get(origin, 0)

    def behind(self, origin: str, theirs: Heads) -> bool:
        """True if a peer holding ``theirs`` of ``origin`` has something this node lacks.

        A gap both sides share is not a reason to ask (asking would return only duplicates).
        """
        mine = self.heads(origin)
        return theirs.max_seq > mine.max_seq or theirs.contiguous > mine.contiguous
