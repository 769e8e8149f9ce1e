"""Importing a million timeline events through POST /cases/{id}/events:import, beside the direct bulk load of the
same rows measured in the same run, on SQLite and PostgreSQL.

Each repetition gets a fresh database with two cases citing the same thousand exhibits, and a fresh copy of the
real-shaped events (bench/timeline_data.py), written to files before anything is timed:
- the floor: events.tsv loaded straight into the first case in one transaction (SQLite: the driver's
  executemany of the stored tuples with a 256 MiB page cache; PostgreSQL: COPY of the TSV), then the same
  statistics statement the import runs (ANALYZE timeline_events);
- the route: events.csv sent over HTTP to a uvicorn server into the second case; the body is over the job
  threshold, so the answer is 202 and the job is followed until it has succeeded; the server's RSS is sampled
  throughout.
Printed: seconds and rows/s of each, the ratio route rate / floor rate (target >= 0.5) and the server's RSS
growth (target < 150 MiB); with repeats, medians and spread.
"""

import itertools
import os
import shutil
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert, text, update

from api.db import get_engine, session_scope
from api.services import cases as case_service
from bench import timeline_data
from bench.common import RssSampler, median, server, spread, wait_healthy
from bench.setup import make_workspace
from bench.timeline_seed import _evidence
from models.case import Case, CaseCreate, CaseType
from models.common import utcnow
from models.exhibit import Exhibit
from models.user import User

BATCH = 20_000
SEND_BLOCK = 1024 * 1024
ANALYZE = {
    "sqlite": ["PRAGMA analysis_limit=2000", "ANALYZE timeline_events"],
    "postgresql": ["ANALYZE timeline_events"],
}


def _second_case(first: uuid.UUID, evidence: list[uuid.UUID]) -> uuid.UUID:
    """A case in the same timezone, with the first case's evidence linked in as its exhibits."""
    with session_scope() as session:
        owner = session.get(User, session.get(Case, first).created_by)
        case = case_service.create_case(
            session, actor=owner, data=CaseCreate(title="Import v. Click Farm", case_type=CaseType.lanham_act)
        )
        case.timezone = timeline_data.TIMEZONE
        case_id, user_id = case.id, owner.id
    now = utcnow()
    exhibits = [
        {"id": uuid.uuid4(), "case_id": case_id, "evidence_id": e, "number": n, "label": f"IX-{n:04d}",
         "position": n, "designation": "none", "created_by": user_id, "created_at": now}
        for n, e in enumerate(evidence, start=1)
    ]  # fmt: skip
    with get_engine().begin() as conn:
        conn.execute(insert(Exhibit), exhibits)
    return case_id


def _floor(files: timeline_data.Files, postgres: bool) -> tuple[float, float]:
    """(seconds of the bulk load, seconds of the statistics statement after it)."""
    engine = get_engine()
    started = time.perf_counter()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        names = ", ".join(timeline_data.COLUMNS)
        if postgres:
            with cursor.copy(f"COPY timeline_events ({names}) FROM STDIN") as copy, files.tsv.open("rb") as tsv:
                while block := tsv.read(SEND_BLOCK):
                    copy.write(block)
        else:
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache for the load
            sql = f"INSERT INTO timeline_events ({names}) VALUES ({', '.join('?' * len(timeline_data.COLUMNS))})"
            rows = timeline_data.stored_rows(files.tsv)
            while batch := list(itertools.islice(rows, BATCH)):
                cursor.executemany(sql, batch)
    loaded = time.perf_counter()
    with engine.begin() as conn:
        for statement in ANALYZE["postgresql" if postgres else "sqlite"]:
            conn.exec_driver_sql(statement)
    return loaded - started, time.perf_counter() - loaded


def _send(path: Path):
    with path.open("rb") as f:
        while block := f.read(SEND_BLOCK):
            yield block


