"""Real-shaped timeline events for the benchmarks: what a litigation team's import looks like.

Events arrive in no particular order (a payment export, a message dump and a review scrape, concatenated), most
known to the second, some only to the minute, day, month or year; kinds and tags are skewed, a few events are
disputed, titles mix scripts and carry the characters spreadsheets and CSV readers trip on.

One generator, two renderings of the same events, written to files before anything is timed:
- `events.csv`: what a user sends to `POST /cases/{id}/events:import`;
- `events.tsv`: the same rows in the form the columns store (COPY text format), for the direct bulk seed
  that is the import's floor.
"""

import csv
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TIMEZONE = "America/Los_Angeles"
FIRST, DAYS = datetime(2019, 1, 1, tzinfo=UTC), 3 * 365
# Precision shares: coarse dates are few but real (a month from a chat, a day from a receipt).
PRECISIONS = (("second", 0.955), ("minute", 0.01), ("day", 0.03), ("month", 0.0045), ("year", 0.0005))
KINDS = (
    ("review_posted", 0.40),
    ("order_placed", 0.25),
    ("refund_issued", 0.15),
    ("message_sent", 0.12),
    ("insert_card_received", 0.04),
    ("listing_changed", 0.02),
    ("other", 0.01),
    ("enforcement_action", 0.005),
    ("filing", 0.005),
)
WORDS = (
    "5-star review",
    "refund via PayPal",
    "insert card: $100 for a 5-star review",
    "返金済み",
    "مراجعة خمس نجوم",
    "ביקורת מזויפת",
    "पांच सितारा समीक्षा",
    "รีวิวห้าดาว",
    "리뷰 환불",
    'said "delete it", then paid',
    '=HYPERLINK("http://example.invalid")',
    "<script>alert(1)</script>",
    "line one\nline two",
    "tab\tinside, comma",
)
# 200 tags, used with a Zipf-like skew: a few on most events, most on very few.
TAGS = [f"reviewer-{n}" for n in range(180)] + ["返金", "مراجعة", "ביקורת", "समीक्षा", "รีวิว", "리뷰", "insert-card"]
TAGS += [f"asin-B0{n:08d}" for n in range(200 - len(TAGS))]
HEADER = ["occurred_at", "title", "kind", "tags", "evidence_id", "page", "disputed", "description"]
COLUMNS = (
    "id case_id occurred_at occurred_until precision title description kind evidence_id page exhibit_id tags "
    "disputed source created_by created_at updated_at"
).split()


@dataclass
class Files:
    csv: Path
    tsv: Path
    count: int
    disputed: int
    tag_counts: dict


def _pick(rng: random.Random, weighted) -> str:
    roll, total = rng.random(), 0.0
    for value, share in weighted:
        total += share
        if roll < total:
            return value
    return weighted[-1][0]


def _span(instant: datetime, precision: str, tz: ZoneInfo) -> tuple[datetime, datetime, str]:
    """(start, until) in UTC and the text a user writes for an event at `instant` known to `precision`."""
    local = instant.astimezone(tz)
    if precision == "second":
        at = instant.replace(microsecond=0)
        return at, at + timedelta(seconds=1), at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if precision == "minute":
        start = local.replace(second=0, microsecond=0)
        return start.astimezone(UTC), (start + timedelta(minutes=1)).astimezone(UTC), start.strftime("%Y-%m-%dT%H:%M")
    day = local.date()
    if precision == "day":
        first, after, written = day, day + timedelta(days=1), day.isoformat()
    elif precision == "month":
        first = day.replace(day=1)
        after, written = (first + timedelta(days=32)).replace(day=1), first.strftime("%Y-%m")
    else:
        first, written = day.replace(month=1, day=1), str(day.year)
        after = day.replace(year=day.year + 1, month=1, day=1)

    def midnight(d):
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)

    return midnight(first), midnight(after), written


def _stored(value: datetime | None, zone: str) -> str:
    return value.replace(tzinfo=None).isoformat(" ", "microseconds") + zone


def write(root: Path, count: int, *, evidence: list[uuid.UUID], case_id: uuid.UUID, user_id: uuid.UUID,
          postgres: bool, seed: int = 7) -> Files:  # fmt: skip
    """Write `count` events to root/events.csv and root/events.tsv (stored form for this database)."""
    rng, tz = random.Random(seed), ZoneInfo(TIMEZONE)
    zone = "+00" if postgres else ""
    ident = str if postgres else (lambda u: u.hex)
    created = _stored(datetime.now(UTC), zone)
    root.mkdir(parents=True, exist_ok=True)
    csv_path, tsv_path = root / "events.csv", root / "events.tsv"
    disputed_total, tag_counts = 0, {}
    with csv_path.open("w", newline="", encoding="utf-8") as c, tsv_path.open("w", encoding="utf-8") as t:
        out = csv.writer(c)
        out.writerow(HEADER)
        for n in range(count):
            instant = FIRST + timedelta(seconds=rng.random() * DAYS * 86400)
            precision = _pick(rng, PRECISIONS)
            start, until, written = _span(instant, precision, tz)
            kind = _pick(rng, KINDS)
            title = f"{rng.choice(WORDS)} #{n} by reviewer {rng.randrange(9973)} on B0{rng.randrange(99991):08d}"
            tags = sorted({TAGS[min(int(rng.paretovariate(1.2)) - 1, len(TAGS) - 1)] for _ in range(rng.randrange(4))})
            for tag in tags:
                tag_counts[tag] = tag_counts.get(tag, 0) + 1
            disputed = rng.random() < 0.01
            disputed_total += disputed
            cited = evidence[rng.randrange(len(evidence))] if evidence and rng.random() < 0.5 else None
            description = rng.choice(WORDS) if rng.random() < 0.2 else None
            out.writerow(
                [written, title, kind, ",".join(tags), str(cited) if cited else "", 1 if cited else "",
                 "true" if disputed else "", description or ""]
            )  # fmt: skip
            tags_json = json.dumps(tags)  # as the app serialises a JSON column
            values = [
                ident(uuid.uuid4()), ident(case_id), _stored(start, zone), _stored(until, zone), precision,
                title, description, kind, ident(cited) if cited else None, 1 if cited else None, None, tags_json,
                ("t" if disputed else "f") if postgres else int(disputed), "imported", ident(user_id), created, created,
            ]  # fmt: skip
            t.write("\t".join(r"\N" if v is None else _escape(str(v)) for v in values) + "\n")
    return Files(csv_path, tsv_path, count, disputed_total, tag_counts)


def _escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _unescape(text: str):
    if text == r"\N":
        return None
    if "\\" not in text:
        return text
    return text.replace("\\\\", "\0").replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").replace("\0", "\\")


def stored_rows(tsv: Path):
    """The TSV back as tuples in COLUMNS order (SQLite's executemany takes them as they are)."""
    page = COLUMNS.index("page")
    disputed = COLUMNS.index("disputed")
    with tsv.open(encoding="utf-8") as f:
        for line in f:
            values = [_unescape(v) for v in line.rstrip("\n").split("\t")]
            values[page] = int(values[page]) if values[page] is not None else None
            values[disputed] = int(values[disputed])
            yield tuple(values)
