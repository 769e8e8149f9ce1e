"""Exhibit list latency: GET /cases/{id}/exhibits (first page of 100) in a case of 10,000 evidence items.

Seeds the rows in bulk, then times the page through HTTP with a keep-alive client. The floors, in
the same run: GET /healthz over the same connection (HTTP + auth-free round trip), and the page's
SQL run directly (database work alone).
"""

import os
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, text

from api.db import get_engine, session_scope
from bench.common import insert_exhibits, median, p95, server, wait_healthy
from bench.setup import make_workspace
from models.common import utcnow
from models.evidence import EvidenceItem


def seed(case_id: str, count: int) -> float:
    """Insert `count` evidence items, each an exhibit of the case; returns seconds taken."""
    case = uuid.UUID(case_id)
    with session_scope() as session:
        user_id = session.execute(select(EvidenceItem.uploaded_by).limit(1)).scalar()
        if user_id is None:
            from models.case import Case

            user_id = session.get(Case, case).created_by
    started, now = time.perf_counter(), utcnow()
    batch = 2000
    for offset in range(0, count, batch):
        numbered = [
            (
                n,
                uuid.uuid4(),
                {
                    "size_bytes": 1000 + n,
                    "original_filename": f"review_{n:05d}.png",
                    "title": f"5-star review #{n}",
                    "tags": ["paid-review"],
                    "facts": {"rating": 5},
                    "occurred_at": now - timedelta(minutes=n),
                    "page_count": 1,
                    "width": 1280,
                    "height": 860,
                },
            )
            for n in range(offset + 1, min(count, offset + batch) + 1)
        ]
        insert_exhibits(case, user_id, numbered, now=now, label_digits=5)
    # Refresh planner statistics, as autovacuum would shortly after a bulk load; without them PostgreSQL
    # guesses a handful of rows and sorts all 10,000 instead of walking the (case_id, position, id) index.
    with get_engine().begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _time(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_one(label: str, postgres_url: str | None, items: int, requests: int) -> dict:
    root = Path("var/bench") / f"exhibits-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    seconds = seed(ws.case_id, items)
    from api.services import exhibits as exhibit_service
    from models.case import Case

    def direct_sql():
        with session_scope() as session:
            exhibit_service.list_exhibits(session, session.get(Case, uuid.UUID(ws.case_id)), limit=100, cursor=None)

    with server("api.app:app", ws.env) as (base, _pid):
        wait_healthy(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}) as http:
            url = f"/api/v1/cases/{ws.case_id}/exhibits"
            first = http.get(url).json()
            assert len(first["items"]) == 100 and first["items"][0]["label"] == "PX-00001", first
            last_page = http.get(url, params={"cursor": first["next_cursor"]}).json()
            assert last_page["items"][0]["label"] == "PX-00101"
            for _ in range(20):  # warm-up
                http.get(url)
                http.get("/healthz")
            page_ms, health_ms = [], []
            for _ in range(requests):  # interleaved, so noise hits both alike
                page_ms += _time(lambda: http.get(url).raise_for_status(), 1)
                health_ms += _time(lambda: http.get("/healthz").raise_for_status(), 1)
    sql_ms = _time(direct_sql, requests)
    ws.drop()
    shutil.rmtree(root, ignore_errors=True)
    result = {
        "db": label,
        "items": items,
        "seed_s": seconds,
        "page_median_ms": median(page_ms),
        "page_p95_ms": p95(page_ms),
        "healthz_median_ms": median(health_ms),
        "sql_median_ms": median(sql_ms),
    }
    print(
        f"exhibits [{label}] {items:,} items (seeded in {seconds:.1f} s): first page median "
        f"{result['page_median_ms']:.1f} ms, p95 {result['page_p95_ms']:.1f} ms (target median < 30 ms); "
        f"floors: /healthz {result['healthz_median_ms']:.2f} ms, page SQL alone {result['sql_median_ms']:.2f} ms; "
        f"ratio to /healthz {result['page_median_ms'] / result['healthz_median_ms']:.1f}x",
        flush=True,
    )
    return result


def run(items: int = 10_000, requests: int = 200, postgres_url: str | None = None) -> list[dict]:
    results = [run_one("sqlite", None, items, requests)]
    if postgres_url:
        results.append(run_one("postgresql", postgres_url, items, requests))
    return results


if __name__ == "__main__":
    run(postgres_url=os.environ.get("BENCH_POSTGRES_URL"))
