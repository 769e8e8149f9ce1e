"""Deterministic synthetic fake-review evidence set for demos, tests and benchmarks.

One generator, read top to bottom: the seller's campaign, then each kind of evidence it leaves (screenshots,
insert cards, refund PDFs, chat exports, the payment CSV, the message dump) and the manifest of facts in each.
It is long because the kinds share one random stream and one cast of people: split apart, every piece would need
the whole story passed to it, and the bytes it makes (which tests and benchmarks rely on) would be harder to keep
the same."""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import string
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
START = datetime(2021, 1, 4, 8, 0, tzinfo=UTC)
SPAN_DAYS = 170
EXHIBIT_KINDS = ("review_screenshot", "product_insert_card", "refund_record", "chat_log", "email")
SUBDIRS = {
    "review_screenshot": "reviews",
    "product_insert_card": "inserts",
    "refund_record": "refunds",
    "chat_log": "chats",
    "email": "emails",
}
BRANDS = ("Velkora", "Tranquoy", "Ambrisk", "Dulcett", "Orvanta", "Pexwell", "Zumiro")
PRODUCTS = (
    "Bluetooth Headphones",
    "USB-C Charger 65W",
    "Laser Measure 40m",
    "Camping Lantern",
    "Milk Frother",
    "Wireless Earbuds",
    "Power Bank 20000mAh",
    "Posture Corrector",
)
FIRST_NAMES = ("Emily", "James", "Priya", "Carlos", "Mei", "Olivia", "Noah", "Fatima", "Liam", "Sofia", "Wei")
LAST_NAMES = ("Smith", "Johnson", "Patel", "Garcia", "Chen", "Brown", "Nguyen", "Khan", "Miller", "Lopez")
CUSTODIANS = (
    "Plaintiff investigator J. Rivera",
    "Paralegal M. Okafor",
    "Test buyer A. Lindqvist",
    "Forensic examiner D. Haddad",
)
REVIEW_TITLES = ("Five stars!", "Exactly what I needed", "Highly recommend", "Game changer", "Love it")
PRAISE = (
    "Absolutely love it, works perfectly out of the box.",
    "Best purchase this year.",
    "Great quality for the price, highly recommend.",
    "Battery lasts forever and it feels premium.",
    "Exceeded my expectations, will buy again.",
    "Fast shipping and excellent build quality.",
)
CHAT_FILLER = (
    ("Is it the black one or the white one?", "Either is fine."),
    ("Package still not here.", "Tracking says tomorrow."),
    ("Can my sister also do this?", "Yes, send me her PayPal too."),
    ("Do I need photos in the review?", "Photos help, 2-3 please."),
    ("Should I mention the refund?", "No! Never mention the refund or the card."),
    ("How long is the review supposed to be?", "A few sentences, sound natural."),
)
ALNUM = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class DemoFile:
    path: Path
    kind: str
    title: str
    description: str
    occurred_at: datetime | None  # None for bulk exports: their records carry their own dates
    custodian: str
    source_url: str | None
    tags: list[str]
    facts: dict


@cache
def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Return DejaVu Sans at size, or Pillow's built-in font when DejaVu is not installed."""
    try:
        return ImageFont.truetype(str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)
    except OSError:
        return ImageFont.load_default(size=size)


def random_moment(rng: random.Random, max_days: int = SPAN_DAYS) -> datetime:
    """Return a whole-second UTC moment between START and START + max_days."""
    return START + timedelta(days=rng.randint(0, max_days - 1), seconds=rng.randint(0, 86399))


def random_code(rng: random.Random, length: int) -> str:
    """Return an uppercase alphanumeric code."""
    return "".join(rng.choices(ALNUM, k=length))


