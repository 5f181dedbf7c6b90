"""Run a test body in several threads at once and fail on any exception they raise."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(count: int, target: Callable[[int], None], timeout: float | None = 60.0) -> None:
    """Call ``target(n)`` for ``n`` in ``range(count)``, each in its own thread.

    The threads start together (a barrier) and are joined (each for up to ``timeout`` seconds);
    every exception they raised is collected and the call fails when there was any.
    """
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(number: int) -> None:
        try:
            barrier.wait()
            target(number)
        except BaseException as exc:  # collected and reported by the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert errors == []
