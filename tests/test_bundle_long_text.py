"""Text of any length reaches the bundle engine safely: the index and slip sheets show its start and an ellipsis
(a title is cut to a few lines), generated pages show a bounded part of it, and the build takes no longer than for an
ordinary title."""

import io
import uuid

import pikepdf
from sqlalchemy import update

from api.bundle import lines
from api.db import session_scope
from models.case import Case
from models.evidence import EvidenceItem
from tests.test_bundles import build, download, extract, page_texts

MEGABYTE = 1_000_000
ELLIPSIS = "\u2026"


def _set(evidence_id: str, **values) -> None:
    with session_scope() as session:
        session.execute(update(EvidenceItem).where(EvidenceItem.id == uuid.UUID(evidence_id)).values(**values))


def test_a_megabyte_title_builds_and_the_index_shows_its_start_and_an_ellipsis(alice):
    case = alice.make_case(bates_prefix="LONG")
    first = alice.upload(case["id"], b"the long one\n", filename="long.txt", title="placeholder").json()
    alice.upload(case["id"], b"an ordinary one\n", filename="short.txt", title="Refund e-mail").json()
    # Straight into the database: the API refuses titles this long.
    _set(first["id"], title="Screenshot of the seller's review page " + "x" * MEGABYTE)

    bundle = build(alice, case["id"], title="Long Titles")
    data = download(alice, bundle)
    texts = page_texts(data)
    index = texts[1]
    assert "Index of Exhibits" in index
    assert "Screenshot of the seller's review page" in index and ELLIPSIS in index
    assert "Refund e-mail" in index
    placed = {e["label"]: e for e in bundle["exhibits"]}
    slip = texts[placed[first["exhibit"]["label"]]["start_page"] - 1]
    assert f"EXHIBIT {first['exhibit']['label']}" in slip
    assert "Screenshot of the seller's review page" in slip and ELLIPSIS in slip
    assert "x" * 5000 not in "".join(texts)
    with pikepdf.open(io.BytesIO(data)) as pdf, pdf.open_outline() as outline:
        marks = [item.title for item in outline.root]
    mark = next(m for m in marks if "Screenshot" in m)
    assert mark.endswith(ELLIPSIS) and len(mark) <= lines.MAX_SHOWN + 20
    assert len(data) < MEGABYTE  # the title's megabyte is nowhere in the file


def test_long_unbroken_strings_on_generated_pages_are_shown_cut(alice):
    """A Greek title of a megabyte (its slip sheet), a file name and a custodian of 100,000
    characters without a space (the certificate's table, a native file's placeholder page), an e-mail header as long
    (its record page) and a party's name as long (the cover)."""
    case = alice.make_case(bates_prefix="WIDE")
    with session_scope() as session:
        party = {"name": "Acme " + "Y" * 100_000, "role": "plaintiff"}  # the title column holds 500 at most
        session.execute(update(Case).where(Case.id == uuid.UUID(case["id"])).values(parties=[party]))
    foreign = alice.upload(case["id"], b"chat\n", filename="chat.txt", title="placeholder").json()
    native = alice.upload(case["id"], b"\x00\x01binary", filename="capture.bin", title="Raw capture").json()
    _set(foreign["id"], title="\u03a3\u03c5\u03bd\u03bf\u03bc\u03b9\u03bb\u03af\u03b1 " + "\u03a3" * MEGABYTE)
    _set(native["id"], original_filename="n" * 100_000 + ".bin", custodian="c" * 100_000)
    mail = b"From: seller@acme.example\r\nTo: " + b"r" * 100_000 + b"@buyer.example\r\nSubject: Refund\r\n\r\nHello\r\n"
    email = alice.upload(case["id"], mail, filename="refund.eml", title="Refund offer", kind="email").json()

    bundle = build(alice, case["id"], title="Generated Pages")
    texts = extract(download(alice, bundle))
    placed = {e["label"]: e for e in bundle["exhibits"]}
    slip = texts[placed[foreign["exhibit"]["label"]]["start_page"] - 1]
    assert "\u03a3\u03c5\u03bd\u03bf\u03bc\u03b9\u03bb\u03af\u03b1" in slip and ELLIPSIS in slip
    message = "".join(
        texts[placed[email["exhibit"]["label"]]["start_page"] : placed[email["exhibit"]["label"]]["start_page"] + 2]
    )
    assert "rrrrrrrr" in message and "Headers longer than 2,000 characters (To) are shortened here" in message
    first = next(n for n, t in enumerate(texts) if "stored unaltered" in t)
    certificate = "".join(texts[first:]).replace("\n", "")
    # Each cut where it ends, after the lines of its cell (the custodian's run on to the next page).
    assert "n" * 50 + ELLIPSIS in certificate and "c" * 50 + ELLIPSIS in certificate
    assert "Acme" in texts[0] and "Y" * 50 in texts[0] and texts[0].count("Y") < 2 * lines.MAX_SHOWN
    assert sum(t.count("n") for t in texts) < 4 * lines.MAX_SHOWN  # the name is shown cut, wherever it appears
