"""What every fuzz target shares: the registry of targets, a per-input watchdog, and the per-target tally.

A target is a function of one input's bytes, read through a :class:`~fuzz.draw.Draw` (``@target``).
``make test`` runs each for ``FUZZ_EXAMPLES`` inputs (300) that Hypothesis draws as byte strings,
derandomized: the same inputs every run, and a failure shrinks to a minimal byte string. ``make fuzz``
runs each in its own process under libFuzzer through atheris (``fuzz/libfuzzer.py``, driven by
``benchmarks/fuzz.py``), coverage guided, 10^6 inputs. The HTTP targets of ``test_api.py`` stay
Hypothesis/schemathesis tests with their own sizes (``rounds``).

The watchdog is a CPU-time alarm per input (``ITIMER_PROF``, not pytest-timeout's SIGALRM): a parser
that spins on one input past ``FUZZ_INPUT_BUDGET_S`` is interrupted with :class:`Hang`, which derives
from ``BaseException`` so that no ``except Exception`` inside the code under test can swallow it. The
total run time is only reported, never asserted.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fuzz.draw import Draw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
INPUT_BUDGET_S = float(os.environ.get("FUZZ_INPUT_BUDGET_S", "2.0"))
ROUND = 10_000
BOUNDED_MIN_LEN = 512
# The bounded run in `make test` draws the same inputs every time, so CI cannot fail on luck; the HTTP
# targets under `make fuzz` get FUZZ_RANDOM=1 and explore anew on every run (rounds must differ anyway).
DETERMINISTIC = os.environ.get("FUZZ_RANDOM") != "1" and FUZZ_EXAMPLES <= ROUND

settings.register_profile(
    "fuzz",
    max_examples=min(FUZZ_EXAMPLES, ROUND),
    deadline=None,  # the watchdog judges each input; Hypothesis' deadline would fail on a slow machine
    suppress_health_check=list(HealthCheck),
    database=None,  # rounds are independent; a crash is reported with its minimal input in the failure
    derandomize=DETERMINISTIC,
    print_blob=True,
)
FUZZ = settings.get_profile("fuzz")


PACKAGES = ("edge", "drones", "mesh", "media", "sim")


class _FormatOnly(logging.Handler):
    """Formats every record (so a broken log call still fails) and keeps none: drop logs stay out of the report."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Our packages' log records formatted and dropped, for the length of a fuzz run."""
    handler = _FormatOnly()
    loggers = [logging.getLogger(name) for name in PACKAGES]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        lg.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for lg, (propagate, level) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.propagate, lg.level = propagate, level


class Hang(BaseException):
    """One input took more CPU time than the per-input budget."""


class HangError(AssertionError):
    """What the test sees of a :class:`Hang`: an ordinary failure, so Hypothesis shrinks and reports the input."""


@dataclass
class Tally:
    """What one target has seen."""

    inputs: int = 0
    hangs: int = 0
    crashes: set[str] = field(default_factory=set)  # distinct failure signatures: type and where
    seconds: float = 0.0  # wall time of the whole target: generation, shrinking and the parser


TALLIES: dict[str, Tally] = {}


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang(f"one input used more than {INPUT_BUDGET_S} s of CPU")


