"""Sample record sets with known answers: the demo's case, the test suite's, and the benchmarks' inputs.

Three writers, all deterministic (a seed gives byte-identical files) and streaming (records go to the file in
batches as they are made; only small tables of parties and products, and the planted records, stay in memory):

- write_case_dataset: one small, realistic case in five files, one per role, in every format the import reads
  (CSV with a BOM, JSON Lines, Elasticsearch export NDJSON), with review-for-refund chains and traps planted, and
  a manifest.json of what the finder must find and must not.
- write_leak_dump: a large Elasticsearch export in the shape of the 2021 click-farm leak (role "messages"), the
  import benchmark's input.
- write_scale_dataset: the finder benchmark's data, JSON Lines and ES NDJSON, with chains and traps planted.

Rows. A record's row is the physical line of its file where the record starts, counted from 1; a UTF-8 BOM is not
a line. In a CSV file the header is row 1 and the first data record row 2; a record whose quoted field holds a line
break spans several physical lines, and the record after it starts that many lines further on (after a two-line
record a number is skipped). The CSV files end their lines with CRLF; line breaks inside quoted fields are LF. In
JSON Lines and ES NDJSON every record is one line and the first record is row 1. A record's source line is its text
from its first character up to its line ending (embedded line breaks kept).

Times. Timestamps carry an offset ("2021-06-15T10:03:22-04:00", or "Z"), except the payment rows listed in their
file's `naive_time_rows` ("2021-06-15 10:03:22", no offset): those are local times in the case timezone
(Manifest.timezone, America/New_York). The finder's window is elapsed time (a day is 86,400 s), closed at both ends:
from 3 days before the review to 60 days after it.

The identity rules and the finder's rules that the answers follow are stated in Manifest.rules.
"""

import base64
import csv
import gzip
import hashlib
import io
import math
import random
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson

CASE_TIMEZONE = "America/New_York"
MIN_RATING = 5
WINDOW_DAYS_BEFORE = 3
WINDOW_DAYS_AFTER = 60
ROLES = ("accounts", "reviews", "payments", "messages", "orders")
TRAP_KINDS = (
    "name_collision",
    "returned_order",
    "cancelled_order",
    "reversal",
    "outside_window",
    "below_min_rating",
    "unrelated_payer",
)

ROW_RULE = (
    "row = the physical line (1-based) where the record starts; a BOM is not a line; CSV: the header is row 1, and a "
    "record with line breaks inside a quoted field spans several lines, so the next record's row skips numbers; "
    "JSON Lines and ES NDJSON: one record a line, the first record is row 1"
)
TIMEZONE_RULE = (
    "timestamps without an offset (the rows in each file's naive_time_rows) are local times in the case timezone; "
    "all others carry an offset or Z"
)
RULES = (
    "Identities: normalised e-mails (lower-case, surrounding spaces stripped), PayPal addresses, E.164 phones, "
    "profile URLs and account-kind ids (account_id, reviewer_id, buyer_id, seller) of one party in one record link "
    "into one person (connected components); names never link. Linking keys per record: accounts all identity fields; "
    "reviews reviewer_id; messages reviewer_id with contact_email (from/to never); payments payee_email alone (the "
    "payer is the other party); orders buyer_id. A seller value is the seller's account_id. "
    "Finding: a review with rating >= min_rating whose reviewer's identity holds a payment's payee_email, the payment "
    "being a payment or refund from the seller's side (payer linked to the review's seller, or memo naming the "
    "product_id), paid from window_days_before days before the review to window_days_after days after it (elapsed "
    "time, both ends inside). Explained, so not a finding: type reversal; an order with status returned or "
    "cancelled whose buyer is in the reviewer's identity, for the same product_id. Amount: the payment's gross."
)

# What each file's columns or paths are, as the import maps them onto the roles' canonical fields.
REVIEWS_CSV_COLUMNS = (
    "marketplace",
    "review_id",
    "customer_id",
    "reviewer_name",
    "product_id",
    "product_title",
    "seller_id",
    "star_rating",
    "review_headline",
    "review_body",
    "review_date",
    "helpful_votes",
    "verified_purchase",
)
REVIEWS_CSV_MAPPING = {
    "review_id": "review_id",
    "customer_id": "reviewer_id",
    "reviewer_name": "reviewer_name",
    "product_id": "product_id",
    "seller_id": "seller",
    "star_rating": "rating",
    "review_date": "reviewed_at",
    "review_headline": "title",
    "review_body": "text",
}
PAYMENTS_CSV_COLUMNS = (
    "Date",
    "Time Zone",
    "Name",
    "Type",
    "Status",
    "Currency",
    "Gross",
    "Fee",
    "Net",
    "From Email Address",
    "To Email Address",
    "Transaction ID",
    "Note",
)
PAYMENTS_CSV_MAPPING = {
    "Transaction ID": "txn_id",
    "From Email Address": "payer",
    "Name": "payee",
    "To Email Address": "payee_email",
    "Gross": "amount",
    "Currency": "currency",
    "Date": "paid_at",
    "Note": "memo",
    "Type": "type",
}
ACCOUNTS_ES_MAPPING = {
    "_source.profile.id": "account_id",
    "_source.profile.name": "name",
    "_source.contact.email": "email",
    "_source.contact.paypal": "paypal_email",
    "_source.contact.phone": "phone",
    "_source.profile.url": "profile_url",
}
# The leak's shape: the case's chats and the scale dataset's messages map this way; the leak dump too, but for from
# and to, which its records do not have (LEAK_MAPPING). A mapped path may be absent from a record (a chat whose
# reviewer has no e-mail in it), or null (an account without a PayPal address or phone).
MESSAGES_ES_MAPPING = {
    "_id": "message_id",
    "_source.thread": "thread_id",
    "_source.message.from": "from",
    "_source.message.to": "to",
    "_source.message.sent_at": "sent_at",
    "_source.message.text": "text",
    "_source.seller": "seller",
    "_source.product.asin": "product_id",
    "_source.reviewer.profile_id": "reviewer_id",
    "_source.reviewer.email": "contact_email",
}
LEAK_MAPPING = {path: canonical for path, canonical in MESSAGES_ES_MAPPING.items() if canonical not in ("from", "to")}
ORDERS_JSONL_MAPPING = {
    "order.id": "order_id",
    "buyer.id": "buyer_id",
    "item.asin": "product_id",
    "item.seller_id": "seller",
    "order.placed_at": "ordered_at",
    "item.price.amount": "amount",
    "order.status": "status",
}
REVIEWS_JSONL_MAPPING = {
    "review_id": "review_id",
    "reviewer.id": "reviewer_id",
    "reviewer.name": "reviewer_name",
    "asin": "product_id",
    "seller_id": "seller",
    "rating": "rating",
    "date": "reviewed_at",
    "title": "title",
    "body": "text",
}
PAYMENTS_JSONL_MAPPING = {
    "id": "txn_id",
    "payer.email_address": "payer",
    "payee.name": "payee",
    "payee.email_address": "payee_email",
    "amount.value": "amount",
    "amount.currency_code": "currency",
    "create_time": "paid_at",
    "note": "memo",
    "type": "type",
}


# --- The manifest ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFile:
    """One file of a dataset. `path` is relative to the manifest's directory; `rows` counts data records (the header
    is not one), which is also how many records an import should accept; `first_row` is the first record's row."""

    path: str
    role: str
    name: str
    format: str  # "csv" | "jsonl" | "es"
    mapping: dict[str, str]
    rows: int
    first_row: int
    encoding: str  # "utf-8-sig" (starts with a BOM) or "utf-8"
    line_terminator: str  # "\r\n" or "\n"
    naive_time_rows: list[int] = field(default_factory=list)  # rows whose timestamp has no offset (case timezone)


@dataclass(frozen=True)
class Finding:
    """A review-for-refund the finder must report. Rows are rows of the role's file; `message_rows` are the messages
    that offer money for the review, `thread_message_rows` every message of the reviewer's threads with the seller;
    `reviewer_keys` is the reviewer's identity, normalised and sorted; `days` = (paid_at - reviewed_at) / 1 day,
    negative when the payment came first; `payee_link`: how the payee e-mail reaches the reviewer ("accounts": an
    account record only, "message": a message's contact_email only, "accounts+message"); `payer_link`: "paypal"
    (the payer is the seller's PayPal address in the accounts file) or "memo" (the memo names the product_id)."""

    review_row: int
    review_id: str
    payment_rows: list[int]
    txn_ids: list[str]
    message_rows: list[int]
    message_ids: list[str]
    thread_message_rows: list[int]
    reviewer_id: str
    reviewer_keys: list[str]
    seller: str
    product_id: str
    rating: int
    amount: str  # the payment's gross, a plain decimal string ("1250.00")
    currency: str
    reviewed_at: str  # UTC, ISO 8601
    paid_at: str  # UTC, ISO 8601
    days: float  # rounded to 4 places; `seconds` is exact
    seconds: int
    payee_link: str
    payer_link: str


@dataclass(frozen=True)
class Trap:
    """Rows that look like a review-for-refund and are not one (at the defaults). `review_row` is the review that must
    not be reported; `rows` names every row involved, by role; `other_reviewer_keys` is, for a name collision, the
    paid reviewer's identity (whose review is a finding)."""

    kind: str
    review_row: int
    review_id: str
    reviewer_id: str
    reviewer_keys: list[str]
    seller: str
    product_id: str
    rows: dict[str, list[int]]
    expected: str
    finding_at_min_rating_4: bool
    note: str
    other_reviewer_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportFacts:
    """What an import of the case dataset must show. `review_source_line` is the exact text of the review at
    `review_row` (without its CRLF); the multi-line review starts at `multiline_review_row`, spans
    `multiline_review_lines` physical lines, and the next record starts at `row_after_multiline`."""

    review_row: int
    review_id: str
    review_source_line: str
    multiline_review_row: int
    multiline_review_id: str
    multiline_review_lines: int
    multiline_review_source: str
    row_after_multiline: int
    injection_review_row: int
    injection_title: str
    accepted_rows: dict[str, int]  # by role


@dataclass(frozen=True)
class Manifest:
    """A dataset's files and known answers, as written to manifest.json beside them (read it back with
    read_manifest). `findings` are those at the defaults (min_rating 5, the window below), sorted by review row;
    `findings_min_rating_4` adds the below_min_rating traps; `facts` are the case dataset's import facts (None for
    the scale dataset). `rules` and `row_rule` say in words what the answers follow."""

    kind: str  # "case" | "scale"
    seed: int
    timezone: str
    timezone_rule: str
    row_rule: str
    rules: str
    min_rating: int
    window_days_before: int
    window_days_after: int
    files: list[SampleFile]
    findings: list[Finding]  # at the defaults (min_rating 5)
    findings_min_rating_4: list[Finding]
    traps: list[Trap]
    facts: ImportFacts | None

    def file(self, role: str) -> SampleFile:
        return next(f for f in self.files if f.role == role)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> "Manifest":
        raw = orjson.loads(data)
        facts = raw.pop("facts")
        return cls(
            **{
                **raw,
                "files": [SampleFile(**f) for f in raw["files"]],
                "findings": [Finding(**f) for f in raw["findings"]],
                "findings_min_rating_4": [Finding(**f) for f in raw["findings_min_rating_4"]],
                "traps": [Trap(**t) for t in raw["traps"]],
                "facts": ImportFacts(**facts) if facts else None,
            }
        )


