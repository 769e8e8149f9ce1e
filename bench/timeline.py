"""Case timeline at scale, on real-shaped data: 1,000,000 events imported the way a user imports them.

The events (bench/timeline_data.py) arrive in random order, most to the second and some only to the minute, day,
month or year, with skewed kinds and tags and titles in many scripts. For each database:
- the import: the CSV through `POST /cases/{id}/events:import` of a uvicorn process (followed to the end when it
  runs as a job), against the floor, the same rows loaded straight into the table (bench/timeline_seed.py), each
  into a fresh database; the rate ratio route / floor (target >= 0.5) and the server's RSS growth (< 150 MiB),
  over BENCH_TIMELINE_REPEAT runs;
- filtered pages of 100 over HTTP on the imported case (by month, by kind, by both, by tag, disputed only):
  median and p95 of every request (targets 10 / 25 ms), the spread of the per-round medians, beside /healthz on
  the same connection; no ANALYZE but what the product runs itself;
- paging through every event with the cursor, 1,000 at a time;
- the CSV export of all of them: time (target < 15 s) and the server's RSS growth (< 100 MiB);
- the plan of each filter's statements (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE).
"""

import os
import random
import shutil
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import event

from api.db import get_engine, session_scope
from api.services.timeline import query
from bench import timeline_data as data
from bench.common import RssSampler, median, p95, server, spread, wait_healthy
from bench.setup import make_workspace
from bench.timeline_seed import EVIDENCE_IDS, PLACEHOLDER_CASE, PLACEHOLDER_USER, direct_seed, prepare_case
from models.case import Case

KINDS = [kind for kind, _ in data.KINDS]
SHAPES = ("month", "kind", "month+kind", "tag", "disputed")


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _month(rng: random.Random) -> dict:
    year, month = 2019 + rng.randrange(3), 1 + rng.randrange(12)
    return {"start": f"{year}-{month:02d}", "end": f"{year + (month == 12)}-{month % 12 + 1:02d}"}


def _params(shape: str, rng: random.Random, tags: list[str]) -> dict:
    """A filter a user would set: any month of the three years, any kind (rare ones too), any tag in use."""
    if shape == "month":
        return _month(rng)
    if shape == "kind":
        return {"kind": rng.choice(KINDS)}
    if shape == "month+kind":
        return _month(rng) | {"kind": rng.choice(KINDS)}
    if shape == "tag":
        return {"tag": rng.choice(tags)}
    return {"disputed": "true"}


def files_for(count: int, postgres: bool) -> data.Files:
    """The CSV and TSV of `count` events, written once per database kind and size and kept under var/bench, with
    events-ordered.tsv beside them (see _ordered)."""
    root = Path("var/bench") / f"timeline-files-{'postgresql' if postgres else 'sqlite'}-{count}"
    done = root / "complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        files = data.write(
            root, count, evidence=EVIDENCE_IDS, case_id=PLACEHOLDER_CASE, user_id=PLACEHOLDER_USER, postgres=postgres
        )
        _ordered(files.tsv, root / "events-ordered.tsv", postgres)
        done.write_text(" ".join(sorted(files.tag_counts)))
    return data.Files(root / "events.csv", root / "events.tsv", count, 0, dict.fromkeys(done.read_text().split(), 1))


def _ordered(tsv: Path, out: Path, postgres: bool) -> None:
    """The same rows in time order with ascending ids: what the import stores (it sorts the rows and gives them
    time-ordered ids), loaded directly. A second, stricter floor: the cheapest load of these events."""
    lines = tsv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.sort(key=lambda line: line.split("\t", 3)[2])
    with out.open("w", encoding="utf-8") as f:
        for n, line in enumerate(lines):
            new_id = uuid.UUID(int=(1 << 120) + n)
            f.write((str(new_id) if postgres else new_id.hex) + line[line.index("\t") :])


def _workspace(label: str, postgres_url: str | None):
    root = Path("var/bench") / f"timeline-{label}-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    return root, ws


