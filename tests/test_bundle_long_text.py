"""Text of any length reaches the bundle engine safely: the index and slip sheets show its start and an ellipsis,
generated pages show a bounded part of it, and the build takes no longer than for an ordinary title."""

import io
import uuid

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from api.bundle import index, lines, stamp
from api.db import session_scope
from models.case import Case
from models.evidence import EvidenceItem
from tests.helpers import build, download, extract, page_texts

pytestmark = [pytest.mark.slow, pytest.mark.engine]

MEGABYTE = 1_000_000
ELLIPSIS = "\u2026"
# The title column's width inside its padding, as index.py lays it out.
TITLE_WIDTH = index.COLUMNS[1][2] - 4


def width(text: str, size: float) -> float:
    return stamp.stamp_font().width(lines.plain(text), size)


def test_a_megabyte_of_text_wraps_and_fits_in_a_few_lines():
    shapes = {
        "one word": "x" * MEGABYTE,
        "short words": "word " * (MEGABYTE // 5),
        "long words": ("W" * 70 + " ") * (MEGABYTE // 71),
        "outside the font": "\u65e5" * MEGABYTE,
        "accents outside the font": "e\u0301" * (MEGABYTE // 2),
    }
    for name, text in shapes.items():
        cell = index._lines(text, TITLE_WIDTH + 4)
        assert len(cell) == index.MAX_LINES and cell[-1].endswith(ELLIPSIS), (name, cell)
        assert all(width(line, index.SIZE) <= TITLE_WIDTH for line in cell), name

        slip = lines.wrap(text, 15, 468, 4)
        assert len(slip) == 4 and slip[-1].endswith(ELLIPSIS), name
        assert all(width(line, 15) <= 468 for line in slip), name

        cut = lines.fit(text, 8, 100)
        assert cut.endswith(ELLIPSIS) and width(cut, 8) <= 100, name
        assert len(cut) < 100


# The line breaker as it was, measuring every candidate from scratch: the reference for ordinary text.
def _reference_wrap(text: str, size: float, width_: float, max_lines: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if width(candidate, size) <= width_ or not line:
            line = candidate
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    if len(out) > max_lines:
        out = out[:max_lines]
        out[-1] = _reference_fit(out[-1] + " " + ELLIPSIS, size, width_)
    return out


def _reference_fit(text: str, size: float, width_: float) -> str:
    if width(text, size) <= width_:
        return text
    while text and width(text + ELLIPSIS, size) > width_:
        text = text[:-1]
    return text + ELLIPSIS


def _reference_cell(text: str, width_: float) -> list[str]:
    out = []
    for line in _reference_wrap(text, index.SIZE, width_, 10_000):
        while width(line, index.SIZE) > width_ and len(line) > 1:
            cut = len(line)
            while cut > 1 and width(line[:cut], index.SIZE) > width_:
                cut -= 1
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    if len(out) > index.MAX_LINES:
        out = out[: index.MAX_LINES]
        out[-1] = _reference_fit(out[-1] + " " + ELLIPSIS, index.SIZE, width_)
    return out or [""]


words = st.text(alphabet="aiWm.-1\u00e9\u00c6$\u2026", min_size=1, max_size=40)
titles = st.lists(st.tuples(words, st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", " \u2003"])), max_size=40).map(
    lambda parts: "".join(w + s for w, s in parts)
)


@settings(max_examples=300, deadline=None)
@given(title=titles, column=st.sampled_from([c[2] - 4 for c in index.COLUMNS[:4]]))
def test_ordinary_titles_break_exactly_as_before(title, column):
    assert index._lines(title, column + 4) == _reference_cell(title, column)
    assert lines.fit(title, index.SIZE, column) == _reference_fit(title, index.SIZE, column)
    # A slip sheet's title: its words fit the line, so nothing is broken inside a word.
    short = " ".join(w[:20] for w in title.split())
    assert lines.wrap(short, 15, 468, 4) == _reference_wrap(short, 15, 468, 4)


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
    assert "rrrrrrrr" in message
    assert "headers longer than 2,000 characters (To) are cut short" in " ".join(message.split())
    first = next(n for n, t in enumerate(texts) if "stored unaltered" in t)
    certificate = "".join(texts[first:]).replace("\n", "")
    # Each cut where it ends, after the lines of its cell (the custodian's run on to the next page).
    assert "n" * 50 + ELLIPSIS in certificate and "c" * 50 + ELLIPSIS in certificate
    assert "Acme" in texts[0] and "Y" * 50 in texts[0] and texts[0].count("Y") < 2 * lines.MAX_SHOWN
    assert sum(t.count("n") for t in texts) < 4 * lines.MAX_SHOWN  # the name is shown cut, wherever it appears
