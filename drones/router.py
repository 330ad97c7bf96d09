"""Pure MAVLink routing between named endpoints, in the manner of mavlink-router.

The router sees framed bytes (:class:`~drones.framer.MavFrame`), never sockets: an adapter feeds a
link's bytes to its framer, asks :meth:`Router.route` where each frame goes, and writes ``frame.raw``
to those links. Rules, in the order they apply to a frame arriving on endpoint *S*:

1. **Learn**: *S* has now seen the frame's source system and (system, component) -- unless the
   frame's CRC could not be checked (unknown message id), since such a frame may be line noise.
2. **In-filter** of *S* (message id, source system): a frame it refuses goes nowhere.
3. **De-duplicate**: a frame with the same (sysid, compid, seq, msgid, crc) as one routed within the
   last ``dedup_window_s`` (from any endpoint, e.g. the other link of a redundant pair) goes nowhere.
   Learning in step 1 still happened, so both links of a pair stay known routes.
4. **Destinations**: a frame without a target field, or with target system 0, goes to every other
   endpoint. A targeted frame goes to the endpoints where its (target system, target component) was
   seen within ``route_timeout_s`` -- or, with no such endpoint or target component 0, where the
   target system was seen; if none has seen it, to every other endpoint rather than nowhere (a vehicle
   that fell silent may hear a command when its link recovers).
5. **Never back**: not to *S*, and not to an endpoint where the frame's own (sysid, compid) was seen
   within ``route_timeout_s`` (the other link of a redundant pair, or a loop through another router).
6. **Out-filter**, then **rate limit** of each destination (see :mod:`drones.ratelimit`).

Counters per endpoint are in :class:`EndpointStats`. All times are the caller's ``now`` in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import UnknownEndpoint
from .framer import MavFrame
from .ratelimit import RateLimit, RateLimiter


@dataclass(frozen=True, slots=True)
class Filter:
    """Which frames pass, by message id and source system id (allow None: all; block wins)."""

    allow_msgids: frozenset[int] | None = None
    block_msgids: frozenset[int] = frozenset()
    allow_src_systems: frozenset[int] | None = None
    block_src_systems: frozenset[int] = frozenset()

    def accepts(self, msgid: int, sysid: int) -> bool:
        """True if a frame with ``msgid`` from system ``sysid`` passes."""
        if msgid in self.block_msgids or sysid in self.block_src_systems:
            return False
        if self.allow_msgids is not None and msgid not in self.allow_msgids:
            return False
        return self.allow_src_systems is None or sysid in self.allow_src_systems


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint as the router knows it: a name and its policies, no transport."""

    name: str
    in_filter: Filter | None = None  # what the router accepts from this endpoint
    out_filter: Filter | None = None  # what the router sends to this endpoint
    rate_limit: RateLimit | None = None  # what this endpoint's link can carry


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counters of one endpoint; *filtered* counts its in-filter's and its out-filter's drops."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    filtered: int = 0
    rate_dropped: int = 0
    duplicates: int = 0  # frames that arrived here after the same frame was routed