def _floor(label: str, postgres_url: str | None, files: data.Files) -> float:
    root, ws = _workspace(label, postgres_url)
    try:
        case, user = prepare_case(ws.case_id)
        return direct_seed(files.tsv, case, user, postgres_url is not None)
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)


def _import(http: httpx.Client, case_id: str, files: data.Files) -> dict:
    """POST the CSV; follow the job to its end when the server answers 202. Returns the import's JSON."""
    with files.csv.open("rb") as body:
        r = http.post(f"/api/v1/cases/{case_id}/events:import", content=body, headers={"Content-Type": "text/csv"})
    if r.status_code == 201:
        return r.json()
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    while True:
        job = http.get(location).raise_for_status().json()
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            return job
        time.sleep(0.25)


def run_db(label: str, postgres_url: str | None, count: int, requests: int, repeat: int) -> dict:
    postgres = postgres_url is not None
    started = time.perf_counter()
    files = files_for(count, postgres)
    print(f"timeline [{label}] {count:,} real-shaped events ready in {time.perf_counter() - started:.1f} s", flush=True)
    ordered = data.Files(files.csv, files.tsv.with_name("events-ordered.tsv"), count, 0, {})
    ordered_s = _floor(label, postgres_url, ordered)
    print(
        f"timeline [{label}] stricter floor: the same rows loaded in time order with ascending ids, as the import "
        f"stores them: {ordered_s:.1f} s ({count / ordered_s:,.0f} rows/s)",
        flush=True,
    )
    runs = []
    for round_ in range(1, repeat + 1):
        floor_s = _floor(label, postgres_url, files)
        root, ws = _workspace(label, postgres_url)
        try:
            prepare_case(ws.case_id)
            with server("api.app:app", ws.env) as (base, pid):
                wait_healthy(base)
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ws.token}"}, timeout=600) as http:
                    with RssSampler(pid) as rss:
                        t = time.perf_counter()
                        imported = _import(http, ws.case_id, files)
                        import_s = time.perf_counter() - t
                    assert imported["imported"] == count, imported
                    runs.append((floor_s / import_s, import_s, floor_s, rss.growth / 2**20))
                    print(
                        f"timeline [{label}] import run {round_}/{repeat}: floor (direct load of the rows as given) "
                        f"{floor_s:.1f} s ({count / floor_s:,.0f} rows/s); route {import_s:.1f} s "
                        f"({count / import_s:,.0f} rows/s); rate ratio {floor_s / import_s:.2f} (target >= 0.5), "
                        f"{ordered_s / import_s:.2f} against the stricter floor; server RSS growth "
                        f"{rss.growth / 2**20:.0f} MiB (target < 150)",
                        flush=True,
                    )
                    if round_ == repeat:
                        return _after_import(label, ws, http, pid, count, requests, files, runs)
        finally:
            ws.drop()
            shutil.rmtree(root, ignore_errors=True)
    raise ValueError("repeat must be at least 1")


def _after_import(label, ws, http, pid, count, requests, files, runs) -> dict:
    ratios, imports, floors, growths = zip(*runs, strict=True)
    print(
        f"timeline [{label}] import over {len(ratios)} runs: rate ratio median {median(ratios):.2f} "
        f"({spread(ratios)}); route median {median(imports):.1f} s, floor median {median(floors):.1f} s; "
        f"RSS growth max {max(growths):.0f} MiB",
        flush=True,
    )
    result = {"db": label, "events": count, "import_ratio": median(ratios), "import_s": median(imports)}
    result |= _pages(label, ws, http, requests, sorted(files.tag_counts))
    result |= _page_through(http, f"/api/v1/cases/{ws.case_id}/timeline", label, count)
    result |= _export(http, f"/api/v1/cases/{ws.case_id}/timeline", pid, label, count)
    with session_scope() as session:
        case = session.get(Case, uuid.UUID(ws.case_id))
        session.expunge(case)
    for shape in SHAPES:
        params = _params(shape, random.Random(5), sorted(files.tag_counts))
        for plan in explain(case, params, label == "postgresql"):
            print(f"timeline [{label}] plan of a page filtered by {shape} {params}:\n{plan}", flush=True)
    return result


