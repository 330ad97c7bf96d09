"""Texts from the command post to radios: numbering, retry, delivery receipts (pure: ``now`` passed in).

A text to a unit is sent, then re-sent every ``retry_s`` until the gateway reports delivery or
``attempts`` run out; the radio sees the same message reference each time, so it can drop repeats.
Group texts have no delivery report in DMR/PDT: they are receipted as sent once written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from edge.scene import Message, Receipt

from .events import Delivery


@dataclass
class Pending:
    """A text waiting for its delivery report."""

    message: Message
    dst: str
    group: bool
    msg_id: int
    attempts: int = 0
    next_try: float = 0.0


class Outbox:
    """Outbound texts of one radio system."""

    def __init__(self, *, node_id: str, system: str, retry_s: float = 10.0, attempts: int = 3) -> None:
        self.node_id = node_id
        self.system = system
        self.retry_s = retry_s
        self.max_attempts = attempts
        self._pending: dict[int, Pending] = {}
        self._seen: set[str] = set()  # message ids already taken (never sent twice as new)
        self._next_id = secrets.randbelow(0xFFFF) + 1  # a fresh start does not reuse recent references

    def target(self, to: str) -> tuple[str, bool] | None:
        """(radio or talkgroup id, is_group) if ``to`` addresses this radio system."""
        kind, _, rest = to.partition(":")
        system, _, ident = rest.partition(":")
        if system != self.system or not ident.isdigit() or kind not in ("unit", "talkgroup"):
            return None
        return ident, kind == "talkgroup"

    def wants(self, message: Message) -> bool:
        """True for our own node's messages to this system that did not come in over it."""
        return message.origin == self.node_id and message.via != self.system and self.target(message.to) is not None

    def submit(self, message: Message, now: float) -> bool:
        """Queue a message to send now; False if it was already taken."""
        target = self.target(message.to)
        if target is None or message.id in self._seen:
            return False
        self._seen.add(message.id)
        msg_id = self._next_id
        self._next_id = self._next_id % 0xFFFF + 1
        self._pending[msg_id] = Pending(message, target[0], target[1], msg_id, next_try=now)
        return True

    def due(self, now: float) -> list[Pending]:
        """Texts to (re)send now; each call counts an attempt for those it returns."""
        out = []
        for pending in self._pending.values():
            if pending.next_try <= now and pending.attempts < self.max_attempts:
                pending.attempts += 1
                pending.next_try = now + self.retry_s
                out.append(pending)
        return out

    def sent(self, pending: Pending, now: float) -> Receipt | None:
        """A group text is done once written; a unit text waits for its delivery report."""
        if not pending.group:
            return None
        del self._pending[pending.msg_id]
        return self._receipt(pending, now, ok=True, reason="sent to the talkgroup (no delivery report)")

    def unsendable(self, pending: Pending, now: float, reason: str) -> Receipt:
        """The framing cannot carry this text."""
        self._pending.pop(pending.msg_id, None)
        return self._receipt(pending, now, ok=False, reason=reason)

    def delivered(self, report: Delivery, now: float) -> Receipt | None:
        """The gateway's report on a text; None if it is not one of ours (or already settled)."""
        pending = self._pending.pop(report.msg_id, None)
        if pending is None:
            return None
        return self._receipt(pending, now, ok=report.ok, reason="" if report.ok else "the radio did not accept it")

    def expired(self, now: float) -> list[Receipt]:
        """Texts whose attempts ran out with no delivery report."""
        done = [p for p in self._pending.values() if p.attempts >= self.max_attempts and p.next_try <= now]
        for pending in done:
            del self._pending[pending.msg_id]
        return [self._receipt(p, now, ok=False, reason=f"no delivery report after {p.attempts} tries") for p in done]

    def _receipt(self, pending: Pending, now: float, *, ok: bool, reason: str) -> Receipt:
        return Receipt(
            id=f"{pending.message.id}-receipt",
            origin=self.node_id,
            ts=now,
            message_id=pending.message.id,
            recipient=pending.message.to,
            ok=ok,
            attempts=pending.attempts,
            reason=reason,
        )