def random_case(rng: random.Random, index: int) -> dict:
    """Return the people, product and order that one exhibit is about."""
    first, last, brand = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice(BRANDS)
    return {
        "brand": brand,
        "product": rng.choice(PRODUCTS),
        "asin": "B0" + random_code(rng, 8),
        "reviewer": f"{first} {last}",
        "reviewer_email": f"{first}.{last}{index}@mail.example".lower(),
        "seller_email": f"deals@{brand.lower()}-store.example",
        "order_id": f"{rng.randint(100, 999)}-{rng.randint(10**6, 10**7 - 1)}-{rng.randint(10**6, 10**7 - 1)}",
        "when": random_moment(rng, SPAN_DAYS - 20),
        "custodian": rng.choice(CUSTODIANS),
    }


def write_review_png(path: Path, c: dict, rng: random.Random) -> DemoFile:
    """Draw a marketplace review screenshot."""
    title, text = rng.choice(REVIEW_TITLES), " ".join(rng.sample(PRAISE, 2))
    im = Image.new("RGB", (1280, 640), "white")
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 1280, 70], fill=(35, 47, 62))
    d.text((30, 18), "marketplace.example  |  Customer reviews", font=load_font(28, True), fill="white")
    d.text((40, 105), f"{c['brand']} {c['product']}", font=load_font(30, True), fill=(17, 17, 17))
    d.text((40, 155), f"ASIN: {c['asin']}", font=load_font(20), fill=(86, 89, 89))
    d.line([40, 200, 1240, 200], fill=(221, 221, 221), width=2)
    d.ellipse([40, 220, 100, 280], fill=(200, 200, 200))
    d.text((59, 232), c["reviewer"][0], font=load_font(30, True), fill="white")
    d.text((120, 235), c["reviewer"], font=load_font(24), fill=(17, 17, 17))
    for i in range(5):
        x = 45 + i * 40
        d.polygon(
            [
                (x + 15, 300),
                (x + 20, 315),
                (x + 35, 315),
                (x + 23, 325),
                (x + 28, 340),
                (x + 15, 331),
                (x + 2, 340),
                (x + 7, 325),
                (x - 5, 315),
                (x + 10, 315),
            ],
            fill=(255, 164, 28),
        )
    d.text((255, 305), title, font=load_font(24, True), fill=(17, 17, 17))
    reviewed_on = f"Reviewed in the United States on {c['when']:%B} {c['when'].day}, {c['when'].year}"
    d.text((40, 360), reviewed_on, font=load_font(20), fill=(86, 89, 89))
    d.text((40, 395), "Verified Purchase", font=load_font(20, True), fill=(196, 85, 0))
    lines = textwrap.wrap(text, 80)
    for n, line in enumerate(lines):
        d.text((40, 450 + 34 * n), line, font=load_font(22), fill=(17, 17, 17))
    y = 470 + 34 * len(lines)
    d.text((40, y), f"{rng.randint(2, 300)} people found this helpful", font=load_font(20), fill=(86, 89, 89))
    d.rounded_rectangle([40, y + 45, 150, y + 85], radius=8, outline=(136, 136, 136), width=2)
    d.text((62, y + 53), "Helpful", font=load_font(20), fill=(17, 17, 17))
    d.text((175, y + 53), "|   Report", font=load_font(20), fill=(86, 89, 89))
    im.save(path, format="PNG")
    review_id = "R" + random_code(rng, 13)
    return DemoFile(
        path,
        "review_screenshot",
        f"5-star review by {c['reviewer']} ({c['asin']})",
        f"Screenshot of a verified-purchase 5-star review of the {c['brand']} {c['product']}.",
        c["when"],
        c["custodian"],
        f"https://marketplace.example/review/{review_id}",
        ["review", "5-star", c["brand"].lower()],
        {
            "marketplace": "marketplace.example",
            "asin": c["asin"],
            "product": c["product"],
            "brand": c["brand"],
            "reviewer_name": c["reviewer"],
            "rating": 5,
            "review_title": title,
            "review_text": text,
            "review_date": c["when"].date().isoformat(),
            "verified_purchase": True,
            "order_id": c["order_id"],
        },
    )


