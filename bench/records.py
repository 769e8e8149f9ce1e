"""Record sets at the leak's scale: an Elasticsearch export of BENCH_RECORDS records (default 1,000,000; the leak held
13,124,962) in the leak's shape (nested _source, about 500 bytes a record, a share of it not Latin), imported the way
a lawyer imports it, on each database.

- The import: the file through `POST /cases/{id}/record-sets` of a uvicorn process, followed to `done`. Its rate is
  set against a floor measured in the same run on a fresh database of its own: PostgreSQL's COPY of the same lines
  into a bare JSONB table, or on SQLite one transaction of executemany of them into a bare table. The ratio is
  the import job's (started to finished, the upload left out: the floor has no upload either); the upload and the
  whole are printed too, and how much of the job came after its last record was written (the set's own indexes and
  its statistics, which the floor's bare table has none of). Target >= 0.5. The server's RSS growth during it
  (target < 200 MiB), with the RSS of the reader processes it starts for a large file (theirs is not in the
  server's; shared libraries count in each), and the time for the 13.1M records extrapolated.
- Lookups by field value (a reviewer's id, a random one each time) over HTTP on the imported set: median and p95
  (target p95 < 20 ms at 13M records; at 1M it is the same index, one level shallower).
- The set's storage alone, as a limit: the same records made beforehand (their reading and parsing not timed),
  written on one connection as the import writes them, then the set's own indexes and statistics built, against
  the floor measured beside it: about the best ratio an import that stores and indexes what this one does could
  reach, however fast it read (one run against one floor, as noisy as the others).
- Sets added after the large one, as a team adds a payment export to a case holding a leak: a small one (no indexes
  of its own; its lookups' times) and one of 20,000 records, whose import builds its indexes (on PostgreSQL over its
  own partition; on SQLite each build reads the whole table).

Run alone: `python -m bench.records` (BENCH_POSTGRES_URL for the PostgreSQL leg, BENCH_RECORDS, BENCH_RECORDS_REPEAT).
"""

import json
import os
import random
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from api.config import get_settings
from api.db import get_engine, session_scope
from api.records import load, parallel, reading
from api.records.fields import Converter, Mapping
from api.records.sample import write_leak_dump
from api.services.record_sets import PARALLEL_BLOCK_BYTES
from bench.common import RssSampler, median, p95, server, spread, wait_healthy
from bench.setup import make_workspace
from models.record_set import RecordFormat, RecordRole

LEAK_RECORDS = 13_124_962
SMALL_RECORDS = 1_000
INDEXED_RECORDS = 20_000  # over records_indexed_from_rows: its import builds its indexes


def _data(count: int) -> tuple[Path, dict, list[str]]:
    """The dump (made once per size and kept under var/bench), its mapping and some reviewer ids in it."""
    folder = Path("var/bench/records")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"leak-{count}.ndjson"
    meta = folder / f"leak-{count}.json"
    if not path.exists() or not meta.exists():
        dump = write_leak_dump(path.with_suffix(".part"), count, seed=0)
        path.with_suffix(".part").rename(path)
        meta.write_text(json.dumps({"mapping": dump.mapping}))
    mapping = json.loads(meta.read_text())["mapping"]
    ids: list[str] = []
    reviewer_path = next(p for p, f in mapping.items() if f == "reviewer_id").split(".")
    rng = random.Random(1)
    with path.open("rb") as f:
        for n, line in enumerate(f):
            if n % 997 == 0 or rng.random() < 0.0005:
                value = json.loads(line)
                for step in reviewer_path:
                    value = value.get(step) if isinstance(value, dict) else None
                if value:
                    ids.append(str(value))
            if len(ids) >= 400:
                break
    return path, mapping, ids


