"""Load for Nexus Travel: mostly cached listing reads, some deep keyset paging, a few
bookings. `pip install locust && locust -f example_project/locustfile.py --host http://127.0.0.1:8000`."""

from __future__ import annotations

import datetime as dt
import random

from locust import HttpUser, between, task

CITIES = ["Lagos", "Lisbon", "Kyoto", "Lima", "Oslo", "Nairobi", "Hanoi", "Quito", "Tbilisi", "Accra"]


class Browser(HttpUser):
    wait_time = between(0.1, 1.0)

    @task(10)
    def listings_in_a_city(self) -> None:
        self.client.get(f"/api/v2/listings/?city={random.choice(CITIES)}", name="/api/v2/listings/?city=")

    @task(5)
    def one_listing(self) -> None:
        self.client.get(f"/api/v2/listings/{random.randint(1, 200)}/", name="/api/v2/listings/{id}/")

    @task(2)
    def page_deep(self) -> None:
        url: str | None = "/api/v2/listings/?page_size=50"
        for _ in range(random.randint(1, 10)):
            if not url:
                break
            response = self.client.get(url, name="/api/v2/listings/ (walk)")
            url = response.json().get("next") if response.ok else None


class Guest(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.auth = ("demo", "demo")

    @task
    def book(self) -> None:
        start = dt.date.today() + dt.timedelta(days=random.randint(10, 300))
        self.client.post(
            "/api/v2/bookings/",
            json={
                "listing": random.randint(1, 200),
                "check_in": start.isoformat(),
                "check_out": (start + dt.timedelta(days=random.randint(1, 7))).isoformat(),
            },
            name="/api/v2/bookings/",
        )
