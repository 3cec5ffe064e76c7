"""Progress bars for long loops only.

Every loop of recutils that may run long (scoring blocks, training epochs and steps, tuning
trials, benchmark runs) shows its bar through :func:`progress_bar`, which draws nothing for
work done in a single step and shows a bar only once the loop has run for
:data:`PROGRESS_DELAY_S` seconds: a call that finishes sooner (most calls on small data)
prints no bar at all, in a terminal or in a notebook. The environment variable
``RECUTILS_PROGRESS=0`` turns every bar off (batch jobs, logs, notebooks stored with their
outputs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

#: Seconds a loop runs before its bar appears.
PROGRESS_DELAY_S = 1.0
#: Environment variable that turns every bar off when set to 0, false, no or off.
PROGRESS_ENV = "RECUTILS_PROGRESS"


def progress_enabled() -> bool:
    """False when :data:`PROGRESS_ENV` switches bars off for the whole process."""
    return os.environ.get(PROGRESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    enabled: bool = True,
    **kwargs: Any,
) -> Any:
    """A ``tqdm.auto`` bar over ``iterable`` (or a manual one with ``total``), shown only
    after :data:`PROGRESS_DELAY_S` seconds, and none at all when ``enabled`` is false or
    the loop has at most one step (``total``, else ``len(iterable)`` where it has one).

    The returned object is a tqdm in every case (a disabled one passes the items through
    and ignores ``update`` / ``close``), so callers need no branch.

    Args:
        iterable: What to iterate over, or None for a bar updated by hand.
        total: Number of steps (default ``len(iterable)`` when defined).
        desc, unit: tqdm's label and unit.
        enabled: False draws nothing (the caller's ``progress`` setting).
        **kwargs: Further tqdm arguments (``initial``, ``leave``, ``mininterval`` ...).
    """
    from tqdm.auto import tqdm

    if total is None and iterable is not None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    steps_left = None if total is None else total - int(kwargs.get("initial", 0) or 0)
    disable = not enabled or not progress_enabled() or (steps_left is not None and steps_left <= 1)
    kwargs.setdefault("delay", PROGRESS_DELAY_S)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, **kwargs)


__all__ = ["PROGRESS_DELAY_S", "PROGRESS_ENV", "progress_bar", "progress_enabled"]
