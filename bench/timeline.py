"""Case timeline at scale: one case with 1,000,000 events, on SQLite and PostgreSQL.

Figures, all through the HTTP API of a uvicorn process unless said otherwise:
- the bulk load of the events (bench/timeline_seed.py), then ANALYZE;
- a filtered page (one month, one kind, limit 100): median and p95, beside two floors measured in the same
  run: GET /healthz on the same connection, and the page's SQL run directly in this process;
- paging through all 1,000,000 events with the cursor (limit 1,000): first pages against the last ones;
- the CSV export of all of them: time, size and the server's RSS growth;
- the EXPLAIN of the page query (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE).
"""

import csv
import os
import random
import shutil
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import event

from api.db import get_engine, session_scope
from api.services import timeline_query as query
from bench.common import RssSampler, median, p95, server, spread, wait_healthy
from bench.setup import make_workspace
from bench.timeline_seed import seed
from models.case import Case
from models.timeline import EventKind

KINDS = [k.value for k in EventKind]


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _month(rng: random.Random) -> tuple[str, str]:
    year, month = 2019 + rng.randrange(3), 1 + rng.randrange(12)
    return f"{year}-{month:02d}", f"{year + (month == 12)}-{month % 12 + 1:02d}"


def explain(case: Case, postgres: bool) -> list[str]:
    """The plan of each statement of a filtered page (straddling events, then the body of the range)."""
    f = query.parse_filter(case, start="2020-06", end="2020-07", kind=["review_posted"])
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM timeline_events" in statement:
            captured.append((statement, parameters))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope() as session:
            query.fetch(session, case.id, f, after=None, limit=101, labels=True)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in captured:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            result = conn.exec_driver_sql(prefix + statement, parameters).all()
            plans.append("\n".join("    " + " ".join(str(c) for c in row[-1:]) for row in result))
    return plans


def run_one(label: str, postgres_url: str | None, count: int, requests: int) -> dict:
    root = Path("var/bench") / f"timeline-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    try:
        return _measure(label, ws, count, requests, postgres_url is not None)
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)


def _measure(label: str, ws, count: int, requests: int, postgres: bool) -> dict:
    seconds = seed(ws.case_id, count, postgres)
    print(f"timeline [{label}] seeded {count:,} events in {seconds:.1f} s (target < 60 s on SQLite)", flush=True)
    with session_scope() as session:
        case = session.get(Case, uuid.UUID(ws.case_id))
    rng = random.Random(11)
    picks = [(*_month(rng), KINDS[rng.randrange(len(KINDS))]) for _ in range(requests)]

    def direct_sql(start, end, kind):
        f = query.parse_filter(case, start=start, end=end, kind=[kind])
        with session_scope() as session:
            query.fetch(session, case.id, f, after=None, limit=101, labels=True)

    result = {"db": label, "events": count, "seed_s": seconds}
    with server("api.app:app", ws.env) as (base, pid):
        wait_healthy(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=120) as http:
            url = f"/api/v1/cases/{ws.case_id}/timeline"
            for start, end, kind in picks[:20]:  # warm-up
                http.get(url, params={"start": start, "end": end, "kind": kind, "limit": 100}).raise_for_status()
                http.get("/healthz")
            page_ms, health_ms = [], []
            for start, end, kind in picks:  # interleaved, so noise hits both alike
                params = {"start": start, "end": end, "kind": kind, "limit": 100}
                page_ms.append(_ms(lambda p=params: _full_page(http, url, p)))
                health_ms.append(_ms(lambda: http.get("/healthz").raise_for_status()))
            sql_ms = [_ms(lambda s=s, e=e, k=k: direct_sql(s, e, k)) for s, e, k in picks]
            result |= {
                "page_median_ms": median(page_ms),
                "page_p95_ms": p95(page_ms),
                "healthz_median_ms": median(health_ms),
                "sql_median_ms": median(sql_ms),
            }
            print(
                f"timeline [{label}] filtered page (one month, one kind, limit 100), {requests} requests: median "
                f"{median(page_ms):.1f} ms, p95 {p95(page_ms):.1f} ms ({spread(page_ms)}; targets 10 / 25 ms); "
                f"floors: /healthz {median(health_ms):.2f} ms, page SQL alone {median(sql_ms):.2f} ms",
                flush=True,
            )
            result |= _page_through(http, url, label, count)
            result |= _export(http, url, pid, label, count)
    for plan in explain(case, postgres):
        print(f"timeline [{label}] page query plan:\n{plan}", flush=True)
    return result


def _full_page(http, url, params):
    body = http.get(url, params=params).raise_for_status().json()
    assert len(body["items"]) == 100 or body["next_cursor"] is None, body["next_cursor"]


def _page_through(http, url, label: str, count: int) -> dict:
    """Every event, 1,000 at a time, following next_cursor."""
    times, seen, cursor = [], 0, None
    started = time.perf_counter()
    while True:
        params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
        t = time.perf_counter()
        body = http.get(url, params=params).raise_for_status().json()
        times.append((time.perf_counter() - t) * 1000)
        seen += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    total = time.perf_counter() - started
    assert seen == count, (seen, count)
    tenth = max(1, len(times) // 10)
    first, last = median(times[:tenth]), median(times[-tenth:])
    print(
        f"timeline [{label}] paged through all {seen:,} events with the cursor in {total:.1f} s ({len(times)} pages "
        f"of 1,000): page 1 {times[0]:.1f} ms; first {tenth} pages median {first:.1f} ms, last {tenth} "
        f"{last:.1f} ms (ratio {last / first:.2f}); all pages median {median(times):.1f} ms, p95 {p95(times):.1f} ms",
        flush=True,
    )
    return {"paging_s": total, "first_pages_ms": first, "last_pages_ms": last}


def _export(http, url, pid: int, label: str, count: int) -> dict:
    rows, size = 0, 0
    with RssSampler(pid) as rss:
        started = time.perf_counter()
        with http.stream("GET", url, params={"format": "csv"}) as r:
            r.raise_for_status()
            tail = b""
            for chunk in r.iter_bytes():
                size += len(chunk)
                rows += chunk.count(b"\n")
                tail = (tail + chunk)[-4096:]
        seconds = time.perf_counter() - started
    last = next(csv.reader([tail.decode().strip().rsplit("\n", 1)[-1]]))
    assert rows == count + 1 and last[0].startswith("2021-12"), (rows, last)
    print(
        f"timeline [{label}] CSV export of {count:,} events: {seconds:.1f} s, {size / 2**20:.0f} MiB "
        f"(target < 15 s); server RSS growth {rss.growth / 2**20:.1f} MiB (target < 100 MiB)",
        flush=True,
    )
    return {"export_s": seconds, "export_rss_mib": rss.growth / 2**20}


def run(count: int = 1_000_000, requests: int = 200, postgres_url: str | None = None) -> list[dict]:
    results = [run_one("sqlite", None, count, requests)]
    if postgres_url:
        results.append(run_one("postgresql", postgres_url, count, requests))
    return results


if __name__ == "__main__":
    run(
        count=int(os.environ.get("BENCH_TIMELINE_EVENTS", 1_000_000)),
        postgres_url=os.environ.get("BENCH_POSTGRES_URL"),
    )