def _route(ws, case_id: uuid.UUID, files: timeline_data.Files) -> tuple[float, float, dict]:
    """(seconds from the first byte sent to the job's success, server RSS growth in bytes, the job)."""
    size = files.csv.stat().st_size
    with server("api.app:app", ws.env) as (base, pid):
        wait_healthy(base)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=600) as http:
            http.get(f"/api/v1/cases/{case_id}/imports").raise_for_status()  # warm: the first request's imports
            with RssSampler(pid) as rss:
                started = time.perf_counter()
                r = http.post(
                    f"/api/v1/cases/{case_id}/events:import",
                    content=_send(files.csv),
                    headers={"Content-Type": "text/csv", "Content-Length": str(size)},
                )
                assert r.status_code == 202, r.text
                while (job := http.get(r.headers["Location"]).json())["status"] not in ("succeeded", "failed"):
                    time.sleep(0.1)
                seconds = time.perf_counter() - started
    assert job["status"] == "succeeded" and job["imported"] == files.count, job
    return seconds, rss.growth, job


def run_one(label: str, postgres_url: str | None, count: int) -> dict:
    root = Path("var/bench") / f"timeline-import-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    try:
        first = uuid.UUID(ws.case_id)
        with session_scope() as session:
            session.execute(update(Case).where(Case.id == first).values(timezone=timeline_data.TIMEZONE))
            user_id = session.get(Case, first).created_by
        evidence = _evidence(first, user_id)
        second = _second_case(first, evidence)
        files = timeline_data.write(
            root / "data", count, evidence=evidence, case_id=first, user_id=user_id, postgres=postgres_url is not None
        )
        load_s, analyze_s = _floor(files, postgres_url is not None)
        route_s, rss, job = _route(ws, second, files)
        with session_scope() as session:
            stored = session.execute(
                text("SELECT count(*) FROM timeline_events WHERE case_id = :c"),
                {"c": second.hex if postgres_url is None else second},
            ).scalar_one()
        assert stored == count, (stored, count)
        floor_s = load_s + analyze_s
        result = {
            "db": label,
            "rows": count,
            "floor_s": floor_s,
            "floor_load_s": load_s,
            "floor_analyze_s": analyze_s,
            "route_s": route_s,
            "ratio": (count / route_s) / (count / floor_s),
            "rss_mib": rss / 2**20,
            "csv_mib": files.csv.stat().st_size / 2**20,
        }
        print(
            f"timeline import [{label}] {count:,} rows ({result['csv_mib']:.0f} MiB of CSV): floor {floor_s:.1f} s "
            f"({count / floor_s:,.0f} rows/s; load {load_s:.1f} s + ANALYZE {analyze_s:.1f} s), route "
            f"{route_s:.1f} s ({count / route_s:,.0f} rows/s), ratio {result['ratio']:.2f} (target >= 0.5); "
            f"server RSS growth {result['rss_mib']:.0f} MiB (target < 150 MiB)",
            flush=True,
        )
        return result
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)


def run(count: int = 1_000_000, postgres_url: str | None = None, repeat: int = 1) -> list[dict]:
    results = []
    for label, url in [("sqlite", None)] + ([("postgresql", postgres_url)] if postgres_url else []):
        runs = [run_one(label, url, count) for _ in range(repeat)]
        results += runs
        if repeat > 1:
            ratios, rss = [r["ratio"] for r in runs], [r["rss_mib"] for r in runs]
            floors, routes = [r["floor_s"] for r in runs], [r["route_s"] for r in runs]
            print(
                f"timeline import [{label}] {count:,} rows, {repeat} runs: floor median {median(floors):.1f} s "
                f"({spread(floors)}), route median {median(routes):.1f} s ({spread(routes)}), ratio median "
                f"{median(ratios):.2f} ({min(ratios):.2f} to {max(ratios):.2f}), RSS growth median "
                f"{median(rss):.0f} MiB ({spread(rss)})",
                flush=True,
            )
    return results


if __name__ == "__main__":
    run(
        count=int(os.environ.get("BENCH_TIMELINE_IMPORT_EVENTS", 1_000_000)),
        postgres_url=os.environ.get("BENCH_POSTGRES_URL"),
        repeat=int(os.environ.get("BENCH_REPEAT", 1)),
    )
