"""Run a component forever: restart it with backoff and jitter when it fails, report its state."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Component(Protocol):
    """A long-running part of the node; ``run`` returns only when its work is done.

    A component with a link may count the times it opened it in ``connects``: a run that connected
    and later lost its link is a fresh fault, retried after the shortest backoff, not a crash loop
    (a serial cable pulled and pushed back five times in a minute must not leave the radio silent
    for 30 s after the last push).
    """

    name: str

    async def run(self) -> None: ...


class LinkDown(Exception):
    """What a component talks to went away (a serial port unplugged, a server gone).

    Expected in the field and said in plain words: the supervisor logs it in one line. Any other
    exception is a fault of ours and gets its traceback, once per component.
    """


class ComponentState(enum.Enum):
    """Where a supervised component is."""

    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPED = "stopped"


class Supervised:
    """One component under supervision."""

    def __init__(
        self,
        component: Component,
        *,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self.component = component
        self.state = ComponentState.STARTING
        self.history: list[ComponentState] = [self.state]
        self.restarts = 0
        self.last_error: str | None = None
        self.delays_s: list[float] = []  # the wait before each restart, last 32 (how fast it comes back)
        self._min = min_backoff_s
        self._max = max_backoff_s
        self._healthy_after = healthy_after_s

    @property
    def name(self) -> str:
        """The component's name."""
        return self.component.name

    def _set_state(self, state: ComponentState) -> None:
        if state is self.state:
            return
        log.debug("%s: %s -> %s", self.name, self.state.value, state.value)
        self.state = state
        self.history.append(state)

    async def run(self) -> None:
        """Run the component until it finishes; never let its failure escape."""
        backoff = self._min
        while True:
            self._set_state(ComponentState.RUNNING)
            started = time.monotonic()
            connects = getattr(self.component, "connects", None)
            try:
                await self.component.run()
            except asyncio.CancelledError:
                self._set_state(ComponentState.STOPPED)
                raise
            except Exception as exc:
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                connected = connects is not None and getattr(self.component, "connects", None) != connects
                if connected or time.monotonic() - started > self._healthy_after:
                    backoff = self._min
                delay = backoff * (0.8 + 0.4 * random.random())
                log.error(
                    "%s failed (%s); restarting in %.1f s",
                    self.name,
                    self.last_error,
                    delay,
                    exc_info=self.restarts == 1 and not isinstance(exc, LinkDown),
                )
                self._set_state(ComponentState.BACKOFF)
                self.delays_s = [*self.delays_s[-31:], delay]
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self._max)
            else:
                self._set_state(ComponentState.STOPPED)
                return

    def report(self) -> dict[str, object]:
        """State, restarts and last error, for /healthz."""
        return {"state": self.state.value, "restarts": self.restarts, "last_error": self.last_error}
