"""The parameter store and the MAVLink parameter protocol (https://mavlink.io/en/services/parameter.html).

Values travel as floats whatever their type (MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT, as ArduPilot:
integers are cast, not byte-wise encoded). A full list is streamed a burst at a time from
:meth:`ParamProtocol.drain`, so a GCS on a slow link is not flooded; a GCS that misses some asks
for them by index, which is answered at once.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

log = logging.getLogger(__name__)

Msg = Any  # a pymavlink message object (the dialect ships no type information)

_INT_RANGES = {
    mavlink.MAV_PARAM_TYPE_INT8: (-128, 127),
    mavlink.MAV_PARAM_TYPE_INT16: (-32768, 32767),
    mavlink.MAV_PARAM_TYPE_INT32: (-(2**31), 2**31 - 1),
}


class ParamError(KeyError):
    """No parameter of that name or index."""


def _as_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


class ParamSet:
    """Named values with their MAV_PARAM_TYPE, in a fixed index order."""

    def __init__(self, rows: Iterable[tuple[str, float, int]], overrides: Mapping[str, float] | None = None) -> None:
        self._names: list[str] = []
        self._values: dict[str, float] = {}
        self._types: dict[str, int] = {}
        self._index: dict[str, int] = {}
        self.on_set: Callable[[str, float], None] | None = None  # after every set, changed or not
        for name, value, kind in rows:
            self._index[name] = len(self._names)
            self._names.append(name)
            self._types[name] = kind
            self._values[name] = self._coerce(kind, value)
        for name, value in (overrides or {}).items():
            self.set(name, value)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __getitem__(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise ParamError(name) from None

    @property
    def names(self) -> list[str]:
        """Names in index order."""
        return list(self._names)

    def index(self, name: str) -> int:
        """Index of a name."""
        try:
            return self._index[name]
        except KeyError:
            raise ParamError(name) from None

    def name_at(self, index: int) -> str:
        """Name at an index."""
        if not 0 <= index < len(self._names):
            raise ParamError(index)
        return self._names[index]

    def type_of(self, name: str) -> int:
        """MAV_PARAM_TYPE of a name."""
        return self._types[name]

    def set(self, name: str, value: float) -> float:
        """Store a value (rounded and clamped to the parameter's type); returns what was stored."""
        if name not in self._values:
            raise ParamError(name)
        stored = self._coerce(self._types[name], value)
        self._values[name] = stored
        if self.on_set is not None:
            self.on_set(name, stored)
        return stored

    def value_message(self, name: str) -> Msg:
        """PARAM_VALUE for a name."""
        return mavlink.MAVLink_param_value_message(
            name.encode(), self._values[name], self._types[name], len(self._names), self._index[name]
        )

    @staticmethod
    def _coerce(kind: int, value: float) -> float:
        if kind in _INT_RANGES:
            low, high = _INT_RANGES[kind]
            return float(max(low, min(high, round(value))))
        return _as_float32(value)


class ParamProtocol:
    """PARAM_REQUEST_LIST, PARAM_REQUEST_READ and PARAM_SET over one :class:`ParamSet`."""

    def __init__(self, params: ParamSet, burst: int = 40) -> None:
        self.params = params
        self.burst = burst
        self._pending: list[int] = []

    def handle(self, msg: Msg) -> list[Msg]:
        """Answer one parameter message (others are ignored)."""
        kind = msg.get_type()
        if kind == "PARAM_REQUEST_LIST":
            self._pending = list(range(len(self.params)))
            return self.drain()
        if kind == "PARAM_REQUEST_READ":
            return self._read(msg)
        if kind == "PARAM_SET":
            return self._set(msg)
        return []

    def drain(self) -> list[Msg]:
        """The next burst of a list being streamed."""
        batch, self._pending = self._pending[: self.burst], self._pending[self.burst :]
        return [self.params.value_message(self.params.name_at(i)) for i in batch]

    def _read(self, msg: Msg) -> list[Msg]:
        try:
            name = self.params.name_at(msg.param_index) if msg.param_index >= 0 else str(msg.param_id)
            return [self.params.value_message(name)]
        except (ParamError, KeyError):
            log.debug("PARAM_REQUEST_READ for unknown %r/%d", msg.param_id, msg.param_index)
            return []  # ArduPilot stays silent about unknown parameters

    def _set(self, msg: Msg) -> list[Msg]:
        name = str(msg.param_id)
        if name not in self.params:
            log.debug("PARAM_SET for unknown %r", name)
            return []
        self.params.set(name, float(msg.param_value))
        # the echo goes to every GCS, as ArduPilot broadcasts PARAM_VALUE after a set
        return [self.params.value_message(name)]