class _Port:
    """The router's state for one endpoint (mutable counters, learned systems, limiter)."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "components",
        "config",
        "duplicates",
        "filtered",
        "frames_in",
        "frames_out",
        "gated",
        "in_filter",
        "limiter",
        "name",
        "others",
        "out_filter",
        "rate_dropped",
        "systems",
    )

    def __init__(self, config: Endpoint) -> None:
        self.config = config
        self.name = config.name
        self.in_filter = config.in_filter
        self.out_filter = config.out_filter
        self.limiter = RateLimiter(config.rate_limit) if config.rate_limit is not None else None
        self.gated = self.out_filter is not None or self.limiter is not None
        self.systems: dict[int, float] = {}  # sysid -> last seen
        self.components: dict[int, float] = {}  # sysid << 8 | compid -> last seen
        self.others: tuple[_Port, ...] = ()
        self.frames_in = self.bytes_in = self.frames_out = self.bytes_out = 0
        self.filtered = self.rate_dropped = self.duplicates = 0

    def stats(self) -> EndpointStats:
        return EndpointStats(
            self.frames_in,
            self.bytes_in,
            self.frames_out,
            self.bytes_out,
            self.filtered,
            self.rate_dropped,
            self.duplicates,
        )


class Router:
    """Decides, frame by frame, which endpoints a MAVLink frame goes to (see the module docstring)."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        *,
        route_timeout_s: float = 10.0,
        dedup_window_s: float = 0.5,
    ) -> None:
        self.route_timeout_s = route_timeout_s
        self.dedup_window_s = dedup_window_s
        self._ports: dict[str, _Port] = {}
        # Two generations of routed-frame keys: a key is remembered at least dedup_window_s and less
        # than three times that, with no per-key expiry work.
        self._recent: set[tuple[object, ...]] = set()
        self._older: set[tuple[object, ...]] = set()
        self._generation_start = -math.inf
        for endpoint in endpoints:
            self.add_endpoint(endpoint)

    @property
    def endpoints(self) -> list[str]:
        """Endpoint names, in the order they were added."""
        return list(self._ports)

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Add an endpoint (a link came up); its name must be new."""
        if endpoint.name in self._ports:
            raise ValueError(f"endpoint {endpoint.name!r} exists")
        self._ports[endpoint.name] = _Port(endpoint)
        self._relink()

    def remove_endpoint(self, name: str) -> None:
        """Forget an endpoint, its learned routes and its counters."""
        if self._ports.pop(name, None) is None:
            raise UnknownEndpoint(name)
        self._relink()

    def stats(self, name: str) -> EndpointStats:
        """A snapshot of the counters of endpoint ``name``."""
        return self._port(name).stats()

    def seen(self, name: str, now: float) -> set[tuple[int, int]]:
        """The (sysid, compid) pairs heard on endpoint ``name`` within the route timeout."""
        port = self._port(name)
        return {(k >> 8, k & 0xFF) for k, t in port.components.items() if now - t <= self.route_timeout_s}

    def route(self, frame: MavFrame, source: str, now: float) -> list[str]:
        """Names of the endpoints ``frame``, received on endpoint ``source`` at ``now``, goes to."""
        src = self._ports.get(source)
        if src is None:
            raise UnknownEndpoint(source)
        # One tuple unpack instead of eight attribute loads: this is the router's hot path.
        raw, msgid, sysid, compid, _, _, target, target_component, checked, _ = frame
        nbytes = len(raw)
        src.frames_in += 1
        src.bytes_in += nbytes
        key = sysid << 8 | compid
        if checked:  # a frame whose CRC could not be checked may be line noise: learn nothing from it
            src.systems[sysid] = now
            src.components[key] = now
        if src.in_filter is not None and not src.in_filter.accepts(msgid, sysid):
            src.filtered += 1
            return []
        if self.dedup_window_s > 0:
            elapsed = now - self._generation_start
            if elapsed >= self.dedup_window_s or elapsed < 0:
                # Keys of the ending generation were all added within its first window; past two
                # windows none of them can be a recent frame's copy any more.
                self._older = self._recent if elapsed < 2 * self.dedup_window_s else set()
                self._recent = set()
                self._generation_start = now
            seen_key = frame[1:6]  # (msgid, sysid, compid, seq, crc); tuples hash faster than a packed int
            if seen_key in self._recent or seen_key in self._older:
                src.duplicates += 1
                return []
            self._recent.add(seen_key)
        ports = self._targets(target, target_component or 0, src, now) if target else src.others
        timeout = self.route_timeout_s
        out: list[str] = []
        for port in ports:
            seen = port.components.get(key)
            if seen is not None and now - seen <= timeout:
                continue  # the source itself is behind this endpoint: no loops, no echo on a redundant link
            if port.gated:
                if port.out_filter is not None and not port.out_filter.accepts(msgid, sysid):
                    port.filtered += 1
                    continue
                if port.limiter is not None and not port.limiter.admit(msgid, nbytes, now):
                    port.rate_dropped += 1
                    continue
            port.frames_out += 1
            port.bytes_out += nbytes
            out.append(port.name)
        return out

    def _targets(self, sysid: int, compid: int, src: _Port, now: float) -> tuple[_Port, ...]:
        timeout = self.route_timeout_s
        if compid:
            key = sysid << 8 | compid
            found = tuple(p for p in src.others if now - p.components.get(key, -1e300) <= timeout)
            if found:
                return found
        found = tuple(p for p in src.others if now - p.systems.get(sysid, -1e300) <= timeout)
        return found or src.others

    def _port(self, name: str) -> _Port:
        port = self._ports.get(name)
        if port is None:
            raise UnknownEndpoint(name)
        return port

    def _relink(self) -> None:
        ports = tuple(self._ports.values())
        for port in ports:
            port.others = tuple(p for p in ports if p is not port)
