"""Locust load profile for the recutils recommendation service.

Each simulated user sends one request at a steady pace (``RECUTILS_LOADTEST_RATE`` requests
per second per simulated user, default 12: 50 users offer about 600 requests/s) to the
endpoint ``RECUTILS_LOADTEST_ENDPOINT``:

* ``recommendations`` (default): ``GET /v1/recommendations/{id}?k=`` with ids drawn from
  ``RECUTILS_LOADTEST_IDS`` (a text file, one id a line; about 5% unknown ids exercise the
  popularity fallback);
* ``retrieve`` or ``two-stage``: ``POST /v1/retrieve`` or ``POST /v1/two-stage`` with bodies
  drawn from ``RECUTILS_LOADTEST_IDS`` (a text file, one JSON body a line: known users by id,
  about 5% new users by their features); ``k`` comes from ``RECUTILS_LOADTEST_K``, the
  two-stage ``candidates`` from ``RECUTILS_LOADTEST_CANDIDATES`` (unset: the service's default).

A response other than 200 with a JSON body holding ``items`` counts as a failure.

Run through ``tools/loadtest/run_loadtest.py`` (which starts the service), or by hand::

    locust -f tools/loadtest/locustfile.py --headless -u 50 -r 50 -t 30s \
        --host http://127.0.0.1:8000
"""

from __future__ import annotations

import json
import os
import random

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

_ENDPOINT = os.environ.get("RECUTILS_LOADTEST_ENDPOINT", "recommendations")
_IDS_FILE = os.environ.get("RECUTILS_LOADTEST_IDS", "")
_LINES = (
    [line.strip() for line in open(_IDS_FILE, encoding="utf-8") if line.strip()]
    if _IDS_FILE
    else [str(i) for i in range(1, 944)]
)
_K = int(os.environ.get("RECUTILS_LOADTEST_K", "10"))
_RATE = float(os.environ.get("RECUTILS_LOADTEST_RATE", "12"))
_EXTRA = (
    {"candidates": int(os.environ["RECUTILS_LOADTEST_CANDIDATES"])}
    if _ENDPOINT == "two-stage" and os.environ.get("RECUTILS_LOADTEST_CANDIDATES")
    else {}
)
_BODIES = (
    [{**json.loads(line), "k": _K, **_EXTRA} for line in _LINES]
    if _ENDPOINT in ("retrieve", "two-stage")
    else []
)


def _check(resp) -> None:  # noqa: ANN001 - locust's response context
    if resp.status_code != 200:
        resp.failure(f"status {resp.status_code}")
        return
    try:
        body = resp.json()
    except ValueError:
        resp.failure("not JSON")
        return
    if "items" not in body:
        resp.failure("no items in the answer")
    else:
        resp.success()


class RecommendationUser(FastHttpUser):
    """One client asking the service at a steady rate."""

    wait_time = constant_throughput(_RATE)

    @task
    def request(self) -> None:
        if _BODIES:
            with self.client.post(
                f"/v1/{_ENDPOINT}",
                json=random.choice(_BODIES),
                name=f"/v1/{_ENDPOINT}",
                catch_response=True,
            ) as resp:
                _check(resp)
            return
        user = random.choice(_LINES)
        with self.client.get(
            f"/v1/recommendations/{user}?k={_K}",
            name="/v1/recommendations/{user_id}",
            catch_response=True,
        ) as resp:
            _check(resp)
