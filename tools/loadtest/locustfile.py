"""Locust load profile for the recutils recommendation service.

Each simulated user asks for one user's top-k (``GET /v1/recommendations/{id}?k=``) at a
steady pace (``RECUTILS_LOADTEST_RATE`` requests per second per simulated user, default
12: 50 users offer about 600 requests/s), drawing ids from ``RECUTILS_LOADTEST_IDS`` (a
text file, one id a line; about 5% unknown ids exercise the popularity fallback). A
response other than 200 with a JSON body holding ``items`` counts as a failure.

Run through ``tools/loadtest/run_loadtest.py`` (which starts the service), or by hand::

    locust -f tools/loadtest/locustfile.py --headless -u 50 -r 50 -t 30s \
        --host http://127.0.0.1:8000
"""

from __future__ import annotations

import os
import random

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

_IDS_FILE = os.environ.get("RECUTILS_LOADTEST_IDS", "")
_IDS = ([line.strip() for line in open(_IDS_FILE, encoding="utf-8") if line.strip()]
        if _IDS_FILE else [str(i) for i in range(1, 944)])
_K = int(os.environ.get("RECUTILS_LOADTEST_K", "10"))
_RATE = float(os.environ.get("RECUTILS_LOADTEST_RATE", "12"))


class RecommendationUser(FastHttpUser):
    """One client asking for recommendations at a steady rate."""

    wait_time = constant_throughput(_RATE)

    @task
    def recommend(self) -> None:
        user = random.choice(_IDS)
        with self.client.get(f"/v1/recommendations/{user}?k={_K}",
                             name="/v1/recommendations/{user_id}", catch_response=True) as resp:
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