def read_manifest(directory: Path) -> Manifest:
    return Manifest.from_json((directory / "manifest.json").read_bytes())


@dataclass(frozen=True)
class LeakDump:
    path: Path
    records: int
    bytes: int  # the file's size as written (compressed, when it is)
    uncompressed_bytes: int
    compressed: bool
    role: str
    format: str
    name: str
    mapping: dict[str, str]
    seed: int


# --- Ids, people and formats -------------------------------------------------------------------------------------

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SALT_PERSON, _SALT_PRODUCT, _SALT_REVIEW, _SALT_TXN, _SALT_URL = 11, 37, 41, 53, 67
_SELLER_BASE = 10**9  # seller n's id is _account_id(_SELLER_BASE + n): never a person's
_OTHER_BASE = 5 * 10**8  # people who only pay and are paid (not reviewers)


@cache
def _spread(space: int) -> int:
    """A multiplier prime to `space`, with digits all over: n -> n * m mod space is one-to-one, and neighbouring n
    land far apart (ids that look random, and never repeat)."""
    m = int.from_bytes(hashlib.sha256(str(space).encode()).digest() * 2) % space | 1
    while math.gcd(m, space) != 1:
        m += 2
    return m


def _scramble(n: int, salt: int, space: int) -> int:
    return (n + salt) * _spread(space) % space