@contextmanager
def watchdog(budget_s: float = INPUT_BUDGET_S) -> Iterator[None]:
    """Interrupt the body with :class:`Hang` once it has used ``budget_s`` of CPU time."""
    previous = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, budget_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _signature(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f"{where.filename.rsplit('/', 2)[-2:]}:{where.lineno}" if where else "?"
    return f"{type(exc).__name__} at {at}"


@dataclass(frozen=True)
class Target:
    """One fuzz target: a name, what it does with one input, the errors its parser documents."""

    name: str
    run: Callable[[Draw], object]
    allowed: tuple[type[BaseException], ...] = ()
    max_len: int = 4096  # bytes of input it reads at most (libFuzzer's -max_len)


TARGETS: dict[str, Target] = {}
# The modules that define targets, imported by the libFuzzer process under coverage instrumentation.
MODULES = ("fuzz.test_radio", "fuzz.test_drones", "fuzz.test_tak", "fuzz.test_mesh", "fuzz.test_media",
           "fuzz.test_tiles", "fuzz.test_api")


def target(
    name: str, allowed: tuple[type[BaseException], ...] = (), max_len: int = 4096
) -> Callable[[Callable[[Draw], object]], Target]:
    """Register a function of one input's :class:`Draw` as the fuzz target ``name``."""

    def register(run: Callable[[Draw], object]) -> Target:
        TARGETS[name] = Target(name, run, allowed, max_len)
        return TARGETS[name]

    return register


def run_one(t: Target, data: bytes, budget_s: float = INPUT_BUDGET_S) -> None:
    """One input through ``t`` under the watchdog; a documented error of its parser is fine.

    Anything else (an undocumented exception, a failed property, a hang) is tallied and re-raised: in
    ``make test`` Hypothesis shrinks it, in ``make fuzz`` the libFuzzer process saves the input.
    """
    check(t.name, lambda: t.run(Draw(data)), t.allowed, budget_s)


def byte_strings(max_len: int) -> st.SearchStrategy[bytes]:
    """The inputs Hypothesis draws for a target: at least ``BOUNDED_MIN_LEN`` bytes (see ``bounded``)."""
    return st.binary(min_size=min(BOUNDED_MIN_LEN, max_len), max_size=max_len)


def bounded(t: Target) -> None:
    """``make test``'s run of ``t``: ``FUZZ_EXAMPLES`` byte strings from Hypothesis, the same every time.

    At least ``BOUNDED_MIN_LEN`` bytes each: left to itself Hypothesis draws a few bytes on average, and a
    few bytes are a few choices: the simplest inputs only. A failure still shrinks (towards zero bytes,
    which :class:`Draw` reads as the simplest choices).
    """

    @FUZZ
    @given(data=byte_strings(t.max_len))
    def once(data: bytes) -> None:
        run_one(t, data)

    rounds(t.name, once)


def check(
    target: str,
    body: Callable[[], Any],
    allowed: tuple[type[BaseException], ...] = (),
    budget_s: float = INPUT_BUDGET_S,
) -> Any:
    """Run ``body`` for one input under the watchdog; returns its value, or None for an allowed error."""
    tally = TALLIES.setdefault(target, Tally())
    tally.inputs += 1
    try:
        with watchdog(budget_s):
            return body()
    except allowed:
        return None
    except Hang as exc:
        tally.hangs += 1
        raise HangError(str(exc)) from None
    except BaseException as exc:
        tally.crashes.add(_signature(exc))
        raise


def rounds(target: str, run_once: Callable[[], None]) -> None:
    """Call a Hypothesis test enough times to reach ``FUZZ_EXAMPLES`` examples in all; times the whole."""
    tally = TALLIES.setdefault(target, Tally())
    start = time.perf_counter()
    try:
        for _ in range(max(1, -(-FUZZ_EXAMPLES // ROUND))):
            run_once()
    finally:
        tally.seconds += time.perf_counter() - start


def summary_lines() -> list[str]:
    """One line per target: inputs, crashes, hangs, time and rate."""
    lines = [f"{'target':<28} {'inputs':>9} {'crashes':>7} {'hangs':>5} {'seconds':>8} {'inputs/s':>9}"]
    for name in sorted(TALLIES):
        t = TALLIES[name]
        rate = t.inputs / t.seconds if t.seconds else 0.0
        lines.append(f"{name:<28} {t.inputs:>9} {len(t.crashes):>7} {t.hangs:>5} {t.seconds:>8.1f} {rate:>9.0f}")
        lines += [f"    crash: {c}" for c in sorted(t.crashes)]
    return lines


def corpus_module(relative: str) -> Any:
    """A test module's fixtures by file (``drones/test_framer.py``): ``tests/drones`` is shadowed by the package."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    name = "fuzz_corpus_" + relative.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