def write_insert_jpg(path: Path, c: dict, rng: random.Random, sideways: bool) -> DemoFile:
    """Draw a phone photo of a product insert card offering money for a 5-star review."""
    amount = rng.choice([20, 25, 50, 100])
    im = Image.new("RGB", (1600, 1100), (rng.randint(170, 210),) * 3)
    d = ImageDraw.Draw(im)
    d.rectangle([220, 160, 1380, 940], fill=(250, 248, 240), outline=(120, 120, 120), width=4)
    d.text((300, 220), "THANK YOU FOR YOUR PURCHASE!", font=load_font(48, True), fill=(20, 60, 140))
    lines = [
        f"Love your new {c['brand']} {c['product']}?",
        "",
        f"Leave us a 5-STAR review and get a ${amount} gift card!",
        "Send a screenshot of your review with your order number to",
        f"    {c['seller_email']}",
        "and we will refund you via PayPal within 7 days.",
        "",
        "*Offer valid for verified purchases only.",
    ]
    for n, line in enumerate(lines):
        d.text((300, 340 + 62 * n), line, font=load_font(34), fill=(30, 30, 30))
    offer = " ".join(line.strip() for line in lines[2:6])
    im = im.rotate(rng.uniform(-4, 4), resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90))
    im = im.filter(ImageFilter.GaussianBlur(0.8))
    noise = Image.frombytes("L", im.size, rng.randbytes(im.width * im.height)).convert("RGB")
    im = Image.blend(im, noise, 0.08)
    exif = Image.Exif()
    if sideways:
        im = im.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    im.save(path, format="JPEG", quality=85, exif=exif.tobytes())
    return DemoFile(
        path,
        "product_insert_card",
        f"Insert card: ${amount} for a 5-star review ({c['brand']})",
        f"Photo of the card packed with {'an' if c['brand'][0] in 'AEIOU' else 'a'} {c['brand']} {c['product']}, "
        "offering a refund for a 5-star review." + (" Photographed with the phone held sideways." if sideways else ""),
        c["when"],
        c["custodian"],
        None,
        ["insert-card", "incentive", c["brand"].lower()],
        {
            "brand": c["brand"],
            "product": c["product"],
            "incentive_amount": amount,
            "currency": "USD",
            "contact": c["seller_email"],
            "offer_text": offer,
            "asin": c["asin"],
        },
    )


def html_document(title: str, created: datetime, body: str) -> str:
    """Wrap body in a self-contained HTML page with fixed PDF metadata dates."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta name='dcterms.created' content='{stamp}'><meta name='dcterms.modified' content='{stamp}'>"
        "<style>@page{size:A4;margin:18mm}body{font-family:'DejaVu Sans',sans-serif;font-size:10pt}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:4px 6px;"
        "text-align:left}*{font-weight:normal}h1{color:#003087}b{color:#003087}</style></head>"
        f"<body>{body}</body></html>"
    )


def write_pdf(path: Path, document: str, created: datetime) -> None:
    """Render HTML to PDF with WeasyPrint, pinning fontTools' subset-font timestamp to created."""
    from weasyprint import HTML

    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = previous or str(int(created.timestamp()))
    try:
        HTML(string=document).write_pdf(path)
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]


def refund_note(order_id: str) -> str:
    """Return the payment note the seller attaches to a review refund."""
    return f"Refund order {order_id} - thanks for the review!"


