"""Seeding the timeline benchmark: the case's exhibits, and the import route's floor, which loads the same events
straight into the table: SQLite, the driver's executemany of stored-form tuples in one transaction; PostgreSQL,
COPY of the TSV; then the statistics statements the import runs after a load that size
(api/services/timeline/bulk_load.STATISTICS), so both sides do the same work. The benchmark runs no other ANALYZE:
what the planner knows is what the product gives it.

The files (bench/timeline_data.py) are written once per database kind and size, for a placeholder case and user,
with evidence ids every workspace shares; a load puts the workspace's own case and user in their place.
"""

import itertools
import time
import uuid
from pathlib import Path

from sqlalchemy import update

from api.db import get_engine, session_scope
from api.services.timeline.bulk_load import STATISTICS
from bench import timeline_data as data
from bench.common import insert_exhibits
from models.case import Case
from models.common import utcnow

EVIDENCE = 1000
BATCH = 20_000
PLACEHOLDER_CASE, PLACEHOLDER_USER = uuid.UUID(int=1), uuid.UUID(int=2)
EVIDENCE_IDS = [uuid.uuid5(uuid.NAMESPACE_URL, f"casebinder-bench/evidence/{n}") for n in range(1, EVIDENCE + 1)]


def prepare_case(case_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The case in the data's timezone, with a thousand exhibits for events to cite (every page looks up real
    labels). Returns (case id, its creator's id)."""
    case = uuid.UUID(case_id)
    with session_scope() as session:
        session.execute(update(Case).where(Case.id == case).values(timezone=data.TIMEZONE))
        user_id = session.get(Case, case).created_by
    numbered = [
        (
            n,
            evidence_id,
            {
                "size_bytes": 1000,
                "original_filename": f"review_{n:04d}.png",
                "title": f"Review {n}",
                "tags": [],
                "facts": {},
            },
        )
        for n, evidence_id in enumerate(EVIDENCE_IDS, start=1)
    ]
    insert_exhibits(case, user_id, numbered, now=utcnow(), label_digits=4)
    return case, user_id


def direct_seed(tsv: Path, case_id: uuid.UUID, user_id: uuid.UUID, postgres: bool) -> float:
    """Load a TSV of bench/timeline_data.py straight into timeline_events for the case; returns the seconds taken."""
    engine = get_engine()
    columns = ", ".join(data.COLUMNS)
    started = time.perf_counter()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        if postgres:
            swap = {str(PLACEHOLDER_CASE): str(case_id), str(PLACEHOLDER_USER): str(user_id)}
            with cursor.copy(f"COPY timeline_events ({columns}) FROM STDIN") as copy, tsv.open() as f:
                while block := f.read(1 << 20):
                    block += f.readline()  # whole lines only, so no placeholder is cut in two
                    for old, new in swap.items():
                        block = block.replace(old, new)
                    copy.write(block)
        else:
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache for the load
            case_at, user_at = data.COLUMNS.index("case_id"), data.COLUMNS.index("created_by")
            case_hex, user_hex = case_id.hex, user_id.hex
            sql = f"INSERT INTO timeline_events ({columns}) VALUES ({', '.join('?' * len(data.COLUMNS))})"
            rows = (
                (*r[:case_at], case_hex, *r[case_at + 1 : user_at], user_hex, *r[user_at + 1 :])
                for r in data.stored_rows(tsv)
            )
            while batch := list(itertools.islice(rows, BATCH)):
                cursor.executemany(sql, batch)
        for statement in STATISTICS["postgresql" if postgres else "sqlite"]:
            cursor.execute(statement)
    return time.perf_counter() - started