_B36_PAIRS = tuple(_B36[d % 36] + _B36[d // 36] for d in range(36 * 36))  # two base-36 digits, low one first


def _base36(n: int, width: int, salt: int) -> str:
    """`width` base-36 digits of n scrambled, low digit first, two at a time (the big files make millions)."""
    v = _scramble(n, salt, 36**width)
    out = []
    for _ in range((width + 1) // 2):
        v, d = divmod(v, 1296)
        out.append(_B36_PAIRS[d])
    return "".join(out)[:width]


def _account_id(n: int) -> str:
    """An account-kind id: reviewer_id, buyer_id, account_id and seller are all of this kind ("A" and 13 more)."""
    return "A" + _base36(n, 13, _SALT_PERSON)


def _asin(n: int) -> str:
    return "B0" + _base36(n, 8, _SALT_PRODUCT)


def _review_id(n: int) -> str:
    return "R" + _base36(n, 13, _SALT_REVIEW)


def _txn_id(n: int) -> str:
    return _base36(n, 17, _SALT_TXN)


def _order_id(n: int) -> str:
    v = _scramble(n, 7, 10**14)
    return f"11{v % 10}-{v // 10**7:07d}-{v % 10**7:07d}"


def _es_id(n: int, salt: int) -> str:
    """Elasticsearch's 20-character ids, unique per n."""
    return base64.urlsafe_b64encode(_scramble(n, salt, 2**120).to_bytes(15, "big")).decode()


def _profile_url(n: int) -> str:
    return "https://www.amazon.example/gp/profile/amzn1.account." + _base36(n, 28, _SALT_URL)


def _phone(n: int) -> str | None:
    """E.164 numbers in the ranges kept for fiction (NANP 555-0100..0199): one per n below 79,900, else none."""
    if n >= 79_900:
        return None
    return f"+1{201 + (n // 100) % 799}55501{n % 100:02d}"


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(part for part in "".join(c for c in ascii_name.lower() if c.isalnum() or c == " ").split())


_FIRST = (
    "Maria James Sofia Liam Emma Noah Olivia Lucas Ava Mateo Chloe Jonas Lena Pierre Camille Giulia Marco Ana João "
    "Fatima Omar Priya Arjun Mei Kenji Yuki Minh Aisha Daniel Sarah David Laura Tomás Ingrid Piotr Olga Ivan Zeynep "
    "Emre Nadia Grace Ethan Hannah Leon Amélie Diego Lucía Kofi Amara Sven"
).split()
_LAST = (
    "Lopez Smith Garcia Müller Rossi Silva Nguyen Kim Khan Patel Cohen Dubois Novak Kowalski Johnson Brown Martin "
    "Schmidt Tanaka Sato Haddad Yilmaz Ivanova Andersen O'Brien Fernández Costa Moreau Weber Chen Okafor Mensah "
    "Larsen Jensen Popescu Horvat"
).split()
# Names in other scripts, with the Latin spelling their e-mail addresses use.
_OTHER_NAMES = (
    ("王芳", "wang.fang"),
    ("李伟", "li.wei"),
    ("张敏", "zhang.min"),
    ("佐藤 花子", "hanako.sato"),
    ("김민준", "minjun.kim"),
    ("이서연", "seoyeon.lee"),
    ("محمد العلي", "mohammed.alali"),
    ("فاطمة حسن", "fatima.hassan"),
    ("דניאל לוי", "daniel.levi"),
    ("נועה כהן", "noa.cohen"),
    ("राहुल शर्मा", "rahul.sharma"),
    ("अनीता वर्मा", "anita.verma"),
    ("สมชาย ใจดี", "somchai.jaidee"),
    ("Ольга Петрова", "olga.petrova"),
    ("Дмитрий Смирнов", "dmitry.smirnov"),
)
_NAMES: tuple[tuple[str, str], ...] = tuple(
    [(f"{first} {last}", _slug(f"{first} {last}")) for first in _FIRST for last in _LAST] + list(_OTHER_NAMES) * 60
)
_MAIL_DOMAINS = ("mail.example.com", "example.net", "example.org", "inbox.example", "post.example.com", "web.example")
_PAY_DOMAINS = ("example.com", "example.net", "pay.example", "example.org")


@dataclass(frozen=True)
class _Person:
    n: int
    id: str
    name: str
    email: str
    paypal: str
    phone: str | None
    url: str


def _person(n: int, name_index: int | None = None) -> _Person:
    """Person n: its keys are unique to n; its name (by default from n) collides with others'."""
    name, slug = _NAMES[(n * 7919 if name_index is None else name_index) % len(_NAMES)]
    return _Person(
        n=n,
        id=_account_id(n),
        name=name,
        email=f"{slug}.{n}@{_MAIL_DOMAINS[n % len(_MAIL_DOMAINS)]}",
        paypal=f"{slug.replace('.', '_')}{n}@{_PAY_DOMAINS[(n // 7) % len(_PAY_DOMAINS)]}",
        phone=_phone(n),
        url=_profile_url(n),
    )


def _norm(email: str) -> str:
    return email.strip().lower()


def _keys(*values: str | None) -> list[str]:
    return sorted({_norm(v) if "@" in v else v for v in values if v})


def _variant(email: str, rng: random.Random) -> str:
    """The same address as people type it: cased differently, or with spaces around it."""
    pick = rng.random()
    if pick < 0.5:
        return email
    if pick < 0.7:
        local, _, domain = email.partition("@")
        return f"{local.title()}@{domain.title()}"
    if pick < 0.85:
        return email.upper()
    return f" {email} "


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset_text(dt: datetime, zone_name: str) -> str:
    return dt.astimezone(ZoneInfo(zone_name)).isoformat(timespec="seconds")


def _naive_text(dt: datetime) -> str | None:
    """The instant as a local time in the case timezone without an offset, or None when that local time is ambiguous
    (the hour repeated when summer time ends) and so cannot stand for the instant."""
    tz = ZoneInfo(CASE_TIMEZONE)
    local = dt.astimezone(tz).replace(tzinfo=None)
    if local.replace(tzinfo=tz).astimezone(UTC) != dt.astimezone(UTC) or local.replace(tzinfo=tz, fold=1).astimezone(
        UTC
    ) != dt.astimezone(UTC):
        return None
    return local.isoformat(sep=" ", timespec="seconds")


def _money(amount: Decimal, thousands: bool = False) -> str:
    return f"{amount:,.2f}" if thousands else f"{amount:.2f}"


def _epoch_text(seconds: int, offset_minutes: int) -> str:
    """ISO 8601 with a fixed offset, fast (no datetime objects): for the big files."""
    t = time.gmtime(seconds + offset_minutes * 60)
    if offset_minutes == 0:
        zone = "Z"
    else:
        o = abs(offset_minutes)
        zone = f"{'+' if offset_minutes > 0 else '-'}{o // 60:02d}:{o % 60:02d}"
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}{zone}"


# --- Texts -------------------------------------------------------------------------------------------------------

_PRODUCTS = (
    ("Stainless Steel Garlic Press", "12.99"),
    ("Silicone Baking Mat Set, 3 Pack", "15.49"),
    ("Bamboo Cutting Board", "24.99"),
    ("Wireless Earbuds, Bluetooth 5.3", "39.99"),
    ("USB-C Fast Charger 65W", "29.99"),
    ("LED Desk Lamp with Clamp", "34.50"),
    ("Vitamin C Face Serum", "19.95"),
    ("Hair Straightener Brush", "45.00"),
    ("Dog Chew Toy, Indestructible", "14.99"),
    ("Cat Water Fountain", "27.99"),
    ("Yoga Mat, Non-Slip", "22.00"),
    ("Resistance Bands Set", "18.99"),
    ("Camping Lantern, Rechargeable", "32.99"),
    ("Insulated Water Bottle 1L", "26.00"),
    ("Phone Case, Shockproof", "9.99"),
    ("Smart Plug 4-Pack", "25.99"),
    ("Portable Blender", "35.99"),
    ("Electric Milk Frother", "16.99"),
    ("Robot Vacuum Cleaner", "219.00"),
    ("Garden Hose Nozzle", "11.49"),
    ("Solar Fairy Lights", "17.99"),
    ("Kids' Drawing Tablet", "23.99"),
    ("Memory Foam Pillow", "42.00"),
    ("Blackout Curtains, 2 Panels", "31.99"),
    ("Ceramic Knife Set", "28.75"),
    ("Posture Corrector", "19.99"),
    ("Electric Toothbrush", "49.99"),
    ("Bike Phone Mount", "13.99"),
    ("Car Vacuum, Handheld", "36.99"),
    ("Massage Gun", "89.99"),
    ("Air Fryer 5.8 qt", "119.99"),
    ("Weighted Blanket 15 lb", "64.99"),
    ('Ring Light 10" with Tripod', "29.99"),
    ("Mechanical Keyboard", "74.99"),
    ("Reusable Food Bags", "14.49"),
    ("Pet Hair Remover Roller", "10.99"),
)
_ESPRESSO = ("Dual Boiler Espresso Machine", "1250.00")
_STORES = (
    ("BrightHome Store", "USD"),
    ("KitchenPro Direct", "USD"),
    ("Velora Beauty", "USD"),
    ("TechNest Outlet", "USD"),
    ("PawsPlanet", "USD"),
    ("GreenLeaf Garden", "USD"),
    ("Nordlicht Handel GmbH", "EUR"),
    ("Maison Claire", "EUR"),
    ("Sakura Goods", "USD"),
    ("Atlas Outdoor", "USD"),
    ("Britannia Homeware Ltd", "GBP"),
    ("Lumen Lights", "USD"),
)
_STORE_WORDS = "Bright Nova Prime Atlas Lumen Velora Zen Apex Urban Pure Swift Golden Blue Maple Iron Coral".split()
_STORE_KINDS = "Home Direct Goods Outlet Store Supply Trading Life Gear Labs Market Shop".split()

_POSITIVE = {
    "en": (
        "Works exactly as described. Five stars!",
        "Best purchase this year, my kitchen finally looks organised.",
        "Arrived quickly, well packed, and the quality is excellent.",
        "I was sceptical at first, but this is honestly great value for money.",
        "Bought a second one for my mother. She loves it too!",
        "Sturdy, easy to clean, and it looks nice on the counter.",
    ),
    "es": ("¡Excelente producto! Llegó rápido y funciona perfectamente.", "Muy buena calidad, lo recomiendo al 100 %."),
    "de": (
        "Sehr gute Qualität, schnelle Lieferung. Absolut empfehlenswert!",
        "Macht genau, was es soll. Gerne wieder.",
    ),
    "fr": ("Produit génial, conforme à la description. Je recommande !", "Très bonne qualité, livraison rapide."),
    "pt": ("Produto excelente, chegou antes do prazo.",),
    "it": ("Ottimo prodotto, lo consiglio a tutti.",),
    "zh": ("质量很好，物流很快，非常满意！", "做工精细，性价比很高，推荐购买。"),
    "ja": ("とても使いやすくて満足しています。", "期待以上の品質でした。また買いたいです。"),
    "ko": ("품질이 정말 좋아요. 배송도 빨랐습니다!", "가격 대비 최고입니다. 강력 추천해요."),
    "ar": ("منتج رائع وجودة ممتازة، أنصح به بشدة.", "وصل بسرعة ويعمل بشكل مثالي."),
    "he": ("מוצר מצוין, הגיע מהר ועובד בדיוק כמו שצריך.", "איכות גבוהה במחיר הוגן, ממליץ בחום."),
    "hi": ("बहुत अच्छा उत्पाद है, समय पर डिलीवरी हुई।", "गुणवत्ता शानदार है, मैं इसे फिर से खरीदूँगा।"),
    "th": ("สินค้าดีมาก ส่งเร็ว คุ้มค่ากับราคา", "ใช้งานง่าย คุณภาพดีเกินราคา"),
    "ru": ("Отличный товар, всё работает, рекомендую.",),
}
_NEUTRAL = (
    "It's fine for the price, nothing special.",
    "Does the job, but the instructions were confusing.",
    "Ganz okay, aber etwas kleiner als erwartet.",
    "一般般，和图片不太一样。",
    "Está bien, aunque el envío tardó bastante.",
    "普通です。可もなく不可もなく。",
)
_NEGATIVE = (
    "Stopped working after two weeks. Very disappointed.",
    "The lid cracked on day one, returning it.",
    "Smells like chemicals and the stitching came apart.",
    "No funciona bien, lo devolví.",
    "Cassé au bout d'une semaine, à éviter.",
    "جودة سيئة، لا أنصح به.",
    "일주일 만에 고장났어요.",
    "הפסיק לעבוד אחרי שבוע.",
    "पैसे की बर्बादी, काम नहीं करता।",
    "ใช้ได้ไม่กี่วันก็เสีย",
)
_TITLES = {
    5: ("Love it!", "Five stars", "Great value", "Perfect", "Highly recommend", "Excelente", "Sehr gut", "完美")
    + ("最高です", "최고예요", "ممتاز", "מעולה", "बढ़िया", "ดีมาก", "Отлично", "+1 would buy again"),
    4: ("Pretty good", "Good, not perfect", "Gut", "不错", "Bom", "좋아요"),
    3: ("Okay", "Meh", "Average", "一般", "Normal"),
    2: ("Disappointing", "Decepcionante", "差评"),
    1: ("Broke quickly", "Don't buy", "Waste of money", "최악", "سيء"),
}
_TINY = ("ok", "👍", "好", "A+", "Nice.", "✓", "جيد", "טוב", "ดี", "good")
_INJECTION = '=HYPERLINK("http://x","y")'
_MULTILINE = 'Does what it says, sturdy, easy to use.\nOnly downside: the box came "crushed", but the item was fine.'

_OFFERS = {
    "en": (
        "Hi! We are looking for testers for our {title}. Buy it, leave a 5-star review and you get a FULL REFUND "
        "to your PayPal within 3 days.",
        "Full refund after 5-star review. Send me a screenshot of the review and your PayPal email.",
        "Free product! Order the {title}, post a five star review with a photo, we refund 100% plus $5 bonus.",
    ),
    "es": (
        "¡Hola! Reembolso completo después de una reseña de 5 estrellas. Compra el {title} y envíanos el enlace "
        "de la reseña y tu PayPal.",
    ),
    "de": (
        "Volle Rückerstattung nach einer 5-Sterne-Bewertung! Kaufen Sie {title}, schicken Sie uns den Link zur "
        "Bewertung und Ihre PayPal-Adresse.",
    ),
    "fr": (
        "Remboursement intégral après un avis 5 étoiles : achetez {title} et envoyez-nous le lien et votre PayPal.",
    ),
    "pt": ("Reembolso total após avaliação de 5 estrelas. Compre {title} e envie o link da avaliação e seu PayPal.",),
    "it": ("Rimborso completo dopo una recensione a 5 stelle. Acquista {title} e mandaci il link e il tuo PayPal.",),
    "zh": ("五星好评后全额退款！购买 {title}，把评价截图和PayPal邮箱发给我们。",),
    "ja": (
        "星5つのレビューを書いていただければ全額返金します。{title} を購入して、レビューのリンクを送ってください。",
    ),
    "ko": ("5점 리뷰를 남겨 주시면 전액 환불해 드립니다. {title} 구매 후 리뷰 링크와 PayPal 이메일을 보내 주세요.",),
    "ar": ("استرداد كامل المبلغ بعد تقييم خمس نجوم. اشترِ {title} وأرسل لنا رابط التقييم وبريد PayPal الخاص بك.",),
    "ru": ("Полный возврат денег после отзыва на 5 звёзд. Купите {title} и пришлите ссылку на отзыв и ваш PayPal.",),
    "hi": ("5-स्टार रिव्यू के बाद पूरा रिफंड! {title} खरीदें और रिव्यू का लिंक व अपना PayPal ईमेल भेजें।",),
    "he": ("החזר כספי מלא אחרי ביקורת של 5 כוכבים. קנו את {title} ושלחו לנו קישור לביקורת ואת כתובת ה-PayPal.",),
    "th": ("คืนเงินเต็มจำนวนหลังรีวิว 5 ดาว ซื้อ {title} แล้วส่งลิงก์รีวิวและอีเมล PayPal มาให้เรา",),
    "tr": (
        "5 yıldızlı yorumdan sonra tam iade! {title} satın alın, yorum bağlantısını ve PayPal adresinizi gönderin.",
    ),
}
_OFFER_LANGS = tuple(_OFFERS)
_REPLIES = (
    "Done ✅ review is live: https://www.amazon.example/review/{review_id}",
    "Ok, ordered. Will post 5 stars when it arrives.",
    "Posted! Please send the refund.",
    "评价好了，请退款",
    "Listo, ya dejé la reseña.",
    "Fertig, Bewertung ist online.",
    "レビュー書きました。",
    "تم، نشرت التقييم",
    "Sent you the screenshot.",
)
_PAID_NOTES = (
    "Refund sent, thank you for your support!",
    "已退款，谢谢！",
    "Reembolso enviado.",
    "Erstattung ist raus. Danke!",
    "Sent 💸 please don't mention the refund in the review.",
)
_SHORT_CHATS = (
    "done",
    "link?",
    "sent",
    "ok boss",
    "screenshot pls",
    "paypal?",
    "5*",
    "好的",
    "收到",
    "已下单",
    "👍👍",
    "wait",
    "order id?",
    "refund when?",
    "thx",
    "review removed?? pls check",
    "posted, pending approval",
)
_CHATTER = (
    "Your order has shipped and should arrive on Friday.",
    "Thank you for your purchase! Let us know if anything is wrong.",
    "Could you send a photo of the damaged item?",
    "We have issued a replacement.",
    "Hello, is the item working well for you?",
    "Ihre Bestellung wurde versandt.",
    "您的订单已发货。",
    "Su pedido ha sido enviado.",
    "ご注文の商品を発送しました。",
    "تم شحن طلبك.",
    "Thanks!",
    "Received, all good.",
    "Still waiting for tracking.",
    "It arrived broken.",
    "ok",
)
_DECLINES = ("No thanks, I only write honest reviews.", "Is this even allowed? I'll pass.", "No, gracias.")
_NOISE_MEMOS = (
    "Dinner 🍕",
    "Rent share",
    "Concert tickets",
    "Thanks for the help!",
    "Birthday gift 🎁",
    "Car pool – May",
    "Groceries",
    "Lunch",
    "Loan repayment",
    "",
    "Invoice 2021-114",
    "Freight charges",
    "Packaging materials",
    "Photography services",
    "Goods",
)
_CHAIN_MEMOS = ("", "refund", "Refund", "gift", "thanks ❤", "Order refund", "for the review 😉", "reembolso", "退款")
_CHANNELS = ("telegram", "wechat", "whatsapp", "facebook", "skype")
_PAYMENT_TYPES = {
    "payment": ("Payment", "PAYMENT", "payment"),
    "refund": ("Refund", "REFUND", "refund"),
    "reversal": ("Reversal", "reversal", "REVERSAL"),
}
_AWARE_ZONES = ("America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "UTC")


def _offer(rng: random.Random, lang: str, title: str) -> str:
    return rng.choice(_OFFERS[lang]).format(title=title)


def _long_text(rng: random.Random, paragraphs: int) -> str:
    """About a kilobyte a paragraph: sentences from every language, paragraphs separated by blank lines."""
    sentences = [s for pool in _POSITIVE.values() for s in pool] + list(_NEUTRAL)
    return "\n\n".join(" ".join(rng.choice(sentences) for _ in range(rng.randrange(12, 22))) for _ in range(paragraphs))


def _review_text(rng: random.Random, rating: int) -> str:
    pick = rng.random()
    if pick < 0.06:
        return rng.choice(_TINY)
    if pick < 0.09:
        return _long_text(rng, rng.randrange(2, 4))
    if rating >= 4:
        pool = _POSITIVE[rng.choice(tuple(_POSITIVE))]
        return " ".join(rng.sample(pool, min(len(pool), rng.randrange(1, 3))))
    return rng.choice(_NEUTRAL if rating == 3 else _NEGATIVE)


def _rating(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4, 5), weights=(8, 5, 10, 22, 55))[0]


# --- Writing -----------------------------------------------------------------------------------------------------

_BATCH = 4096


@contextmanager
def _open_out(path: Path, compress: bool = False) -> Iterator[IO[bytes]]:
    """A binary file for writing, gzip-compressed when asked: with no name or time in its header, so that the same
    records give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb", buffering=1 << 20) as raw:
        if not compress:
            yield raw
            return
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as packed:
            yield packed  # type: ignore[misc]


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> list[tuple[int, str]]:
    """A CSV file as a spreadsheet exports it (UTF-8 with a BOM, CRLF); returns each record's row and source text."""
    out: list[tuple[int, str]] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")
        line = 1
        for cells in [list(header), *rows]:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(cells)
            text = buffer.getvalue()
            f.write(text)
            out.append((line, text[:-2]))
            line += text.count("\n")
    return out[1:]


def _write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    with _open_out(path) as f:
        for start in range(0, len(records), _BATCH):
            f.write(b"".join(orjson.dumps(r) + b"\n" for r in records[start : start + _BATCH]))


def _es_hit(index: str, doc_id: str, source: dict[str, Any]) -> dict[str, Any]:
    return {"_index": index, "_type": "_doc", "_id": doc_id, "_score": 1.0, "_source": source}


# --- The case dataset --------------------------------------------------------------------------------------------


@dataclass
class _Product:
    asin: str
    title: str
    price: Decimal
    currency: str
    seller: "_Seller"


@dataclass
class _Seller:
    id: str
    store: str
    email: str
    paypal: str
    phone: str | None
    url: str
    currency: str
    bad: bool
    products: list[_Product] = field(default_factory=list)


@dataclass
class _Review:
    id: str
    person: _Person
    product: _Product
    rating: int
    at: datetime
    title: str
    text: str
    marketplace: str
    helpful: int
    verified: bool

    def csv_cells(self) -> list[str]:
        return [
            self.marketplace,
            self.id,
            self.person.id,
            self.person.name,
            self.product.asin,
            self.product.title,
            self.product.seller.id,
            str(self.rating),
            self.title,
            self.text,
            _utc(self.at),
            str(self.helpful),
            "Y" if self.verified else "N",
        ]

    def json_record(self) -> dict[str, Any]:
        return {
            "review_id": self.id,
            "reviewer": {"id": self.person.id, "name": self.person.name},
            "asin": self.product.asin,
            "seller_id": self.product.seller.id,
            "rating": self.rating,
            "date": _utc(self.at),
            "title": self.title,
            "body": self.text,
            "verified": self.verified,
            "helpful_votes": self.helpful,
            "marketplace": self.marketplace,
        }


@dataclass
class _Payment:
    txn: str
    at: datetime
    date_text: str
    zone_name: str  # "" when the time is written without an offset
    payee_name: str
    type_text: str
    currency: str
    gross: Decimal
    fee: Decimal
    payer: str
    payee_email: str
    memo: str

    @property
    def naive(self) -> bool:
        return not self.zone_name

    def csv_cells(self) -> list[str]:
        thousands = self.gross >= 1000  # "1,250.00", as the export writes four-figure sums
        return [
            self.date_text,
            self.zone_name,
            self.payee_name,
            self.type_text,
            "Completed",
            self.currency,
            _money(self.gross, thousands),
            _money(self.fee),
            _money(self.gross - self.fee, thousands),
            self.payer,
            self.payee_email,
            self.txn,
            self.memo,
        ]

    def json_record(self) -> dict[str, Any]:
        return {
            "id": self.txn,
            "create_time": self.date_text,
            "type": self.type_text,
            "status": "COMPLETED",
            "amount": {"value": _money(self.gross), "currency_code": self.currency},
            "payer": {"email_address": self.payer},
            "payee": {"email_address": self.payee_email, "name": self.payee_name},
            "note": self.memo,
        }


@dataclass
class _Plant:
    """What one planted chain or trap is made of, by the records' ids (rows are known once the files are written)."""

    kind: str  # "chain" or a trap kind
    person: _Person
    product: _Product
    rating: int
    reviewed_at: datetime
    review_id: str = ""
    txn: str | None = None
    paid_at: datetime | None = None
    amount: Decimal = Decimal(0)
    currency: str = ""
    offers: list[str] = field(default_factory=list)  # message ids
    thread: list[str] = field(default_factory=list)  # message ids
    account: str | None = None  # account record key
    orders: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    payee_link: str = ""
    payer_link: str = ""
    other: "_Plant | None" = None  # name collision: the paid reviewer's chain
    note: str = ""


def _case_sellers(next_n: Callable[[], int], rng: random.Random) -> list[_Seller]:
    """The case's twelve sellers, six of them paying for reviews, three products each (and an espresso machine)."""
    bad = {0, 2, 3, 6, 8, 11}
    titles = list(_PRODUCTS)
    rng.shuffle(titles)
    sellers = []
    for i, (store, currency) in enumerate(_STORES):
        slug = _slug(store).replace(".", "")
        seller = _Seller(
            id=_account_id(_SELLER_BASE + i),
            store=store,
            email=f"support@{slug}.example",
            paypal=f"payments.{slug}@{_PAY_DOMAINS[i % len(_PAY_DOMAINS)]}",
            phone=_seller_phone(i),
            url=f"https://www.amazon.example/sp?seller={_account_id(_SELLER_BASE + i)}",
            currency=currency,
            bad=i in bad,
        )
        for title, price in titles[i * 3 : i * 3 + 3]:
            seller.products.append(_Product(_asin(next_n()), title, Decimal(price), currency, seller))
        sellers.append(seller)
    sellers[0].products.append(_Product(_asin(next_n()), _ESPRESSO[0], Decimal(_ESPRESSO[1]), "USD", sellers[0]))
    return sellers


def _seller_phone(i: int) -> str | None:
    """Sellers' numbers: the UK's range kept for fiction (07700 900000..900999), apart from people's."""
    return f"+447700900{i:03d}" if i < 1000 else None


class _Case:
    """The planted parties and records, and for the case dataset its honest ones too: built in memory (a few
    thousand records), then written."""

    def __init__(
        self, rng: random.Random, sellers: list[_Seller] | None = None, id_base: int = 0, with_orders: bool = True
    ) -> None:
        self.rng = rng
        self.id_base = id_base
        self.with_orders = with_orders
        self.people = 0
        self.counter = 0
        self.reviews: list[_Review] = []
        self.payments: list[_Payment] = []
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.accounts: list[tuple[str, dict[str, Any]]] = []
        self.orders: list[tuple[str, dict[str, Any]]] = []
        self.plants: list[_Plant] = []
        self.high_ratings: dict[str, set[str]] = {}  # person id -> sellers of the products they rated 4 or 5
        self.sellers = sellers if sellers is not None else _case_sellers(self.next_n, rng)
        for seller in self.sellers:
            self._account(
                f"seller:{seller.id}",
                "seller",
                seller.id,
                seller.store,
                seller.email,
                seller.paypal,
                seller.phone,
                seller.url,
                extra={"store": {"name": seller.store, "currency": seller.currency}},
            )

    def next_n(self) -> int:
        self.counter += 1
        return self.id_base + self.counter

    @property
    def products(self) -> list[_Product]:
        return [p for s in self.sellers for p in s.products]

    @property
    def bad_products(self) -> list[_Product]:
        return [p for p in self.products if p.seller.bad and p.title != _ESPRESSO[0]]

    @property
    def honest_products(self) -> list[_Product]:
        return [p for p in self.products if not p.seller.bad]

    def person(self, name_index: int | None = None) -> _Person:
        self.people += 1
        return _person(self.people, self.rng.randrange(len(_NAMES)) if name_index is None else name_index)

    # Records

    def _account(
        self,
        key: str,
        role: str,
        account_id: str,
        name: str,
        email: str,
        paypal: str | None,
        phone: str | None,
        url: str,
        extra: dict[str, Any] | None = None,
    ) -> str:
        rng = self.rng
        created = datetime(2017, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(4 * 365 * 86400))
        contact: dict[str, Any] = {"email": email}
        if paypal is not None or rng.random() < 0.5:
            contact["paypal"] = paypal
        if phone is not None or rng.random() < 0.5:
            contact["phone"] = phone
        source: dict[str, Any] = {
            "role": role,
            "profile": {"id": account_id, "name": name, "url": url},
            "contact": contact,
            "country": rng.choice(("US", "US", "US", "GB", "DE", "CN", "IN", "FR")),
            "created_at": _utc(created),
            "tags": rng.sample(("verified", "vine", "top-1000", "new", "flagged", "prime"), rng.randrange(0, 3)),
        }
        if extra:
            source.update(extra)
        self.accounts.append((key, _es_hit("clickfarm-accounts-2021", _es_id(self.next_n(), 1), source)))
        return key

    def account_source(self, key: str) -> dict[str, Any]:
        return next(hit for k, hit in self.accounts if k == key)["_source"]

    def person_account(self, person: _Person, paypal: bool = True, phone: bool = True) -> str:
        rng = self.rng
        return self._account(
            f"person:{person.id}",
            "reviewer",
            person.id,
            person.name,
            _variant(person.email, rng) if rng.random() < 0.3 else person.email,
            person.paypal if paypal else None,
            person.phone if phone else None,
            person.url,
        )

    def review(self, person: _Person, product: _Product, rating: int, at: datetime, text: str | None = None) -> str:
        rng = self.rng
        review = _Review(
            id=_review_id(self.next_n()),
            person=person,
            product=product,
            rating=rating,
            at=at,
            title=rng.choice(_TITLES[rating]),
            text=_review_text(rng, rating) if text is None else text,
            marketplace=rng.choice(("US", "US", "US", "UK", "DE", "JP")),
            helpful=rng.choice((0, 0, 0, 1, 2, 3, 7, 12, 40)),
            verified=rng.random() < 0.75,
        )
        if rating >= 4:
            self.high_ratings.setdefault(person.id, set()).add(product.seller.id)
        self.reviews.append(review)
        return review.id

    def payment(
        self,
        at: datetime,
        kind: str,
        gross: Decimal,
        currency: str,
        payer: str,
        payee_email: str,
        payee_name: str,
        memo: str,
        naive: bool | None = None,
    ) -> str:
        """A payment; `naive`: its time written without an offset (True), with one (False), or either (None)."""
        rng = self.rng
        date_text = None
        zone_name = ""
        if naive is not False and (naive or rng.random() < 0.4):
            date_text = _naive_text(at)
        if date_text is None:
            if naive:
                raise ValueError("a naive time was asked for an instant the case timezone repeats")
            zone_name = rng.choice(_AWARE_ZONES)
            date_text = _offset_text(at, zone_name)
        fee = Decimal(0)
        if kind == "payment" and rng.random() < 0.4:
            fee = (gross * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01"))
        payment = _Payment(
            txn=_txn_id(self.next_n()),
            at=at,
            date_text=date_text,
            zone_name=zone_name,
            payee_name=payee_name,
            type_text=rng.choice(_PAYMENT_TYPES[kind]),
            currency=currency,
            gross=gross,
            fee=fee,
            payer=payer,
            payee_email=payee_email,
            memo=memo,
        )
        self.payments.append(payment)
        return payment.txn

    def message(
        self,
        thread: str,
        seller: _Seller,
        product: _Product,
        person: _Person,
        contact: str | None,
        seller_speaks: bool,
        text: str,
        at: datetime,
        lang: str | None = None,
    ) -> str:
        """A message of the chats; `lang` is known for the offers only (the farm's scripts are tagged by language)."""
        rng = self.rng
        message_id = _es_id(self.next_n(), 2)
        handle = f"{seller.store} ({rng.choice(('Lily', 'Tom', 'agent', 'support', 'Kevin'))})"
        reviewer: dict[str, Any] = {"profile_id": person.id, "name": person.name}
        if contact is not None:
            reviewer["email"] = contact
        source: dict[str, Any] = {
            "thread": thread,
            "channel": rng.choice(_CHANNELS),
            "lang": lang,
            "seller": seller.id,
            "product": {"asin": product.asin, "title": product.title},
            "reviewer": reviewer,
            "message": {
                "from": handle if seller_speaks else person.name,
                "to": person.name if seller_speaks else handle,
                "text": text,
                "sent_at": _offset_text(at, rng.choice(("Asia/Shanghai", "Asia/Shanghai", "UTC", "Asia/Kolkata"))),
            },
        }
        if lang is None:
            del source["lang"]
        self.messages.append((message_id, _es_hit("clickfarm-chats-2021", message_id, source)))
        return message_id

    def order(self, person: _Person, product: _Product, at: datetime, status: str) -> str:
        rng = self.rng
        order_id = _order_id(self.next_n())
        record = {
            "order": {"id": order_id, "placed_at": _utc(at), "status": status},
            "buyer": {"id": person.id, "name": person.name},
            "item": {
                "asin": product.asin,
                "seller_id": product.seller.id,
                "title": product.title,
                "quantity": 1,
                "price": {"amount": _money(product.price), "currency": product.currency},
            },
            "ship_to": {
                "country": rng.choice(("US", "US", "GB", "DE", "CA")),
                "postal_code": f"{rng.randrange(10**5):05d}",
            },
        }
        self.orders.append((order_id, record))
        return order_id

    def thread_id(self) -> str:
        return "T" + _base36(self.next_n(), 9, 3)

    def when(self, start: datetime = datetime(2021, 2, 1, tzinfo=UTC), days: int = 250) -> datetime:
        return start + timedelta(seconds=self.rng.randrange(days * 86400))

    # Plants

    def chain(
        self,
        kind: str,
        product: _Product,
        reviewed_at: datetime,
        paid_after: timedelta | None,
        payee_link: str,
        payer_link: str = "paypal",
        rating: int = 5,
        naive: bool | None = None,
        text: str | None = None,
        order_status: str | None = None,
        pay_type: str = "",
        payer: str | None = None,
        memo: str | None = None,
    ) -> _Plant:
        """A seller's offer, the review, the reviewer's reply and (unless `paid_after` is None) the payment and the
        seller's thanks: a chain, or a trap built like one. `payee_link` says how the payee address reaches the
        reviewer: through an account record ("accounts"), a message's contact_email ("message"), or either."""
        rng = self.rng
        seller = product.seller
        person = self.person()
        plant = _Plant(kind, person, product, rating, reviewed_at, payee_link=payee_link, payer_link=payer_link)
        keys: list[str | None] = [person.id]
        contact: str | None = None
        payee = person.paypal
        if "accounts" in payee_link:
            plant.account = self.person_account(person, paypal=True, phone=rng.random() < 0.6)
            held = self.account_source(plant.account)["contact"]
            keys += [held["email"], held["paypal"], held.get("phone"), person.url]
        if payee_link == "message":
            contact = payee = f"{person.email.split('@')[0]}.pay@{_PAY_DOMAINS[person.n % len(_PAY_DOMAINS)]}"
        elif payee_link == "accounts+message":
            contact = person.email
            if rng.random() < 0.5:  # an address only the chats know, and the payment went there or to the PayPal
                contact = f"{person.email.split('@')[0]}.alt@{_MAIL_DOMAINS[(person.n + 1) % len(_MAIL_DOMAINS)]}"
            payee = rng.choice((contact, person.paypal))
        keys.append(contact)
        plant.keys = _keys(*keys)

        def shown() -> str | None:
            return None if contact is None else _variant(contact, rng)

        plant.review_id = self.review(person, product, rating, reviewed_at, text)
        thread = self.thread_id()
        lang = rng.choice(_OFFER_LANGS)
        offered_at = reviewed_at - timedelta(seconds=rng.randrange(4 * 86400, 14 * 86400))
        say = self.message
        offer = say(thread, seller, product, person, shown(), True, _offer(rng, lang, product.title), offered_at, lang)
        plant.offers.append(offer)
        plant.thread.append(offer)
        if rng.random() < 0.2:  # a reminder, in another thread and maybe another language
            again = rng.choice(_OFFER_LANGS)
            at = offered_at + timedelta(seconds=rng.randrange(3600, 86400))
            text_again = "Reminder: " + _offer(rng, again, product.title)
            reminder = say(self.thread_id(), seller, product, person, shown(), True, text_again, at, again)
            plant.offers.append(reminder)
            plant.thread.append(reminder)
        reply = rng.choice(_REPLIES).format(review_id=plant.review_id)
        at = reviewed_at + timedelta(seconds=rng.randrange(600, 12 * 3600))
        plant.thread.append(say(thread, seller, product, person, shown(), False, reply, at))
        if self.with_orders and (order_status or rng.random() < 0.6):
            ordered = offered_at + timedelta(seconds=rng.randrange(3600, 2 * 86400))
            status = order_status or rng.choice(("delivered", "delivered", "delivered", "shipped"))
            plant.orders.append(self.order(person, product, ordered, status))
        if paid_after is None:
            self.plants.append(plant)
            return plant
        plant.paid_at = reviewed_at + paid_after
        plant.amount = product.price
        plant.currency = product.currency
        if payer is None:
            payer = seller.paypal if payer_link == "paypal" else "fastrefund.agent@inbox.example"
        if memo is None:
            memo = rng.choice(_CHAIN_MEMOS)
            if payer_link == "memo":
                memo = rng.choice(("Refund {} – 5* review", "{} refund", "返现 {}")).format(product.asin)
        kind_paid = pay_type or rng.choice(("payment", "refund"))
        payee_shown = _variant(payee, rng)
        plant.txn = self.payment(
            plant.paid_at, kind_paid, product.price, product.currency, payer, payee_shown, person.name, memo, naive
        )
        if kind == "chain":
            at = plant.paid_at + timedelta(seconds=rng.randrange(300, 6 * 3600))
            plant.thread.append(say(thread, seller, product, person, shown(), True, rng.choice(_PAID_NOTES), at))
        self.plants.append(plant)
        return plant

    def plant_chains(self, count: int) -> None:
        """`count` chains, their payments at the window's two edges exactly (the one at its start with a time
        written without an offset), a few before the review, some days after it, some weeks after it, and most
        within three days; a tenth or so paid by an agent whose memo names the product, not by the seller."""
        rng = self.rng
        bad = self.bad_products
        links = ("accounts", "message", "accounts+message")
        fixed: list[tuple[timedelta, bool | None]] = [
            (timedelta(days=WINDOW_DAYS_AFTER), False),
            (-timedelta(days=WINDOW_DAYS_BEFORE), True),
            (-timedelta(hours=60), None),
            (-timedelta(hours=19, minutes=30), None),
        ]
        rest = max(0, count - len(fixed))
        days_later, weeks_later = round(rest * 6 / 26), round(rest * 4 / 26)

        def later(low: int, high: int) -> tuple[timedelta, bool | None]:
            return timedelta(seconds=rng.randrange(low, high)), None

        timings = fixed[:count] + [later(3 * 86400, 9 * 86400) for _ in range(days_later)]
        timings += [later(15 * 86400, 45 * 86400) for _ in range(weeks_later)]
        timings += [later(2 * 3600, 3 * 86400) for _ in range(rest - days_later - weeks_later)]
        espresso = next(p for p in self.products if p.title == _ESPRESSO[0])
        for i, (after, naive) in enumerate(timings):
            if i == 0:
                reviewed_at = datetime(2021, 6, 2, 17, 41, 9, tzinfo=UTC)
            elif i == 1:
                reviewed_at = datetime(2021, 7, 14, 16, 20, 33, tzinfo=UTC)
            else:
                reviewed_at = self.when()
            product = espresso if i == 7 else bad[rng.randrange(len(bad))]
            text = None
            if i % 26 == 5:
                text = _long_text(rng, 3)
            elif i % 26 in (6, 9):
                text = rng.choice(_TINY)
            payer_link = "memo" if i % 26 in (8, 21) else "paypal"
            self.chain("chain", product, reviewed_at, after, links[i % 3], payer_link, naive=naive, text=text)

    def plant_traps(self, per_kind: int = 1) -> None:
        """`per_kind` of each trap kind (outside_window three times as many: 90 days after, just after the window's
        end, just before its start); returned and cancelled orders only when there are orders."""
        rng = self.rng
        bad = self.bad_products
        day = timedelta(days=1)
        eligible = [
            p for p in self.plants if p.kind == "chain" and p.payee_link == "accounts" and p.payer_link == "paypal"
        ]
        for k in range(per_kind):
            # (a) Someone else of the same name, who reviewed the same product about then and was paid nothing.
            paid = eligible[(1 + k) % len(eligible)]
            name_index = next(i for i, (name, _) in enumerate(_NAMES) if name == paid.person.name)
            twin = self.person(name_index)
            at = paid.reviewed_at + timedelta(seconds=rng.randrange(3600, 3 * 86400))
            trap = _Plant("name_collision", twin, paid.product, 5, at, other=paid, payee_link="none")
            trap.account = self.person_account(twin)
            held = self.account_source(trap.account)["contact"]
            trap.keys = _keys(twin.id, held["email"], held.get("paypal"), held.get("phone"), twin.url)
            trap.review_id = self.review(twin, paid.product, 5, at)
            trap.note = f"{twin.name!r} is also the name of the paid reviewer of review {paid.review_id}, a finding"
            self.plants.append(trap)
            # (b), (c) Refunds that an order returned or cancelled explains.
            if self.with_orders:
                for kind, status, link in (
                    ("returned_order", "returned", "accounts"),
                    ("cancelled_order", "cancelled", "message"),
                ):
                    after = day * rng.uniform(1, 8)
                    plant = self.chain(
                        kind, rng.choice(bad), self.when(), after, link, pay_type="refund", order_status=status
                    )
                    plant.note = f"the payment is explained by an order with status {status}, same buyer and product"
            # (d) A reversal.
            after = day * rng.uniform(1, 8)
            plant = self.chain("reversal", rng.choice(bad), self.when(), after, "accounts", pay_type="reversal")
            plant.note = "the payment's type is reversal"
            # (e) Paid outside the window.
            for after in (
                day * 90,
                day * WINDOW_DAYS_AFTER + timedelta(hours=2),
                -day * WINDOW_DAYS_BEFORE - timedelta(hours=1),
            ):
                plant = self.chain(
                    "outside_window", rng.choice(bad), self.when(), after, "accounts+message", naive=False
                )
                plant.note = f"paid {after / day:+.4f} days from the review: outside the window"
            # (f) Paid, but the review gave four stars.
            after = day * rng.uniform(1, 5)
            plant = self.chain("below_min_rating", rng.choice(bad), self.when(), after, "accounts", rating=4)
            plant.note = "rating 4: a finding at min_rating 4, not at 5"
            # (g) Paid by someone the seller has nothing to do with, for something else.
            stranger = _person(_OTHER_BASE + 1 + k, rng.randrange(len(_NAMES)))
            after = day * rng.uniform(1, 5)
            plant = self.chain(
                "unrelated_payer",
                rng.choice(bad),
                self.when(),
                after,
                "accounts",
                payer=stranger.paypal,
                memo="Happy birthday! 🎂",
                pay_type="payment",
            )
            plant.note = "the payer is not linked to the seller and the memo does not name the product"

    def honest(self, count: int) -> None:
        """Honest reviewers, buyers and chatter; ordinary payments between other parties; suppliers paid by sellers."""
        rng = self.rng
        products = self.products
        people = [self.person() for _ in range(count)]
        with_accounts: list[_Person] = []
        for person in people:
            if rng.random() < 0.6:
                self.person_account(person, paypal=rng.random() < 0.7, phone=rng.random() < 0.5)
                with_accounts.append(person)
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 5, 6))):
                product = rng.choice(products)
                rating = _rating(rng)
                at = self.when()
                self.review(person, product, rating, at)
                if rng.random() < 0.6:
                    status = rng.choices(_ORDER_STATUSES, (80, 5, 8, 4, 3))[0]
                    self.order(person, product, at - timedelta(seconds=rng.randrange(2 * 86400, 20 * 86400)), status)
                if rng.random() < 0.25:
                    thread = self.thread_id()
                    start = at - timedelta(days=rng.uniform(1, 10))
                    for k in range(rng.randrange(1, 4)):
                        contact = _variant(person.email, rng) if rng.random() < 0.5 else None
                        text = rng.choice(_CHATTER)
                        msg_at = start + timedelta(hours=k * rng.uniform(1, 30))
                        self.message(thread, product.seller, product, person, contact, k % 2 == 0, text, msg_at)
            if rng.random() < 0.05:  # offered money for a review, and said no
                product = rng.choice(self.bad_products)
                thread = self.thread_id()
                at = self.when()
                lang = rng.choice(_OFFER_LANGS)
                self.message(
                    thread, product.seller, product, person, None, True, _offer(rng, lang, product.title), at, lang
                )
                decline = rng.choice(_DECLINES)
                self.message(
                    thread, product.seller, product, person, None, False, decline, at + timedelta(hours=2), lang
                )
        buyers = [self.person() for _ in range(count // 4)]  # who review nothing
        for buyer in buyers:
            if rng.random() < 0.3:
                self.person_account(buyer, paypal=rng.random() < 0.5)
            for _ in range(rng.randrange(1, 4)):
                self.order(
                    buyer, rng.choice(products), self.when(), rng.choices(_ORDER_STATUSES, (70, 10, 10, 5, 5))[0]
                )
        # Payments: friends paying each other and reviewers, buyers paying sellers, sellers paying suppliers, and
        # refunds of returned orders to buyers who rated nothing of that seller's 4 or 5.
        others = [_person(_OTHER_BASE + 100 + i, rng.randrange(len(_NAMES))) for i in range(max(20, count // 3))]
        parties = with_accounts + others
        for _ in range(count):
            payer, payee = rng.sample(parties, 2)
            amount = Decimal(rng.choice((rng.randrange(500, 20000), rng.randrange(500, 300000)))) / 100
            kind = rng.choices(("payment", "refund", "reversal"), (90, 6, 4))[0]
            self.payment(
                self.when(), kind, amount, "USD", payer.paypal, payee.paypal, payee.name, rng.choice(_NOISE_MEMOS)
            )
        for _ in range(count // 5):
            person = rng.choice(people)
            seller = rng.choice(self.sellers)
            price = rng.choice(seller.products).price
            self.payment(self.when(), "payment", price, seller.currency, person.paypal, seller.paypal, seller.store, "")
        for i in range(count // 6):
            seller = rng.choice(self.sellers)
            amount = Decimal(rng.randrange(20000, 900000)) / 100
            supplier, name = f"accounts@supplier{i % 17}.example", f"Supplier {i % 17} Co., Ltd."
            self.payment(
                self.when(), "payment", amount, seller.currency, seller.paypal, supplier, name, rng.choice(_NOISE_MEMOS)
            )
        by_id = {p.id: p for p in people + buyers}
        sellers = {s.id: s for s in self.sellers}
        for _, record in list(self.orders):
            seller_id, buyer_id = record["item"]["seller_id"], record["buyer"]["id"]
            if record["order"]["status"] != "returned" or buyer_id not in by_id:
                continue
            if seller_id in self.high_ratings.get(buyer_id, set()):
                continue
            buyer, seller = by_id[buyer_id], sellers[seller_id]
            refund_at = datetime.fromisoformat(record["order"]["placed_at"]) + timedelta(days=rng.uniform(8, 30))
            amount = Decimal(record["item"]["price"]["amount"])
            self.payment(
                refund_at, "refund", amount, seller.currency, seller.paypal, buyer.email, buyer.name, "Return processed"
            )

    def special_reviews(self) -> tuple[str, str]:
        """The review with a line break, commas and quotes in its text, and the one whose title is a formula."""
        rng = self.rng
        person = self.person()
        multiline = self.review(person, rng.choice(self.honest_products), 4, self.when(), _MULTILINE)
        injection = self.review(person, rng.choice(self.honest_products), 3, self.when(), "Formula in the title.")
        self.reviews[-1].title = _INJECTION
        return multiline, injection

    def plants_in_manifest(self, rows: dict[str, dict[str, int]]) -> tuple[list[Finding], list[Finding], list[Trap]]:
        """The findings at min_rating 5 and 4, and the traps, with the rows the records were written at (by role,
        record key -> row)."""
        chains = sorted((p for p in self.plants if p.kind == "chain"), key=lambda p: rows["reviews"][p.review_id])
        traps = [p for p in self.plants if p.kind != "chain"]
        findings = [_finding(p, rows) for p in chains]
        below = [_finding(p, rows) for p in traps if p.kind == "below_min_rating"]
        at_4 = sorted(findings + below, key=lambda f: f.review_row)
        return findings, at_4, [_trap(p, rows) for p in traps]


_ORDER_STATUSES = ("delivered", "shipped", "returned", "cancelled", "placed")


def _finding(plant: _Plant, rows: dict[str, dict[str, int]]) -> Finding:
    assert plant.txn is not None and plant.paid_at is not None
    seconds = int((plant.paid_at - plant.reviewed_at).total_seconds())
    messages = rows["messages"]
    return Finding(
        review_row=rows["reviews"][plant.review_id],
        review_id=plant.review_id,
        payment_rows=[rows["payments"][plant.txn]],
        txn_ids=[plant.txn],
        message_rows=sorted(messages[m] for m in plant.offers),
        message_ids=sorted(plant.offers, key=messages.__getitem__),
        thread_message_rows=sorted(messages[m] for m in plant.thread),
        reviewer_id=plant.person.id,
        reviewer_keys=plant.keys,
        seller=plant.product.seller.id,
        product_id=plant.product.asin,
        rating=plant.rating,
        amount=_money(plant.amount),
        currency=plant.currency,
        reviewed_at=_utc(plant.reviewed_at),
        paid_at=_utc(plant.paid_at),
        days=round(seconds / 86400, 4),
        seconds=seconds,
        payee_link=plant.payee_link,
        payer_link=plant.payer_link,
    )


def _trap(plant: _Plant, rows: dict[str, dict[str, int]]) -> Trap:
    involved: dict[str, list[int]] = {"reviews": [rows["reviews"][plant.review_id]]}
    if plant.other is not None:  # the paid reviewer of the same name: their review, payment and account
        assert plant.other.txn is not None and plant.other.account is not None
        involved["reviews"].append(rows["reviews"][plant.other.review_id])
        involved["payments"] = [rows["payments"][plant.other.txn]]
        involved["accounts"] = [rows["accounts"][plant.other.account]]
    if plant.txn:
        involved["payments"] = [rows["payments"][plant.txn]]
    if plant.account:
        involved.setdefault("accounts", []).append(rows["accounts"][plant.account])
    if plant.thread:
        involved["messages"] = [rows["messages"][m] for m in plant.thread]
    if plant.orders:
        involved["orders"] = [rows["orders"][o] for o in plant.orders]
    below = plant.kind == "below_min_rating"
    return Trap(
        kind=plant.kind,
        review_row=rows["reviews"][plant.review_id],
        review_id=plant.review_id,
        reviewer_id=plant.person.id,
        reviewer_keys=plant.keys,
        seller=plant.product.seller.id,
        product_id=plant.product.asin,
        rows={role: sorted(r) for role, r in involved.items()},
        expected="a finding at min_rating 4, not at 5" if below else "not a finding",
        finding_at_min_rating_4=below,
        note=plant.note,
        other_reviewer_keys=plant.other.keys if plant.other else [],
    )


def _csv_file(
    path: str, role: str, name: str, mapping: dict[str, str], rows: int, naive: list[int] | None = None
) -> SampleFile:
    """A CSV file as the case writes them: a BOM, a header (row 1), CRLF."""
    return SampleFile(path, role, name, "csv", mapping, rows, 2, "utf-8-sig", "\r\n", naive or [])


def _lines_file(
    path: str, role: str, name: str, fmt: str, mapping: dict[str, str], rows: int, naive: list[int] | None = None
) -> SampleFile:
    """A JSON Lines or ES NDJSON file: one record a line from row 1, LF."""
    return SampleFile(path, role, name, fmt, mapping, rows, 1, "utf-8", "\n", naive or [])


def _manifest(
    kind: str,
    seed: int,
    files: list[SampleFile],
    parts: tuple[list[Finding], list[Finding], list[Trap]],
    facts: ImportFacts | None,
) -> Manifest:
    findings, at_4, traps = parts
    return Manifest(
        kind=kind,
        seed=seed,
        timezone=CASE_TIMEZONE,
        timezone_rule=TIMEZONE_RULE,
        row_rule=ROW_RULE,
        rules=RULES,
        min_rating=MIN_RATING,
        window_days_before=WINDOW_DAYS_BEFORE,
        window_days_after=WINDOW_DAYS_AFTER,
        files=files,
        findings=findings,
        findings_min_rating_4=at_4,
        traps=traps,
        facts=facts,
    )


def write_case_dataset(directory: Path, *, reviewers: int = 300, seed: int = 14) -> Manifest:
    """A small realistic case in five files (accounts and messages as Elasticsearch exports, reviews and payments as
    CSV with a BOM, orders as JSON Lines), with 30 review-for-refund chains and one of each trap of TRAP_KINDS (three
    outside_window) planted among honest records, and manifest.json beside them. `reviewers` counts every reviewer
    (at least 60: 40 are planted); the rows are in random order."""
    if reviewers < 60:
        raise ValueError("the case needs at least 60 reviewers: 40 are planted")
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    case = _Case(rng)
    case.plant_chains(30)
    case.plant_traps()
    multiline_id, injection_id = case.special_reviews()
    case.honest(reviewers - case.people)
    rng.shuffle(case.reviews)
    rng.shuffle(case.payments)
    rng.shuffle(case.messages)
    rng.shuffle(case.accounts)
    rng.shuffle(case.orders)
    if case.reviews[-1].id == multiline_id:  # the record after it is a fact
        case.reviews.insert(0, case.reviews.pop())

    written = _write_csv(directory / "reviews.csv", REVIEWS_CSV_COLUMNS, [r.csv_cells() for r in case.reviews])
    review_rows = {r.id: row for r, (row, _) in zip(case.reviews, written, strict=True)}
    review_source = {r.id: text for r, (_, text) in zip(case.reviews, written, strict=True)}
    written = _write_csv(directory / "payments.csv", PAYMENTS_CSV_COLUMNS, [p.csv_cells() for p in case.payments])
    payment_rows = {p.txn: row for p, (row, _) in zip(case.payments, written, strict=True)}
    _write_lines(directory / "messages.ndjson", [hit for _, hit in case.messages])
    _write_lines(directory / "accounts.ndjson", [hit for _, hit in case.accounts])
    _write_lines(directory / "orders.jsonl", [record for _, record in case.orders])
    rows = {
        "reviews": review_rows,
        "payments": payment_rows,
        "messages": {key: row for row, (key, _) in enumerate(case.messages, 1)},
        "accounts": {key: row for row, (key, _) in enumerate(case.accounts, 1)},
        "orders": {key: row for row, (key, _) in enumerate(case.orders, 1)},
    }
    parts = case.plants_in_manifest(rows)
    fact_review = parts[0][0]
    multiline_row = review_rows[multiline_id]
    lines = review_source[multiline_id].count("\n") + 1
    files = [
        _lines_file(
            "accounts.ndjson",
            "accounts",
            "Click-farm accounts (leak, 2021)",
            "es",
            ACCOUNTS_ES_MAPPING,
            len(case.accounts),
        ),
        _csv_file("reviews.csv", "reviews", "Marketplace reviews export", REVIEWS_CSV_MAPPING, len(case.reviews)),
        _csv_file(
            "payments.csv",
            "payments",
            "PayPal activity export",
            PAYMENTS_CSV_MAPPING,
            len(case.payments),
            sorted(payment_rows[p.txn] for p in case.payments if p.naive),
        ),
        _lines_file(
            "messages.ndjson",
            "messages",
            "Click-farm chats (leak, 2021)",
            "es",
            MESSAGES_ES_MAPPING,
            len(case.messages),
        ),
        _lines_file("orders.jsonl", "orders", "Order history export", "jsonl", ORDERS_JSONL_MAPPING, len(case.orders)),
    ]
    facts = ImportFacts(
        review_row=fact_review.review_row,
        review_id=fact_review.review_id,
        review_source_line=review_source[fact_review.review_id],
        multiline_review_row=multiline_row,
        multiline_review_id=multiline_id,
        multiline_review_lines=lines,
        multiline_review_source=review_source[multiline_id],
        row_after_multiline=multiline_row + lines,
        injection_review_row=review_rows[injection_id],
        injection_title=_INJECTION,
        accepted_rows={f.role: f.rows for f in files},
    )
    manifest = _manifest("case", seed, files, parts, facts)
    (directory / "manifest.json").write_bytes(manifest.to_json())
    return manifest


# --- The leak dump -----------------------------------------------------------------------------------------------

_LEAK_START = int(datetime(2019, 6, 1, tzinfo=UTC).timestamp())
_LEAK_SPAN = int((datetime(2021, 6, 1, tzinfo=UTC) - datetime(2019, 6, 1, tzinfo=UTC)).total_seconds())
_LEAK_OFFSETS = (480, 480, 480, 480, 0, -300, 330, 180, 480, -420)  # minutes: mostly the farm's own (UTC+8)
_LEAK_INDEX = "clickfarm-{}.{:02d}"
_REFUND_STATUSES = ("paid", "paid", "paid", "pending", "refused", "paid_partial")


class _LeakSource:
    """Records in the 2021 leak's shape, made from small tables (sellers, products, texts) and people made from their
    numbers, so that memory stays flat however many records are written."""

    def __init__(self, rng: random.Random, people: int, person_base: int, sellers: int) -> None:
        self.rng = rng
        self.people = people
        self.person_base = person_base
        self.sellers = [_account_id(_SELLER_BASE + i) for i in range(sellers)]
        self.products = [_scale_product(j, sellers) for j in range(sellers * 10)]
        self.offers = [t.format(title=title) for pool in _OFFERS.values() for t in pool for title, _ in _PRODUCTS]
        self.short = list(_SHORT_CHATS) + list(_CHATTER) + list(_DECLINES) + list(_PAID_NOTES)
        self.short += [reply.format(review_id=_review_id(i)) for i, reply in enumerate(_REPLIES)]
        self.other = [s for lang in ("zh", "ja", "ko", "ar", "he", "hi", "th", "ru") for s in _POSITIVE[lang]]
        self.long = [_long_text(rng, rng.randrange(1, 3)) for _ in range(64)]

    def text(self) -> str:
        """Mostly a few words ("done", "paypal?"); an offer in one of fifteen languages a tenth of the time; a
        sentence in another script (CJK, Arabic, Hebrew, Devanagari, Thai, Korean, Cyrillic) a seventh; one in a
        hundred a kilobyte or two."""
        rng = self.rng
        pick = rng.random()
        if pick < 0.01:
            return rng.choice(self.long)
        if pick < 0.12:
            return rng.choice(self.offers)
        if pick < 0.26:
            return rng.choice(self.other)
        return rng.choice(self.short)

    def reviewer(self, n: int) -> dict[str, str]:
        name, slug = _NAMES[(n * 7919) % len(_NAMES)]
        return {
            "profile_id": _account_id(n),
            "name": name,
            "email": f"{slug}.{n}@{_MAIL_DOMAINS[n % len(_MAIL_DOMAINS)]}",
            "paypal": f"{slug.replace('.', '_')}{n}@{_PAY_DOMAINS[(n // 7) % len(_PAY_DOMAINS)]}",
        }

    def hit(self, doc: int, n: int | None = None) -> dict[str, Any]:
        """Record `doc` of the dump: a seller's message to person n (by default a random one of `people`)."""
        rng = self.rng
        r = rng.random
        if n is None:
            n = self.person_base + int(r() * self.people)
        product = self.products[int(r() * len(self.products))]
        seller = self.sellers[product[3]]
        reviewer = self.reviewer(n)
        sent = _LEAK_START + int(r() * _LEAK_SPAN)
        offset = _LEAK_OFFSETS[int(r() * len(_LEAK_OFFSETS))]
        t = time.gmtime(sent)
        source: dict[str, Any] = {
            "thread": f"T{_scramble(n * 100_003 + product[3], 4, 2**40):010x}",  # one per reviewer and seller
            "seller": seller,
            "reviewer": reviewer,
            "product": {"asin": product[0], "title": product[1], "url": "https://amazon.example/dp/" + product[0]},
            "message": {"text": self.text(), "sent_at": _epoch_text(sent, offset)},
        }
        if r() < 0.6:
            source["refund"] = {
                "amount": product[2],
                "currency": product[4],
                "paid_at": _epoch_text(sent + int(r() * 20 * 86400), offset),
                "status": _REFUND_STATUSES[int(r() * len(_REFUND_STATUSES))],
            }
        return {"_index": _LEAK_INDEX.format(t.tm_year, t.tm_mon), "_id": _es_id(doc, 5), "_source": source}


def _store_name(i: int) -> str:
    return f"{_STORE_WORDS[i % len(_STORE_WORDS)]} {_STORE_KINDS[(i // len(_STORE_WORDS)) % len(_STORE_KINDS)]} {i}"


def _scale_product(j: int, sellers: int) -> tuple[str, str, str, int, str]:
    """Product j: (asin, title, price, seller index, currency); each seller has ten."""
    title, price = _ESPRESSO if j % 211 == 5 else _PRODUCTS[j % len(_PRODUCTS)]
    seller = j // 10 % sellers
    return _asin(j), title, price, seller, _scale_currency(seller)


def _scale_currency(seller: int) -> str:
    return {7: "EUR", 9: "GBP"}.get(seller % 10, "USD")


def write_leak_dump(path: Path, records: int, *, seed: int = 0, compress: bool = False) -> LeakDump:
    """An Elasticsearch export (one hit a line: _index, _id, _source) in the shape of the 2021 click-farm leak:
    about 550 bytes a record on average (from some 400 to 3,000), a third of the texts with letters of other scripts
    than Latin, gzip-compressed when asked. Written in batches: memory does not grow with `records`. Its role is
    "messages", mapped by LEAK_MAPPING (the reviewer's paypal and the refund are kept as unmapped fields). A million
    records take some 12 s on two cores (19 s compressed)."""
    rng = random.Random(seed)
    source = _LeakSource(
        rng, people=max(1000, records // 25), person_base=0, sellers=max(50, min(5000, records // 2000))
    )
    dumps = orjson.dumps
    hit = source.hit
    size = 0
    with _open_out(path, compress) as out:
        for start in range(0, records, _BATCH):
            chunk = b"".join([dumps(hit(doc)) + b"\n" for doc in range(start, min(start + _BATCH, records))])
            size += len(chunk)
            out.write(chunk)
    return LeakDump(
        path=path,
        records=records,
        bytes=path.stat().st_size,
        uncompressed_bytes=size,
        compressed=compress,
        role="messages",
        format="es",
        name="Click-farm database (leak, 2021)",
        mapping=dict(LEAK_MAPPING),
        seed=seed,
    )


# --- The scale dataset -------------------------------------------------------------------------------------------

_SCALE_START = int(datetime(2021, 1, 10, tzinfo=UTC).timestamp())
_SCALE_SPAN = 290 * 86400
_PAYMENT_OFFSETS = (-420, -300, -240, 0, 60, 330, 480)
_RATINGS = tuple(rating for rating, weight in ((1, 8), (2, 5), (3, 10), (4, 22), (5, 55)) for _ in range(weight))


def _scale_sellers(count: int, bad: int) -> list[_Seller]:
    """Seller i of `count`, its products those of _scale_product; only the `bad` first (who pay for reviews) get
    their products as objects, as only they are planted."""
    sellers = [
        _Seller(
            id=_account_id(_SELLER_BASE + i),
            store=_store_name(i),
            email=f"support@store{i}.example",
            paypal=f"payments@store{i}.example",
            phone=_seller_phone(i),
            url=f"https://www.amazon.example/sp?seller={_account_id(_SELLER_BASE + i)}",
            currency=_scale_currency(i),
            bad=i < bad,
        )
        for i in range(count)
    ]
    for j in range(bad * 10):
        asin, title, price, seller, currency = _scale_product(j, count)
        sellers[seller].products.append(_Product(asin, title, Decimal(price), currency, sellers[seller]))
    return sellers


class _ScaleNoise:
    """The honest records of the scale dataset, one at a time: people numbered from `base` (never a planted one),
    products and sellers from the same tables as the leak's."""

    def __init__(self, rng: random.Random, base: int, people: int, sellers: int) -> None:
        self.rng = rng
        self.base = base
        self.count = people
        self.leak = _LeakSource(rng, people=people, person_base=base, sellers=sellers)
        self.products = self.leak.products
        self.sellers = self.leak.sellers
        self.texts = {rating: [_review_text(rng, rating) for _ in range(400)] for rating in range(1, 6)}
        self.others = max(100, people // 5)

    def n(self) -> int:
        return self.base + int(self.rng.random() * self.count)

    def review(self, i: int) -> dict[str, Any]:
        r = self.rng.random
        n = self.n()
        asin, title, _, seller, _ = self.products[int(r() * len(self.products))]
        rating = _RATINGS[int(r() * len(_RATINGS))]
        texts = self.texts[rating]
        titles = _TITLES[rating]
        return {
            "review_id": _review_id(i),
            "reviewer": {"id": _account_id(n), "name": _NAMES[(n * 7919) % len(_NAMES)][0]},
            "asin": asin,
            "seller_id": self.sellers[seller],
            "rating": rating,
            "date": _epoch_text(_SCALE_START + int(r() * _SCALE_SPAN), 0),
            "title": titles[int(r() * len(titles))],
            "body": texts[int(r() * len(texts))],
            "verified": r() < 0.75,
            "helpful_votes": int(r() * r() * 30),
            "marketplace": "US",
        }

    def paypal(self, n: int) -> tuple[str, str]:
        name, slug = _NAMES[(n * 7919) % len(_NAMES)]
        return f"{slug.replace('.', '_')}{n}@{_PAY_DOMAINS[(n // 7) % len(_PAY_DOMAINS)]}", name

    def payment(self, i: int) -> dict[str, Any]:
        """Friends paying each other, strangers paying people, sellers paying suppliers, people paying sellers: no
        payer is ever linked to a seller whose product the payee reviewed, and no memo names a product."""
        rng = self.rng
        r = rng.random
        pick = r()
        currency = "USD"
        if pick < 0.6:
            payer, _ = self.paypal(self.n())
            payee, name = self.paypal(self.n())
        elif pick < 0.8:
            payer, _ = self.paypal(_OTHER_BASE + 1000 + int(r() * self.others))
            payee, name = self.paypal(self.n())
        elif pick < 0.92:
            seller = int(r() * len(self.sellers))
            payer, currency = f"payments@store{seller}.example", _scale_currency(seller)
            k = int(r() * 400)
            payee, name = f"accounts@supplier{k}.example", f"Supplier {k} Co., Ltd."
        else:
            payer, _ = self.paypal(self.n())
            seller = int(r() * len(self.sellers))
            payee, name, currency = f"payments@store{seller}.example", _store_name(seller), _scale_currency(seller)
        kind = "payment" if pick < 0.9 else ("refund" if r() < 0.6 else "reversal")
        cents = int(500 + r() * r() * 250_000)
        types = _PAYMENT_TYPES[kind]
        return {
            "id": _txn_id(i),
            "create_time": _epoch_text(_SCALE_START + int(r() * _SCALE_SPAN), rng.choice(_PAYMENT_OFFSETS)),
            "type": types[int(r() * len(types))],
            "status": "COMPLETED",
            "amount": {"value": f"{cents // 100}.{cents % 100:02d}", "currency_code": currency},
            "payer": {"email_address": payer},
            "payee": {"email_address": payee, "name": name},
            "note": _NOISE_MEMOS[int(r() * len(_NOISE_MEMOS))],
        }

    def message(self, i: int) -> dict[str, Any]:
        return self.leak.hit(i)

    def account(self, i: int) -> dict[str, Any]:
        """Person base + i (some review, the rest of them only buy or pay)."""
        r = self.rng.random
        person = _person(self.base + i)
        contact = {"email": person.email, "paypal": person.paypal if r() < 0.7 else None}
        if person.phone and r() < 0.5:
            contact["phone"] = person.phone
        source = {
            "role": "reviewer",
            "profile": {"id": person.id, "name": person.name, "url": person.url},
            "contact": contact,
            "country": "US",
            "created_at": _epoch_text(_SCALE_START - int(r() * 4 * 365 * 86400), 0),
        }
        return _es_hit("clickfarm-accounts-2021", _es_id(i, 6), source)

    def order(self, i: int) -> dict[str, Any]:
        r = self.rng.random
        n = self.n()
        asin, title, price, seller, currency = self.products[int(r() * len(self.products))]
        status = _ORDER_STATUSES[min(4, int(r() * r() * 6))]  # mostly delivered
        return {
            "order": {
                "id": _order_id(i),
                "placed_at": _epoch_text(_SCALE_START + int(r() * _SCALE_SPAN), 0),
                "status": status,
            },
            "buyer": {"id": _account_id(n), "name": _NAMES[(n * 7919) % len(_NAMES)][0]},
            "item": {
                "asin": asin,
                "seller_id": self.sellers[seller],
                "title": title,
                "quantity": 1,
                "price": {"amount": price, "currency": currency},
            },
            "ship_to": {"country": "US", "postal_code": f"{int(r() * 10**5):05d}"},
        }


def _write_with_plants(
    path: Path, count: int, planted: list[tuple[str, bytes]], make: Callable[[int], dict[str, Any]], rng: random.Random
) -> dict[str, int]:
    """`count` records, the planted ones (lines, ending in LF) at random rows among those `make` makes; returns
    planted key -> row."""
    if len(planted) > count:
        raise ValueError(f"{path.name}: {count} rows cannot hold the {len(planted)} planted records")
    positions = sorted(rng.sample(range(count), len(planted)))
    rng.shuffle(planted)
    at = dict(zip(positions, planted, strict=True))
    rows: dict[str, int] = {}
    dumps = orjson.dumps
    with _open_out(path) as out:
        for start in range(0, count, _BATCH):
            lines = []
            for i in range(start, min(start + _BATCH, count)):
                plant = at.get(i)
                if plant is None:
                    lines.append(dumps(make(i)))
                    lines.append(b"\n")
                else:
                    rows[plant[0]] = i + 1
                    lines.append(plant[1])
            out.write(b"".join(lines))
    return rows


def write_scale_dataset(
    directory: Path,
    *,
    reviews: int,
    payments: int,
    messages: int,
    accounts: int,
    orders: int = 0,
    chains: int = 1000,
    seed: int = 0,
) -> Manifest:
    """The finder benchmark's data: reviews and payments (and orders, when `orders` > 0) as JSON Lines, accounts and
    messages as ES NDJSON, each file exactly as many rows as asked, with `chains` review-for-refund chains planted
    (built as the case dataset's are) and max(1, chains // 50) traps of each kind (three outside_window each time;
    returned_order and cancelled_order only when there are orders). Streamed: only the planted records and tables
    of sellers and products are held. The manifest gives review_id and txn_ids as well as rows."""
    if chains < 1:
        raise ValueError("the scale dataset needs at least one chain (the traps are built beside chains)")
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    seller_count = max(20, min(5000, accounts // 20))
    bad = max(5, min(seller_count // 4, chains // 10))
    case = _Case(rng, _scale_sellers(seller_count, bad), id_base=3 * 10**9, with_orders=orders > 0)
    case.plant_chains(chains)
    case.plant_traps(max(1, chains // 50))
    noise = _ScaleNoise(rng, base=case.people + 1, people=max(100, reviews // 4), sellers=seller_count)
    dumps = orjson.dumps
    names = {"reviews": "reviews.jsonl", "payments": "payments.jsonl", "messages": "messages.ndjson"}
    names |= {"accounts": "accounts.ndjson", "orders": "orders.jsonl"}
    # Each line a bytes of its own size (orjson's own are allocated a kilobyte or two larger).
    planted = {
        "reviews": [(r.id, dumps(r.json_record()) + b"\n") for r in case.reviews],
        "payments": [(p.txn, dumps(p.json_record()) + b"\n") for p in case.payments],
        "messages": [(key, dumps(hit) + b"\n") for key, hit in case.messages],
        "accounts": [(key, dumps(hit) + b"\n") for key, hit in case.accounts],
        "orders": [(key, dumps(record) + b"\n") for key, record in case.orders],
    }
    naive_txns = {p.txn for p in case.payments if p.naive}
    del case.reviews[:], case.payments[:], case.messages[:], case.accounts[:], case.orders[:]
    counts = {"reviews": reviews, "payments": payments, "messages": messages, "accounts": accounts, "orders": orders}
    for role, count in counts.items():
        if len(planted[role]) > count:
            raise ValueError(f"{role}: {count} rows cannot hold the {len(planted[role])} planted records")
    makers: dict[str, Callable[[int], dict[str, Any]]] = {
        "reviews": noise.review,
        "payments": noise.payment,
        "messages": noise.message,
        "accounts": noise.account,
        "orders": noise.order,
    }
    rows = {
        role: _write_with_plants(directory / names[role], counts[role], planted[role], makers[role], rng)
        for role in ROLES
        if counts[role]
    }
    rows.setdefault("orders", {})
    naive = sorted(rows["payments"][txn] for txn in naive_txns)
    files = [
        _lines_file(names["accounts"], "accounts", "Click-farm accounts", "es", ACCOUNTS_ES_MAPPING, accounts),
        _lines_file(names["reviews"], "reviews", "Marketplace reviews", "jsonl", REVIEWS_JSONL_MAPPING, reviews),
        _lines_file(names["payments"], "payments", "Payments", "jsonl", PAYMENTS_JSONL_MAPPING, payments, naive),
        _lines_file(names["messages"], "messages", "Click-farm chats", "es", MESSAGES_ES_MAPPING, messages),
    ]
    if orders:
        files.append(_lines_file(names["orders"], "orders", "Orders", "jsonl", ORDERS_JSONL_MAPPING, orders))
    manifest = _manifest("scale", seed, files, case.plants_in_manifest(rows), None)
    (directory / "manifest.json").write_bytes(manifest.to_json())
    return manifest