def write_refund_pdf(path: Path, c: dict, rng: random.Random) -> DemoFile:
    """Render a PayPal-style refund receipt of one to three pages."""
    txn, amount = random_code(rng, 17), round(rng.uniform(15, 90), 2)
    note = refund_note(c["order_id"])
    rows = [
        ("Transaction ID", txn),
        ("Date", c["when"].strftime("%b %d, %Y %H:%M:%S UTC")),
        ("Type", "Payment Refund"),
        ("Status", "Completed"),
        ("From", c["seller_email"]),
        ("To", f"{c['reviewer']} ({c['reviewer_email']})"),
        ("Amount", f"${amount:.2f} USD"),
        ("Note", note),
    ]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    history = "".join(
        f"<p>{(c['when'] - timedelta(hours=5 * k)):%Y-%m-%d %H:%M} &middot; Payment Refund &middot; "
        f"{random_code(rng, 17)} &middot; -${rng.uniform(10, 90):.2f} USD</p>"
        for k in range(1, rng.choice([0, 30, 75]) + 1)
    )
    body = (
        f"<h1>PayPal</h1><h2>You sent a refund</h2><p>Refund issued to {html.escape(c['reviewer'])}</p>"
        f"<table>{table}</table>" + (f"<h3>Recent account activity</h3>{history}" if history else "")
    )
    write_pdf(path, html_document(f"Refund {txn}", c["when"], body), c["when"])
    return DemoFile(
        path,
        "refund_record",
        f"PayPal refund ${amount:.2f} to {c['reviewer']} ({txn})",
        f"Refund receipt from {c['seller_email']} for order {c['order_id']}.",
        c["when"],
        c["custodian"],
        None,
        ["refund", "paypal", c["brand"].lower()],
        {
            "processor": "PayPal",
            "transaction_id": txn,
            "amount": amount,
            "currency": "USD",
            "payer": c["seller_email"],
            "payee": c["reviewer_email"],
            "refund_date": c["when"].date().isoformat(),
            "order_id": c["order_id"],
        },
    )


def write_chat_pdf(path: Path, c: dict, rng: random.Random) -> DemoFile:
    """Render a multi-page chat export between seller and reviewer."""
    platform, seller = rng.choice(["WhatsApp", "Telegram", "Facebook Messenger"]), f"{c['brand']} Store"
    opening = [
        ("seller", f"Hi! Want a free {c['product']}? Buy it, leave 5 stars, we refund everything."),
        ("reviewer", "Sounds good, how does it work?"),
        ("seller", f"Search ASIN {c['asin']} and buy."),
        ("reviewer", f"Ordered, order id {c['order_id']}"),
        ("seller", "Please wait 5 days before reviewing."),
    ]
    closing = [
        ("reviewer", "Review posted, screenshot attached."),
        ("seller", "Great! Your PayPal email?"),
        ("reviewer", c["reviewer_email"]),
        ("seller", "Refund sent, thanks for the review!"),
    ]
    filler = [rng.choice(CHAT_FILLER) for _ in range(rng.randint(15, 40))]
    script = (
        opening
        + [(role, text) for pair in filler for role, text in zip(("reviewer", "seller"), pair, strict=True)]
        + closing
    )
    moment, messages = c["when"], []
    for role, text in script:
        moment += timedelta(minutes=rng.randint(1, 90), seconds=rng.randint(0, 59))
        messages.append((moment, seller if role == "seller" else c["reviewer"], text))
    body = f"<h1>{html.escape(platform)} chat export</h1><p>{html.escape(seller)} and {html.escape(c['reviewer'])}</p>"
    body += "".join(
        f"<p><b>{t:%Y-%m-%d %H:%M} {html.escape(who)}:</b> {html.escape(text)}</p>" for t, who, text in messages
    )
    write_pdf(path, html_document(f"{platform} chat export", messages[0][0], body), messages[0][0])
    return DemoFile(
        path,
        "chat_log",
        f"{platform} chat: {seller} and {c['reviewer']} ({len(messages)} messages)",
        f"Exported chat arranging a refunded 5-star review of the {c['brand']} {c['product']}.",
        messages[0][0],
        c["custodian"],
        None,
        ["chat", platform.lower(), c["brand"].lower()],
        {
            "platform": platform,
            "participants": [seller, c["reviewer"]],
            "first_message_at": messages[0][0].isoformat(),
            "last_message_at": messages[-1][0].isoformat(),
            "message_count": len(messages),
            "order_id": c["order_id"],
        },
    )


