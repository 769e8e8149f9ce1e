"""The web app's pages, rendered by the server: the Exhibits tab (first page of 50) of a case with 10,000 exhibits
and the Timeline tab (histogram and first page) of a case with 1,000,000 events. Targets: median < 30 ms and
p95 < 60 ms each. Floor, in the same run and over the same signed-in keep-alive connection: GET /healthz.

The exhibits are seeded in bulk (bench/exhibits.py); the events are loaded straight into the table in the order an
import stores them (bench/timeline_seed.py), from the same real-shaped data as the timeline benchmark.
"""

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import exhibits as exhibit_bench
from bench import timeline as timeline_bench
from bench.common import median, p95, server, wait_healthy
from bench.setup import make_workspace
from bench.timeline_seed import direct_seed, prepare_case

EMAIL, PASSWORD = "bench@casebinder.example", "bench-password"  # bench/setup.py's account


@contextmanager
def signed_in(base: str) -> Iterator[httpx.Client]:
    """A keep-alive client signed in through the form, as a browser is."""
    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as http:
        form = http.get("/login").text
        token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert token, "no sign-in form"
        answer = http.post("/login", data={"email": EMAIL, "password": PASSWORD, "login_token": token.group(1)})
        answer.raise_for_status()
        assert "casebinder_session" in http.cookies, "sign-in did not start a session"
        yield http


def _ms(http: httpx.Client, url: str) -> float:
    response = http.get(url)
    response.raise_for_status()
    return response.elapsed.total_seconds() * 1000


def measure(http: httpx.Client, url: str, requests: int, check) -> dict:
    """Median and p95 of the page and of /healthz, interleaved so that noise hits both alike."""
    check(http.get(url).text)
    for _ in range(20):  # warm-up
        http.get(url)
        http.get("/healthz")
    page_ms, health_ms = [], []
    for _ in range(requests):
        page_ms.append(_ms(http, url))
        health_ms.append(_ms(http, "/healthz"))
    return {
        "median_ms": median(page_ms),
        "p95_ms": p95(page_ms),
        "healthz_ms": median(health_ms),
        "ratio": median(page_ms) / median(health_ms),
    }


def _report(what: str, label: str, size: str, r: dict) -> None:
    verdict = "met" if r["median_ms"] < 30 and r["p95_ms"] < 60 else "MISSED"
    print(
        f"web {what} [{label}] {size}: median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms "
        f"(targets < 30 / < 60 ms: {verdict}); floor /healthz {r['healthz_ms']:.2f} ms; ratio {r['ratio']:.1f}x",
        flush=True,
    )


def _page_in_workspace(name: str, postgres_url: str | None, seed, tab: str, check, requests: int) -> dict:
    """A fresh workspace, its case seeded by `seed(case_id)`, the server on it, and the case's `tab` measured."""
    root = Path("var/bench") / f"web-{name}-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    try:
        seed(ws.case_id)
        with server("api.app:app", ws.env) as (base, _pid):
            wait_healthy(base)
            with signed_in(base) as http:
                return measure(http, f"/cases/{ws.case_id}/{tab}", requests, check)
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)


def exhibits_page(label: str, postgres_url: str | None, items: int, requests: int) -> dict:
    def check(html: str) -> None:
        rows = re.findall(r'<tr id="exhibit-', html)
        assert len(rows) == 50 and "PX-00001" in html, "the first page is not the first 50 exhibits"

    def seed(case_id: str) -> None:
        exhibit_bench.seed(case_id, items)

    result = _page_in_workspace("exhibits", postgres_url, seed, "exhibits", check, requests)
    _report("exhibits page", label, f"{items:,} exhibits", result)
    return result


def timeline_page(label: str, postgres_url: str | None, count: int, requests: int) -> dict:
    ordered = timeline_bench.files_for(count, postgres_url is not None).tsv.with_name("events-ordered.tsv")

    def seed(case_id: str) -> None:
        case, user = prepare_case(case_id)
        direct_seed(ordered, case, user, postgres_url is not None)

    def check(html: str) -> None:
        assert html.count('<tr id="event-') == 50, "the timeline page does not list its first 50 events"
        assert "events in the case, by month" in html, "the timeline page has no month chart"

    result = _page_in_workspace("timeline", postgres_url, seed, "timeline", check, requests)
    _report("timeline page", label, f"{count:,} events", result)
    return result


def run(postgres_url: str | None = None, items: int = 10_000, events: int = 1_000_000, requests: int = 200) -> list:
    results = []
    for label, url in [("sqlite", None)] + ([("postgresql", postgres_url)] if postgres_url else []):
        results.append(exhibits_page(label, url, items, requests))
        results.append(timeline_page(label, url, events, requests))
    return results


if __name__ == "__main__":
    run(
        postgres_url=os.environ.get("BENCH_POSTGRES_URL"),
        items=int(os.environ.get("BENCH_WEB_EXHIBITS", 10_000)),
        events=int(os.environ.get("BENCH_TIMELINE_EVENTS", 1_000_000)),
        requests=int(os.environ.get("BENCH_WEB_REQUESTS", 200)),
    )
