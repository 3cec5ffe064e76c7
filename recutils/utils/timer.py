"""A wall-clock timer usable as a context manager or with start/stop."""

from __future__ import annotations

import time
from types import TracebackType

from recutils.exceptions import StateError


class Timer:
    """Measure elapsed wall-clock time with :func:`time.perf_counter`.

    Reading ``interval`` before the first start, or calling ``stop()`` on a timer
    that is not running, raises :class:`~recutils.exceptions.StateError` (a
    ``RuntimeError``).

    Examples:
        >>> with Timer() as t:
        ...     _ = sum(range(1000))
        >>> t.interval >= 0
        True
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._interval: float | None = None

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start (or restart) the timer."""
        self._interval = None
        self._start = time.perf_counter()

    def stop(self) -> float:
        """Stop the timer and return the elapsed seconds."""
        if self._start is None:
            raise StateError("Timer.stop() called before Timer.start(); start it first.")
        self._interval = time.perf_counter() - self._start
        self._start = None
        return self._interval

    @property
    def running(self) -> bool:
        """Whether the timer has been started and not stopped."""
        return self._start is not None

    @property
    def interval(self) -> float:
        """Elapsed seconds: the final value once stopped, the running value before."""
        if self._start is not None:
            return time.perf_counter() - self._start
        if self._interval is None:
            raise StateError("Timer has not been started; call start() or use it in a with block.")
        return self._interval

    def __str__(self) -> str:
        return f"{self.interval:0.4f}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        try:
            return f"Timer({state}, {self.interval:0.4f} s)"
        except StateError:
            return "Timer(not started)"