def write_email(path: Path, c: dict, rng: random.Random) -> DemoFile:
    """Write an RFC 5322 email from the seller offering a refund for a 5-star review."""
    sender = formataddr((f"{c['brand']} Customer Care", c["seller_email"]))
    recipient = formataddr((c["reviewer"], c["reviewer_email"]))
    subject = f"Full refund for a 5-star review - order {c['order_id']}"
    message_id = f"<{random_code(rng, 20).lower()}@{c['seller_email'].split('@')[1]}>"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    msg["Date"], msg["Message-ID"] = format_datetime(c["when"]), message_id
    offer = (
        f"Thank you for buying the {c['brand']} {c['product']} (ASIN {c['asin']}). If you leave a 5-star "
        "review and reply with a screenshot, we will refund the full price to your PayPal within 48 hours."
    )
    msg.set_content(
        f"Hi {c['reviewer'].split()[0]},\n\n{textwrap.fill(offer, 72)}\n\nBest regards,\n{c['brand']} Customer Care\n"
    )
    path.write_bytes(msg.as_bytes(policy=SMTP))
    return DemoFile(
        path,
        "email",
        f"Email: {subject}",
        f"Seller email to {c['reviewer']} offering a refund in exchange for a 5-star review.",
        c["when"],
        c["custodian"],
        None,
        ["email", "incentive", c["brand"].lower()],
        {
            "sender": sender,
            "recipients": [recipient],
            "subject": subject,
            "sent_at": c["when"].isoformat(),
            "message_id": message_id,
        },
    )


def write_activity_csv(path: Path, refunds: list[tuple[DemoFile, dict]], records: int, rng: random.Random) -> DemoFile:
    """Write a PayPal activity export that includes the exhibit refunds among random ones."""
    rows = [
        (
            _dated(f),
            c["reviewer"],
            "Payment Refund",
            f.facts["amount"],
            f.facts["payer"],
            f.facts["payee"],
            f.facts["transaction_id"],
            f"{c['brand']} {c['product']}",
            refund_note(c["order_id"]),
        )
        for f, c in refunds
    ][:records]
    for k in range(records - len(rows)):
        brand, name = rng.choice(BRANDS), f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rows.append(
            (
                random_moment(rng),
                name,
                "Payment Refund" if k % 3 else "General Payment",
                round(rng.uniform(10, 90), 2),
                f"deals@{brand.lower()}-store.example",
                f"user{k}@mail.example",
                random_code(rng, 17),
                f"{brand} {rng.choice(PRODUCTS)}",
                "review reward" if k % 4 == 0 else "",
            )
        )
    rows.sort(key=lambda row: (row[0], row[6]))
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "Date",
                "Time",
                "TimeZone",
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
                "Item Title",
                "Note",
            ]
        )
        for t, name, kind, amount, payer, payee, txn, item, note in rows:
            writer.writerow(
                [
                    f"{t:%m/%d/%Y}",
                    f"{t:%H:%M:%S}",
                    "UTC",
                    name,
                    kind,
                    "Completed",
                    "USD",
                    f"-{amount:.2f}",
                    "0.00",
                    f"-{amount:.2f}",
                    payer,
                    payee,
                    txn,
                    item,
                    note,
                ]
            )
    return DemoFile(
        path,
        "refund_record",
        f"PayPal activity export ({records} transactions)",
        "Payment-processor activity export of seller refunds and payments" + _span([row[0] for row in rows]),
        None,  # an export is not an event: dated, it would put "Refund issued" on the chronology
        CUSTODIANS[0],
        None,
        ["paypal", "export", "bulk"],
        {"processor": "PayPal"},
    )


def _dated(f: DemoFile) -> datetime:
    """When an exhibit happened, for one that is dated (a refund is)."""
    if f.occurred_at is None:
        raise ValueError(f"{f.title} has no date")
    return f.occurred_at


def _span(moments: list[datetime]) -> str:
    """For a description of records in time order: ", January 8, 2021 to June 30, 2021."; "." without any."""
    if not moments:
        return "."
    first, last = moments[0], moments[-1]
    return f", {first:%B} {first.day}, {first.year} to {last:%B} {last.day}, {last.year}."