def _pages(label: str, ws, http: httpx.Client, requests: int, tags: list[str]) -> dict:
    """`requests` pages per filter shape in each of three rounds, interleaved with /healthz."""
    url = f"/api/v1/cases/{ws.case_id}/timeline"
    rng = random.Random(11)
    for shape in SHAPES:  # warm-up
        for _ in range(10):
            http.get(url, params=_params(shape, rng, tags) | {"limit": 100}).raise_for_status()
    rounds = {shape: [] for shape in SHAPES}
    health = []
    for _ in range(3):
        for shape in SHAPES:
            times = []
            for _ in range(requests):
                params = _params(shape, rng, tags) | {"limit": 100}
                times.append(_ms(lambda p=params: _full_page(http, url, p)))
                health.append(_ms(lambda: http.get("/healthz").raise_for_status()))
            rounds[shape].append(times)
    result = {}
    for shape, runs in rounds.items():
        every = [t for run in runs for t in run]
        medians = [median(run) for run in runs]
        result[f"page_{shape}_median_ms"], result[f"page_{shape}_p95_ms"] = median(every), p95(every)
        print(
            f"timeline [{label}] page of 100 filtered by {shape}, {len(every)} requests: "
            f"median {median(every):.1f} ms, p95 {p95(every):.1f} ms (targets 10 / 25 ms); round medians "
            f"{' / '.join(f'{m:.1f}' for m in medians)} ({spread(medians)})",
            flush=True,
        )
    print(f"timeline [{label}] floor: /healthz on the same connection, median {median(health):.2f} ms", flush=True)
    return result


def explain(case: Case, params: dict, postgres: bool) -> list[str]:
    """The plan of each statement a page with these filters runs."""
    # As the route reads the query string: kind and tag as lists, disputed as a flag.
    listed = {k: [v] if k in ("kind", "tag") else v == "true" if k == "disputed" else v for k, v in params.items()}
    f = query.parse_filter(case, **listed)
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "timeline_events" in statement:
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
        f"of 1,000): first {tenth} pages median {first:.1f} ms, last {tenth} {last:.1f} ms (ratio "
        f"{last / first:.2f}); all pages median {median(times):.1f} ms, p95 {p95(times):.1f} ms",
        flush=True,
    )
    return {"paging_s": total, "first_pages_ms": first, "last_pages_ms": last}


def _export(http, url, pid: int, label: str, count: int) -> dict:
    rows, size = 0, 0
    with RssSampler(pid) as rss:
        started = time.perf_counter()
        with http.stream("GET", url, params={"format": "csv"}) as r:
            r.raise_for_status()
            last = b""
            for chunk in r.iter_bytes():
                size += len(chunk)
                # Titles hold bare newlines; records end in CRLF, which a chunk may split.
                rows += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                last = chunk[-1:]
        seconds = time.perf_counter() - started
    assert rows == count + 1, (rows, count)
    print(
        f"timeline [{label}] CSV export of {count:,} events: {seconds:.1f} s, {size / 2**20:.0f} MiB "
        f"(target < 15 s); server RSS growth {rss.growth / 2**20:.1f} MiB (target < 100 MiB)",
        flush=True,
    )
    return {"export_s": seconds, "export_rss_mib": rss.growth / 2**20}


def run(count: int = 1_000_000, requests: int = 100, postgres_url: str | None = None, repeat: int = 2) -> list[dict]:
    results = [run_db("sqlite", None, count, requests, repeat)]
    if postgres_url:
        results.append(run_db("postgresql", postgres_url, count, requests, repeat))
    return results


if __name__ == "__main__":
    run(
        count=int(os.environ.get("BENCH_TIMELINE_EVENTS", 1_000_000)),
        postgres_url=os.environ.get("BENCH_POSTGRES_URL"),
        repeat=int(os.environ.get("BENCH_TIMELINE_REPEAT", 2)),
    )
