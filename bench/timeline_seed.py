"""Seeding the timeline benchmark: one case with a million events, loaded in bulk.

SQLite gets the driver's executemany with values already in the form the column types store; PostgreSQL gets
COPY in its text format. Both are followed by ANALYZE, as autovacuum would shortly after a load.
"""

import itertools
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text, update

from api.db import get_engine, session_scope
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.timeline import EventKind, TimelineEvent

TIMEZONE = "America/Los_Angeles"
START = datetime(2019, 1, 1, 8, tzinfo=UTC)
DAYS = 3 * 365
KINDS = [k.value for k in EventKind]
EVIDENCE = 1000
BATCH = 20_000
COLUMNS = [c.name for c in TimelineEvent.__table__.columns]
assert (
    COLUMNS
    == (
        "id case_id occurred_at occurred_until precision title description kind evidence_id page exhibit_id tags "
        "disputed source created_by created_at updated_at"
    ).split()
), COLUMNS  # the order _rows writes


def _evidence(case_id: uuid.UUID, user_id: uuid.UUID) -> list[uuid.UUID]:
    """A thousand exhibits for events to cite, so every page looks up real labels."""
    now, items, exhibits = utcnow(), [], []
    for n in range(1, EVIDENCE + 1):
        evidence_id = uuid.uuid4()
        items.append(
            {
                "id": evidence_id,
                "case_id": case_id,
                "sha256": f"{n:064x}",
                "size_bytes": 1000,
                "media_type": "image/png",
                "original_filename": f"review_{n:04d}.png",
                "kind": "review_screenshot",
                "title": f"Review {n}",
                "tags": [],
                "facts": {},
                "uploaded_by": user_id,
                "created_at": now,
                "updated_at": now,
            }
        )
        exhibits.append(
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "evidence_id": evidence_id,
                "number": n,
                "label": f"PX-{n:04d}",
                "position": n,
                "designation": "none",
                "created_by": user_id,
                "created_at": now,
            }
        )
    with get_engine().begin() as conn:
        conn.execute(insert(EvidenceItem), items)
        conn.execute(insert(Exhibit), exhibits)
    return [i["id"] for i in items]


def _rows(case_id: uuid.UUID, user_id: uuid.UUID, evidence: list[uuid.UUID], count: int, *, zone: str = ""):
    """Events spread over three years in time order: 2% known only to the day, 0.2% (2,000 in a million) to the
    month and 0.02% to the year, the rest to the second; half cite one of the exhibits. As tuples in COLUMNS
    order of the text each column type stores: 32 hex digits, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (followed by
    `zone`, "+00" for PostgreSQL), JSON text, 0 or 1."""
    rng, now = random.Random(7), utcnow()
    step = DAYS * 86400 / count

    def when(value: datetime) -> str:
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") + zone

    def ident(value: uuid.UUID | None) -> str | None:
        return None if value is None else value.hex

    case, user, created = ident(case_id), ident(user_id), when(now)
    for n in range(count):
        at = START + timedelta(seconds=int(n * step))
        roll = rng.random()
        if roll < 0.0002:
            precision, at, until = "year", START.replace(year=at.year), START.replace(year=at.year + 1)
        elif roll < 0.0022:
            precision = "month"
            at = at.replace(day=1, hour=8, minute=0, second=0)
            until = (at + timedelta(days=32)).replace(day=1)
        elif roll < 0.0222:
            precision, at = "day", at.replace(hour=8, minute=0, second=0)
            until = at + timedelta(days=1)
        else:
            precision, until = "second", at + timedelta(seconds=1)
        cited = rng.random() < 0.5
        yield (
            ident(uuid.uuid4()),
            case,
            when(at),
            when(until),
            precision,
            f"Event {n}: 5-star review by reviewer {n % 9973} on B0{n % 99991:08d}",
            None,
            KINDS[rng.randrange(len(KINDS))],
            ident(evidence[rng.randrange(EVIDENCE)]) if cited else None,
            1 if cited else None,
            None,
            f'["bench", "t{n % 50}"]',
            int(n % 97 == 0),
            "imported",
            user,
            created,
            created,
        )


def seed(case_id: str, count: int, postgres: bool) -> float:
    """Bulk-load `count` events into the case (COPY on PostgreSQL); returns the seconds taken, ANALYZE included."""
    case = uuid.UUID(case_id)
    with session_scope() as session:
        session.execute(update(Case).where(Case.id == case).values(timezone=TIMEZONE))
        user_id = session.get(Case, case).created_by
    evidence = _evidence(case, user_id)
    started = time.perf_counter()
    engine = get_engine()
    if postgres:
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()
            # COPY's text format, written in blocks: the generated values hold no tab, newline or backslash.
            rows = _rows(case, user_id, evidence, count, zone="+00")
            with cursor.copy(f"COPY timeline_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                while batch := list(itertools.islice(rows, BATCH)):
                    copy.write("".join("\t".join(r"\N" if v is None else str(v) for v in row) + "\n" for row in batch))
    else:
        # The driver's executemany with values already in SQLite's stored form, in one transaction.
        insert_sql = f"INSERT INTO timeline_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache for the load
            rows = _rows(case, user_id, evidence, count)
            while batch := list(itertools.islice(rows, BATCH)):
                cursor.executemany(insert_sql, batch)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started