def write_exchanges_jsonl(path: Path, records: int, rng: random.Random) -> DemoFile:
    """Write a leaked seller/reviewer message dump, one JSON object per line."""
    lines = []
    for k in range(records):
        brand = rng.choice(BRANDS)
        lines.append(
            {
                "timestamp": random_moment(rng).isoformat(),
                "seller": brand,
                "seller_email": f"deals@{brand.lower()}-store.example",
                "reviewer_email": f"user{k}@mail.example",
                "channel": rng.choice(["email", "chat"]),
                "asin": "B0" + random_code(rng, 8),
                "message": rng.choice(
                    [
                        "Here is the product link",
                        "5-star review done, screenshot attached",
                        "Send PayPal refund please",
                        "Refund sent, thanks for the review",
                    ]
                ),
            }
        )
    lines.sort(key=lambda line: (line["timestamp"], line["reviewer_email"]))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    dates = [datetime.fromisoformat(line["timestamp"]) for line in lines]
    return DemoFile(
        path,
        "chat_log",
        f"Leaked seller/reviewer message dump ({records} messages)",
        "Database export of messages between sellers and paid reviewers" + _span(dates),
        None,  # its messages carry their own dates
        CUSTODIANS[3],
        None,
        ["leak", "messages", "bulk"],
        {"platform": "leaked database export", "message_count": records},
    )


def generate(
    out_dir: Path,
    *,
    exhibits: int = 24,
    records: int = 300,
    seed: int = 7,
    kinds: tuple[str, ...] = EXHIBIT_KINDS,
    record_files: bool = True,
) -> list[DemoFile]:
    """Write a deterministic demo evidence set under out_dir and return one DemoFile per file, in a stable order.

    `kinds` is the cycle of exhibit kinds; `record_files` adds the payment CSV and the message dump at the end.
    """
    out_dir = Path(out_dir).resolve()
    for sub in (*SUBDIRS.values(), "records"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    files: list[DemoFile] = []
    refunds: list[tuple[DemoFile, dict]] = []
    for index in range(exhibits):
        rng = random.Random(f"casebinder-demo:{seed}:{index}")
        kind, case = kinds[index % len(kinds)], random_case(rng, index)
        stem = SUBDIRS[kind].rstrip("s")
        ext = {"review_screenshot": "png", "product_insert_card": "jpg", "email": "eml"}.get(kind, "pdf")
        path = out_dir / SUBDIRS[kind] / f"{stem}_{index:04d}.{ext}"
        if kind == "review_screenshot":
            files.append(write_review_png(path, case, rng))
        elif kind == "product_insert_card":
            files.append(write_insert_jpg(path, case, rng, sideways=index % 3 == 1))
        elif kind == "refund_record":
            files.append(write_refund_pdf(path, case, rng))
            refunds.append((files[-1], case))
        elif kind == "chat_log":
            files.append(write_chat_pdf(path, case, rng))
        else:
            files.append(write_email(path, case, rng))
    if not record_files:
        return files
    files.append(
        write_activity_csv(
            out_dir / "records" / "paypal_activity.csv",
            refunds,
            records,
            random.Random(f"casebinder-demo:{seed}:paypal"),
        )
    )
    files.append(
        write_exchanges_jsonl(
            out_dir / "records" / "exchanges.jsonl", records, random.Random(f"casebinder-demo:{seed}:exchanges")
        )
    )
    return files


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write a deterministic demo evidence set.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--exhibits", type=int, default=24)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    written = generate(args.out_dir, exhibits=args.exhibits, records=args.records, seed=args.seed)
    counts = {kind: sum(f.kind == kind for f in written) for kind in dict.fromkeys(f.kind for f in written)}
    print(f"{len(written)} files ({', '.join(f'{n} {k}' for k, n in counts.items())}) -> {args.out_dir}")