def _floor(label: str, postgres_url: str | None, path: Path) -> float:
    """Seconds for the database's own bulk load of the same lines into a bare table."""
    root = Path("var/bench") / f"records-floor-{label}-{uuid.uuid4().hex[:6]}"
    root.mkdir(parents=True, exist_ok=True)
    try:
        if postgres_url:
            name = f"casebinder_floor_{uuid.uuid4().hex[:8]}"
            dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = make_url(dsn).set(database=name).render_as_string(hide_password=False)
                with psycopg.connect(url) as conn:
                    conn.execute("CREATE TABLE bare (doc jsonb)")
                    started = time.perf_counter()
                    with conn.cursor() as cur, path.open("rb") as f:
                        # CSV format with quote and delimiter bytes that JSON never holds: each line taken as it is.
                        sql = "COPY bare (doc) FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
                        with cur.copy(sql) as copy:
                            while block := f.read(1024 * 1024):
                                copy.write(block)
                    conn.commit()
                    return time.perf_counter() - started
            finally:
                with psycopg.connect(dsn, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db = sqlite3.connect(root / "floor.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE bare (line TEXT)")
        started = time.perf_counter()
        with path.open("r", encoding="utf-8") as f:
            db.executemany("INSERT INTO bare (line) VALUES (?)", ((line.rstrip("\n"),) for line in f))
        db.commit()
        seconds = time.perf_counter() - started
        db.close()
        return seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _seconds(stamp_a: str, stamp_b: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(stamp_b) - datetime.fromisoformat(stamp_a)).total_seconds()


def run_db(label: str, postgres_url: str | None, count: int, repeat: int, lookups: int) -> dict:
    path, mapping, ids = _data(count)
    size = path.stat().st_size
    shown = f"{count:,} records, {size / 2**20:,.0f} MiB ({size / count:.0f} bytes a record)"
    print(f"records [{label}] {shown}", flush=True)
    form = {"name": "Leaked reviewer database", "role": "messages", "mapping": json.dumps(mapping)}
    runs = []
    for round_ in range(1, repeat + 1):
        floor_s = _floor(label, postgres_url, path)
        root = Path("var/bench") / f"records-{label}-{uuid.uuid4().hex[:6]}"
        ws = make_workspace(root, postgres_url)
        try:
            # The default upload limit (2 GiB) refuses the leak's full size (7 GiB as NDJSON): a team raises it, or
            # gzips the file (docs/api.md, Record sets); the benchmark raises it for its own server.
            env = ws.env | {"CASEBINDER_MAX_UPLOAD_BYTES": str(max(size + 2**20, 2**31))}
            with server("api.app:app", env) as (base, pid):
                wait_healthy(base)
                headers = {"Authorization": f"Bearer {ws.token}"}
                with httpx.Client(base_url=base, headers=headers, timeout=600) as http, RssSampler(pid) as rss:
                    started = time.perf_counter()
                    with path.open("rb") as f:
                        r = http.post(
                            f"/api/v1/cases/{ws.case_id}/record-sets",
                            files={"file": (path.name, f)},
                            data=form,
                        )
                    assert r.status_code == 202, r.text
                    uploaded_s = time.perf_counter() - started
                    all_read = None  # when every record was written: what is left is the indexes and the statistics
                    while (body := http.get(r.headers["location"]).json())["status"] not in ("done", "failed"):
                        if all_read is None and body["rows_done"] >= count:
                            all_read = time.perf_counter()
                        time.sleep(0.1)
                    whole_s = time.perf_counter() - started
                    after = (
                        f"about {time.perf_counter() - all_read:.1f} s" if all_read else "not seen (done between looks)"
                    )
                assert body["status"] == "done" and body["rows_done"] == count, body
                import_s = _seconds(body["started_at"], body["finished_at"])
                ratio = floor_s / import_s
                runs.append((ratio, import_s, floor_s, rss.growth / 2**20, uploaded_s, whole_s))
                readers_mib = rss.children_peak / 2**20
                print(
                    f"records [{label}] run {round_}/{repeat}: floor {floor_s:.1f} s ({count / floor_s:,.0f} rows/s); "
                    f"import job {import_s:.1f} s ({count / import_s:,.0f} rows/s): ratio {ratio:.2f} (target >= 0.5); "
                    f"of it, after the last record was written (indexes, statistics) {after}; "
                    f"upload {uploaded_s:.1f} s, whole {whole_s:.1f} s; server RSS growth {rss.growth / 2**20:.0f} MiB "
                    f"(target < 200), its reader processes' RSS at most {readers_mib:.0f} MiB together",
                    flush=True,
                )
                if round_ == repeat:
                    times = _lookups(http_base=base, headers=headers, set_id=body["id"], ids=ids, count=lookups)
                    small = _small_after(base, headers, ws.case_id, path, mapping, lookups)
                    indexed, _ = _added_after(base, headers, ws.case_id, path, mapping, INDEXED_RECORDS)
                    indexed_s = _seconds(indexed["started_at"], indexed["finished_at"])
        finally:
            ws.drop()
            shutil.rmtree(root, ignore_errors=True)
    ratios, imports, floors, growths, _, _ = zip(*runs, strict=True)
    extrapolated = median(imports) * LEAK_RECORDS / count
    print(
        f"records [{label}] median of {repeat}: ratio {median(ratios):.2f} ({spread(ratios)}), import "
        f"{median(imports):.1f} s, floor {median(floors):.1f} s, RSS growth max {max(growths):.0f} MiB; the leak's "
        f"{LEAK_RECORDS:,} records extrapolated: {extrapolated / 60:.1f} min",
        flush=True,
    )
    print(
        f"records [{label}] lookup by reviewer_id over HTTP ({len(times)} requests): median {median(times):.1f} ms, "
        f"p95 {p95(times):.1f} ms (target < 20)",
        flush=True,
    )
    small_s, small_times = small
    bound = _storage_bound(label, postgres_url, path, mapping)
    print(
        f"records [{label}] a {SMALL_RECORDS:,}-record set imported after the large one: {small_s:.2f} s (a set gets "
        f"indexes of its own from {get_settings().records_indexed_from_rows:,} records); its lookups: median "
        f"{median(small_times):.1f} ms, "
        f"p95 {p95(small_times):.1f} ms",
        flush=True,
    )
    print(
        f"records [{label}] a {INDEXED_RECORDS:,}-record set imported after the large one, with indexes of its own: "
        f"{indexed_s:.2f} s",
        flush=True,
    )
    return {
        "ratio": median(ratios),
        "storage_bound": bound,
        "lookup_p95_ms": p95(times),
        "rss_mib": max(growths),
        "small_import_s": small_s,
    }


def _storage_bound(label: str, postgres_url: str | None, path: Path, mapping: dict) -> float:
    """The set's storage timed alone (see the module's docstring); about the best ratio it leaves an import."""
    floor_s = _floor(label, postgres_url, path)
    root = Path("var/bench") / f"records-bound-{label}-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root, postgres_url)
    try:
        settings = get_settings()
        spec = parallel.Spec(
            uuid.uuid4(), ws.database_url, mapping, RecordRole.messages, RecordFormat.es, "UTC", None,
            settings.records_phone_region, settings.records_max_line_bytes, errors_kept=0,
        )  # fmt: skip
        converter = Converter(Mapping.of(mapping, spec.role, spec.fmt), timezone="UTC", phone_region=spec.phone_region)
        make = load.RowMaker(spec.record_set_id, get_engine().dialect.name, spec.role)
        with session_scope() as session:
            load.prepare(session, spec.record_set_id)
        written_s = 0.0
        with get_engine().connect() as connection, load.unhurried(connection), path.open("rb") as f:
            chunks = iter(lambda: f.read(2**20), b"")
            for block in reading.line_blocks(
                chunks, max_line_bytes=spec.max_line_bytes, block_bytes=PARALLEL_BLOCK_BYTES
            ):
                assert isinstance(block, reading.Block), "the benchmark's lines are all readable"
                rows, refused, _ = parallel.read_block(block, spec, converter, make)  # as a reader process reads it
                assert not refused, "the benchmark's lines are all readable"
                started = time.perf_counter()
                with connection.begin():
                    load.insert(connection, rows)
                written_s += time.perf_counter() - started
        started = time.perf_counter()
        load.create_indexes(spec.record_set_id, spec.role)
        indexed_s = time.perf_counter() - started
        started = time.perf_counter()
        with session_scope() as session:
            load.analyze(session, spec.record_set_id)
        analysed_s = time.perf_counter() - started
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)
    stored_s = written_s + indexed_s + analysed_s
    best = floor_s / stored_s
    print(
        f"records [{label}] the set's storage alone, its records made beforehand: written {written_s:.1f} s (one "
        f"connection), its indexes {indexed_s:.1f} s, its statistics {analysed_s:.1f} s: {stored_s:.1f} s against a "
        f"floor of {floor_s:.1f} s, so an import storing and indexing them could reach a ratio of about {best:.2f} "
        "at best",
        flush=True,
    )
    return best


