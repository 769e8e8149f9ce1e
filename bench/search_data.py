"""Real-shaped evidence texts for the search benchmark, and the rows that hold them, loaded in bulk.

Each text is about a kilobyte of English-ish words drawn with a Zipf-like skew from a vocabulary of common English
words and made-up ones (OCR'd screenshots, chat logs and refund receipts say much the same things), with a few
sentences in other scripts in some. Rare words are planted: each PLANTED word in a few dozen texts, and beside a
common word, so a phrase of the two is rare too. Items are spread over CASES cases, with kinds, tags, dates and
exhibits (some designated confidential), as the filters see them.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from sqlalchemy import insert

from api.db import get_engine
from models.case import Case, CaseMember
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.text import EvidenceText, EvidenceTextPage

CASES = 20
KINDS = ("review_screenshot", "product_insert_card", "refund_record", "chat_log", "email", "order_record")
COMMON = (
    "the of and to a in for is on that with was it as by at from this be are or have an not but they you we his "
    "her their review star five refund order seller buyer product paid card gift send screenshot amazon listing "
    "customer service please thank thanks received money back after before would could should will can just "
    "message chat reply asked offer free item price shipping delivery account payment paypal days week month "
    "verified purchase helpful rating quality brand photo insert leave write post new good great love best "
    "working return policy discount code coupon email phone number name address contact promised get got"
).split()
SYLLABLES = "ka lo mi ra ven tor sel bri qua den pho lun sta mer gil pon tre vas nor kel".split()
OTHER_SCRIPTS = (
    "好评返现五元，请联系客服",
    "返金済みのレビューです",
    "مراجعة خمس نجوم مدفوعة",
    "ביקורת מזויפת ששולמה",
    "पांच सितारा समीक्षा के लिए भुगतान",
    "리뷰 환불 요청",
)
PLANTED = [f"zy{a}{b}x" for a in "bcdfghjklm" for b in "aeiou"]  # 50 rare words, about 40 texts each
PLANT_SHARE = 0.01  # share of texts that get one planted word (beside "refund")


@dataclass(frozen=True)
class Corpus:
    texts: int
    words: list[str]  # the vocabulary, most common first


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    made = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randrange(2, 4))) for _ in range(size * 2)}
    return COMMON + sorted(made - set(COMMON))[: size - len(COMMON)]


def text(rng: random.Random, words: list[str], cumulative: list[float]) -> str:
    """About a kilobyte: sentences of 6 to 18 words, now and then one in another script or a planted word."""
    out, size = [], 0
    while size < 1000:
        sentence = rng.choices(words, cum_weights=cumulative, k=rng.randrange(6, 18))
        if rng.random() < 0.02:
            sentence.append(rng.choice(OTHER_SCRIPTS))
        line = " ".join(sentence).capitalize() + "."
        out.append(line)
        size += len(line) + 1
    if rng.random() < PLANT_SHARE * len(PLANTED) / 50:
        out.insert(rng.randrange(len(out)), f"The {rng.choice(PLANTED)} refund was sent.")
    return " ".join(out)


def case_ids(count: int) -> list[uuid.UUID]:
    return [uuid.uuid5(uuid.NAMESPACE_URL, f"casebinder-bench/search/case/{n}") for n in range(count)]


def seed(owner_case: str, texts: int, *, seed_value: int = 17, batch: int = 5000) -> dict:
    """CASES cases (the workspace's first, and more like it) whose owner is the workspace's user, and `texts`
    evidence items spread over them, each with a page of text that has been read. Returns what the queries need."""
    rng = random.Random(seed_value)
    words = vocabulary(rng)
    cumulative = list(accumulate(1 / (rank + 8) for rank in range(len(words))))  # Zipf-like, flattened at the top
    engine = get_engine()
    with engine.begin() as conn:
        owner = conn.execute(Case.__table__.select().where(Case.__table__.c.id == uuid.UUID(owner_case))).one()
        user_id = owner.created_by
        cases = [uuid.UUID(owner_case)] + case_ids(CASES - 1)
        now = utcnow()
        conn.execute(
            insert(Case),
            [
                {"id": c, "title": f"Benchmark case {n}", "case_type": "lanham_act", "created_by": user_id,
                 "created_at": now, "updated_at": now, "parties": [], "next_exhibit_number": 1,
                 "exhibit_label_template": "PX-{n:03d}", "timezone": "UTC"}
                for n, c in enumerate(cases[1:], start=1)
            ],
        )  # fmt: skip
        conn.execute(
            insert(CaseMember),
            [{"case_id": c, "user_id": user_id, "role": "owner", "added_at": now} for c in cases[1:]],
        )
    numbers = dict.fromkeys(cases, 0)
    for start in range(0, texts, batch):
        rows = list(_rows(rng, words, cumulative, cases, numbers, user_id, start, min(texts, start + batch), now))
        with engine.begin() as conn:
            conn.execute(insert(EvidenceItem), [r[0] for r in rows])
            conn.execute(insert(Exhibit), [r[1] for r in rows])
            conn.execute(insert(EvidenceText), [r[2] for r in rows])
            conn.execute(insert(EvidenceTextPage), [r[3] for r in rows])
    return {"cases": [str(c) for c in cases], "planted": PLANTED, "common": "refund"}


FIRST = datetime(2020, 1, 1, tzinfo=UTC)


def _rows(rng, words, cumulative, cases, numbers, user_id, start, end, now) -> Iterator[tuple[dict, dict, dict, dict]]:
    for n in range(start, end):
        item, case = uuid.uuid4(), cases[n % len(cases)]
        numbers[case] += 1
        kind = KINDS[n % len(KINDS)]
        body = text(rng, words, cumulative)
        when = FIRST + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        yield (
            {"id": item, "case_id": case, "sha256": f"{n:064x}", "size_bytes": len(body), "media_type": "image/png",
             "original_filename": f"capture_{n:06d}.png", "kind": kind, "title": f"{kind.replace('_', ' ')} {n}",
             "tags": ["paid-review"] if n % 3 == 0 else [], "facts": {}, "occurred_at": when,
             "uploaded_by": user_id, "created_at": now, "updated_at": now},
            {"id": uuid.uuid4(), "case_id": case, "evidence_id": item, "number": numbers[case],
             "label": f"PX-{numbers[case]:05d}", "position": numbers[case],
             "designation": "confidential" if n % 10 == 0 else "none", "created_by": user_id, "created_at": now},
            {"id": item, "status": "done", "language": "eng", "engine": "tesseract", "chars": len(body), "pages": 1,
             "ocr_pages": 1, "queued_at": now, "finished_at": now},
            {"evidence_id": item, "page": 1, "source": "ocr", "text": body},
        )  # fmt: skip
