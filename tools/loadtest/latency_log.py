"""Locust plugin: every request's start time, latency and outcome to a CSV file.

Locust's own CSV files hold percentiles only; a histogram of the latencies, or percentiles
over any window, need each request. Load this file beside the profile
(``locust -f tools/loadtest/locustfile.py,tools/loadtest/latency_log.py``) with
``RECUTILS_LOADTEST_LATENCY_LOG`` naming the output file; at the end of the run it holds one
row per request: ``start_time`` (Unix seconds), ``response_time_ms``, ``ok`` (1 or 0), ``name``.
``run_loadtest.run_locust(..., latency_log=PATH)`` sets both.
"""

from __future__ import annotations

import csv
import os
from typing import Any

from locust import events

_PATH = os.environ.get("RECUTILS_LOADTEST_LATENCY_LOG", "")
_ROWS: list[tuple[float, float, int, str]] = []


@events.request.add_listener
def _record(
    name: str,
    response_time: float,
    exception: BaseException | None = None,
    start_time: float = 0.0,
    **_: Any,
) -> None:
    _ROWS.append((start_time, response_time, int(exception is None), name))


@events.quitting.add_listener
def _write(**_: Any) -> None:
    if not _PATH:
        return
    with open(_PATH, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["start_time", "response_time_ms", "ok", "name"])
        writer.writerows(_ROWS)