def _added_after(base: str, headers: dict, case_id: str, path: Path, mapping: dict, lines: int) -> tuple[dict, bytes]:
    """A set of the large file's first `lines` imported beside the large one, as a team adds a payment export to a
    case that holds a leak: its state once done, and its lines."""
    with path.open("rb") as f:
        head = b"".join(f.readline() for _ in range(lines))
    form = {"name": f"An export of {lines:,} lines", "role": "messages", "mapping": json.dumps(mapping)}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http:
        r = http.post(f"/api/v1/cases/{case_id}/record-sets", files={"file": ("added.ndjson", head)}, data=form)
        assert r.status_code == 202, r.text
        while (body := http.get(r.headers["location"]).json())["status"] not in ("done", "failed"):
            time.sleep(0.05)
    assert body["status"] == "done" and body["rows_done"] == lines, body
    return body, head


def _small_after(base: str, headers: dict, case_id: str, path: Path, mapping: dict, count: int):
    """A small set imported after the large one: its job's seconds, and its lookups' times."""
    body, head = _added_after(base, headers, case_id, path, mapping, SMALL_RECORDS)
    steps = next(p for p, f in mapping.items() if f == "reviewer_id").split(".")
    present = []
    for line in head.splitlines():
        value = json.loads(line)
        for step in steps:
            value = value.get(step) if isinstance(value, dict) else None
        if value:
            present.append(str(value))
    times = _lookups(http_base=base, headers=headers, set_id=body["id"], ids=present, count=count)
    return _seconds(body["started_at"], body["finished_at"]), times


