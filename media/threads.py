"""A long-lived worker thread awaited from the event loop.

Sources hold a thread for hours (the sim camera's renderer, an ingest's demuxer, an overlay's
decoder). asyncio's default executor has only a handful of workers (6 on a 2-core kit) that the
rest of the node needs too, so each of them runs in a thread of its own; :func:`in_own_thread`
starts it and returns (or raises) when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable


async def in_own_thread(work: Callable[[], None], *, name: str) -> None:
    """Run ``work`` in a new daemon thread; return when it returns, raise what it raised.

    Cancelling the awaiting task does not stop the thread: ``work`` must watch a stop flag that the
    caller sets in its ``finally``.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def run() -> None:
        outcome: BaseException | None = None
        try:
            work()
        except BaseException as exc:  # handed to the awaiting task, which re-raises it
            outcome = exc

        def settle() -> None:
            if done.done():
                return
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, name=name, daemon=True).start()
    await done
