"""Link monitor: per peer, up/down (from liveliness), last heard, bytes, RTT (pure, clock passed in).

Pub/sub is one-to-many, so ``bytes_out`` of a peer counts only what was sent to that peer alone
(catch-up replies it asked for); what this node offered everyone is ``published_bytes``, and per
state tier (tiers.py) in ``published``. A peer's ``tx_bps`` in ``report`` is what crossed its link:
the shared stream, the tier of its link class, and its catch-up replies. ``bytes_in`` counts every
payload received under the peer's key prefix ``fk/<peer>/`` plus the catch-up replies it sent us.
Loss is the share of catch-up queries to the peer that got no reply at all (a refusal such as
"busy" is an answer), RTT the time the last summary query took (each round, and every audit).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from msgspec import Struct

from edge.scene import NodeLink

PROBE_WINDOW = 20  # loss is the share of the last this-many queries to a peer left unanswered


class LinkState(Struct, frozen=True, kw_only=True):
    """One peer as this node sees it."""

    peer: str
    up: bool
    since: float  # when it last went up or down
    last_heard: float | None
    bytes_in: int
    bytes_out: int
    msgs_in: int
    rtt_ms: float | None
    catchups: int  # catch-up rounds run against it


class _Link:
    __slots__ = (
        "bytes_in",
        "bytes_out",
        "catchups",
        "last_heard",
        "mark",
        "msgs_in",
        "peer",
        "probes",
        "rtt_ms",
        "since",
        "up",
    )

    def __init__(self, peer: str, now: float) -> None:
        self.peer = peer
        self.up = False
        self.since = now
        self.last_heard: float | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.msgs_in = 0
        self.rtt_ms: float | None = None
        self.catchups = 0
        self.probes: deque[bool] = deque(maxlen=PROBE_WINDOW)  # answered?
        self.mark: tuple[float, int, int] | None = None  # (when, bytes_in, bytes sent its way) at the last report


class LinkMonitor:
    """What this node knows about its link to each peer."""

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}
        self.published_bytes = 0
        self.published_msgs = 0
        self.published: Counter[str] = Counter()  # bytes per tier ("": the shared stream, to everyone)
        self.changes = 0  # up/down transitions, so a caller can tell whether to refresh a view

    def _get(self, peer: str, now: float) -> _Link:
        link = self._links.get(peer)
        if link is None:
            link = self._links[peer] = _Link(peer, now)
        return link

    def set_up(self, peer: str, up: bool, now: float) -> bool:
        """Liveliness says ``peer`` is up (or gone); True if that changed."""
        link = self._get(peer, now)
        if link.up == up:
            return False
        link.up, link.since = up, now
        if up:
            link.last_heard = now
        self.changes += 1
        return True

    def heard(self, peer: str, nbytes: int, now: float) -> None:
        """A payload of ``nbytes`` came from ``peer``."""
        link = self._get(peer, now)
        link.last_heard = now
        link.bytes_in += nbytes
        link.msgs_in += 1

    def sent_to(self, peer: str, nbytes: int, now: float) -> None:
        """``nbytes`` were sent to ``peer`` alone."""
        self._get(peer, now).bytes_out += nbytes

    def publish(self, nbytes: int, tier: str = "") -> None:
        """``nbytes`` were offered to the subscribers of ``tier`` ("": the shared stream, everyone)."""
        self.published_bytes += nbytes
        self.published_msgs += 1
        self.published[tier] += nbytes

    def rtt(self, peer: str, seconds: float, now: float) -> None:
        """A query to ``peer`` was answered after ``seconds``."""
        link = self._get(peer, now)
        link.rtt_ms = round(seconds * 1000, 1)
        link.catchups += 1

    def probed(self, peer: str, answered: bool, now: float) -> None:
        """A query to ``peer`` was answered (or timed out unanswered): the loss measure."""
        self._get(peer, now).probes.append(answered)

    def report(self, now: float, tier_of: Callable[[str], str] = lambda _: "lan") -> list[NodeLink]:
        """Each peer's link for the node entity: RTT, loss, and rates since the previous report.

        ``tier_of(peer)``: the state tier that peer follows (its link class).
        """
        out = []
        for link in sorted(self._links.values(), key=lambda x: x.peer):
            sent = self.published[""] + self.published[tier_of(link.peer)] + link.bytes_out
            rx: float | None = None
            tx: float | None = None
            if link.mark is not None and now > link.mark[0]:
                rx = float(round(max(0, link.bytes_in - link.mark[1]) / (now - link.mark[0])))  # whole B/s
                tx = float(round(max(0, sent - link.mark[2]) / (now - link.mark[0])))
            link.mark = (now, link.bytes_in, sent)
            loss = round(100.0 * link.probes.count(False) / len(link.probes), 1) if link.probes else None
            out.append(NodeLink(peer=link.peer, up=link.up, rtt_ms=link.rtt_ms, loss_pct=loss, rx_bps=rx, tx_bps=tx))
        return out

    def is_up(self, peer: str) -> bool:
        """True if ``peer``'s liveliness token is seen."""
        link = self._links.get(peer)
        return link is not None and link.up

    def up_peers(self) -> list[str]:
        """Peers whose liveliness token is seen."""
        return sorted(p for p, link in self._links.items() if link.up)

    def links(self) -> list[LinkState]:
        """Every peer ever seen, by id."""
        return [
            LinkState(
                peer=link.peer,
                up=link.up,
                since=link.since,
                last_heard=link.last_heard,
                bytes_in=link.bytes_in,
                bytes_out=link.bytes_out,
                msgs_in=link.msgs_in,
                rtt_ms=link.rtt_ms,
                catchups=link.catchups,
            )
            for link in sorted(self._links.values(), key=lambda x: x.peer)
        ]

    def components(self) -> dict[str, str]:
        """One short line per peer for the node entity's ``components`` (``link:<peer>``).

        Only what changes rarely (up/down, RTT to the millisecond, measured each catch-up
        round), so the entity is not re-sent for every byte counted; counts are in ``links()``.
        """
        out = {}
        for link in self.links():
            rtt = f", rtt {round(link.rtt_ms)} ms" if link.rtt_ms is not None and link.up else ""
            out[f"link:{link.peer}"] = f"{'up' if link.up else 'down'}{rtt}"
        return out
