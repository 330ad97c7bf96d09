"""A PDT radio gateway on a pseudo-terminal, speaking a real framing.

fieldkit opens the pseudo-terminal's slave with pyserial exactly as it would a USB serial adapter.
The path it is given is a symlink (as udev's ``/dev/serial/by-id`` links are), so an unplug —
closing the pty — and a replug — a new pty behind the same link — look to fieldkit as they would
with hardware. Line noise can be injected on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import termios
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.radio import Delivery, RadioEvent

from .radios import RadioWorld

log = logging.getLogger(__name__)

MAX_BACKLOG = 256 * 1024  # bytes waiting for fieldkit to read; past this the oldest are lost, as on a UART


@dataclass(frozen=True)
class TextRequest:
    """fieldkit asked the gateway to send a text."""

    dst: str
    text: str
    group: bool
    msg_id: int


@dataclass(frozen=True)
class PollRequest:
    """fieldkit asked for a unit's position."""

    unit: str


Request = TextRequest | PollRequest


class GatewaySide(Protocol):
    """The gateway's end of a framing: radio events to bytes, fieldkit's requests from bytes."""

    name: str
    outbox: list[bytes]  # what the framing owes fieldkit (session accept, acks), sent after each read

    def encode(self, event: RadioEvent) -> bytes | None: ...

    def requests(self, data: bytes, now: float) -> list[Request]: ...


class Noise(enum.Enum):
    """Kinds of line trouble the emulator can inject."""

    GARBAGE = "garbage"  # random bytes between frames
    BITFLIP = "bitflip"  # one bit of the next frame flipped
    TRUNCATE = "truncate"  # the next frame cut short
    IDLE = "idle"  # a burst of idle-line bytes


class PdtGatewayEmulator:
    """Component: the simulated gateway, driving ``world`` on ``clock`` over a pseudo-terminal."""

    name = "sim-pdt-gateway"

    def __init__(
        self,
        world: RadioWorld,
        side: GatewaySide,
        link_path: Path,
        *,
        clock: Callable[[], float],
        tick_s: float = 0.2,
        ack_delay_s: float = 1.5,
        noise_interval_s: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.world = world
        self.side = side
        self.link_path = link_path
        self.clock = clock
        self._tick_s = tick_s
        self._ack_delay_s = ack_delay_s
        self._noise_interval_s = noise_interval_s
        self._rng = random.Random(seed)
        self._master: int | None = None
        self._slave: int | None = None
        self._backlog = bytearray()
        self._acks: list[tuple[float, Delivery]] = []
        self._seen_texts: set[int] = set()
        self._pending_noise: list[Noise] = []
        self.received: list[Request] = []  # every request fieldkit made, in order
        self.texts_shown: list[TextRequest] = []  # texts radios displayed (repeats removed)
        self.bytes_out = 0
        self.bytes_dropped = 0

    # -- the pseudo-terminal ----------------------------------------------------------------

    def plug(self) -> Path:
        """Open a fresh pty behind the link path (first plug, or a replug after ``unplug``)."""
        if self._master is not None:
            raise RuntimeError("already plugged")
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)  # no echo, no CR/NL translation: bytes pass as on a UART
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link_path)
        self._backlog.clear()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().add_reader(master, self._on_readable)
        return self.link_path

    def unplug(self) -> None:
        """Pull the cable: the pty goes away and fieldkit's reads fail."""
        if self._master is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    @property
    def plugged(self) -> bool:
        """Whether the pty is open."""
        return self._master is not None

    def inject(self, noise: Noise) -> None:
        """Put line trouble on the wire (now for garbage/idle, on the next frame for the others)."""
        if noise is Noise.GARBAGE:
            self._send(bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(8, 96))))
        elif noise is Noise.IDLE:
            self._send(bytes([self._rng.choice((0x00, 0xFF))]) * self._rng.randrange(16, 256))
        else:
            self._pending_noise.append(noise)

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Step the radios and serve fieldkit's requests until cancelled."""
        if not self.plugged:
            self.plug()
        elif self._master is not None:
            asyncio.get_running_loop().add_reader(self._master, self._on_readable)
        next_noise = self.clock() + self._noise_interval_s
        try:
            while True:
                now = self.clock()
                for event in self.world.step(now):
                    self.emit(event)
                due = [a for a in self._acks if a[0] <= now]
                self._acks = [a for a in self._acks if a[0] > now]
                for _, ack in due:
                    self.emit(ack)
                if self._noise_interval_s and now >= next_noise:
                    next_noise = now + self._noise_interval_s
                    self.inject(self._rng.choice(list(Noise)))
                self._flush()
                await asyncio.sleep(self._tick_s)
        finally:
            self.unplug()

    def emit(self, event: RadioEvent) -> None:
        """Put one radio event on the wire now (as the radios would; tests use it to script traffic)."""
        frame = self.side.encode(event)
        if frame is None:
            return
        if self._pending_noise:
            noise = self._pending_noise.pop(0)
            if noise is Noise.BITFLIP:
                i = self._rng.randrange(len(frame))
                frame = frame[:i] + bytes([frame[i] ^ (1 << self._rng.randrange(8))]) + frame[i + 1 :]
            elif noise is Noise.TRUNCATE:
                frame = frame[: max(1, len(frame) // 2)]
        self._send(frame)

    def _send(self, data: bytes) -> None:
        if not self.plugged:
            return
        self._backlog += data
        if len(self._backlog) > MAX_BACKLOG:
            excess = len(self._backlog) - MAX_BACKLOG
            del self._backlog[:excess]
            self.bytes_dropped += excess
        self._flush()

    def _flush(self) -> None:
        if self._master is None or not self._backlog:
            return
        try:
            written = os.write(self._master, self._backlog)
        except BlockingIOError:
            return
        except OSError:
            return  # nobody on the other end yet (or any more)
        del self._backlog[:written]
        self.bytes_out += written

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while no one holds the slave open
        now = self.clock()
        for request in self.side.requests(data, now):
            self.received.append(request)
            self._serve(request, now)
        while self.side.outbox:
            self._send(self.side.outbox.pop(0))

    def _serve(self, request: Request, now: float) -> None:
        if isinstance(request, PollRequest):
            radio = self.world.by_unit.get(request.unit)
            if radio is not None:
                self.emit(self.world.fix(radio, now))
            return
        if request.group:
            if request.msg_id not in self._seen_texts:
                self._seen_texts.add(request.msg_id)
                self.texts_shown.append(request)
            return
        if request.dst not in self.world.by_unit:
            return  # no such radio: no report, fieldkit's retries run out
        if request.msg_id not in self._seen_texts:  # a retry is acknowledged again, shown once
            self._seen_texts.add(request.msg_id)
            self.texts_shown.append(request)
        self._acks.append((now + self._ack_delay_s, Delivery(msg_id=request.msg_id, unit=request.dst, ok=True, ts=now)))