def _lookups(*, http_base: str, headers: dict, set_id: str, ids: list[str], count: int) -> list[float]:
    rng = random.Random(7)
    times = []
    with httpx.Client(base_url=http_base, headers=headers, timeout=60) as http:
        for n in range(count + 10):
            reviewer = rng.choice(ids)
            started = time.perf_counter()
            r = http.get(f"/api/v1/record-sets/{set_id}/records", params={"reviewer_id": reviewer, "limit": 20})
            elapsed = (time.perf_counter() - started) * 1000
            assert r.status_code == 200 and r.json()["items"], r.text
            if n >= 10:  # the first few warm the connection and the caches
                times.append(elapsed)
    return times


def run(count: int = 1_000_000, postgres_url: str | None = None, repeat: int = 2, lookups: int = 300) -> list[dict]:
    out = [run_db("sqlite", None, count, repeat, lookups)]
    if postgres_url:
        out.append(run_db("postgresql", postgres_url, count, repeat, lookups))
    return out


if __name__ == "__main__":
    run(
        count=int(os.environ.get("BENCH_RECORDS", 1_000_000)),
        postgres_url=os.environ.get("BENCH_POSTGRES_URL"),
        repeat=int(os.environ.get("BENCH_RECORDS_REPEAT", 2)),
    )
