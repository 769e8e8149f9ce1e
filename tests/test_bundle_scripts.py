"""Text in any script on every page a bundle, a chronology and a custody report print, read back the way a reader's
tools read it: pdffonts (every font embedded, as a subset), pdftotext (every character there, no '?', no U+FFFD),
and the content streams (no glyph drawn as .notdef)."""

import io
from email.message import EmailMessage

import pikepdf
import pytest

from tests.helpers import build, download
from tests.pdf_reading import embedded_font_bytes, fonts, holds, notdef_glyphs, page_texts, walk_text

pytestmark = [pytest.mark.slow, pytest.mark.engine]

# name: (text, exhibit label, whether glyphs run in the order of the characters). Each text has what its script
# needs shaped: Arabic letters that join, Hebrew, a Devanagari conjunct (क्ष) and a vowel sign drawn before its
# consonant (ि), Thai with vowel and tone marks above and below, Korean syllables, Japanese kana and kanji.
SCRIPTS = {
    "latin": ("Lettre de réclamation – Zoë Ångström, naïve façade", "PX-Ä1", True),
    "greek": ("Συνομιλία με τον πωλητή για την επιστροφή", "Α-1", True),
    "cyrillic": ("Переписка с продавцом о возврате денег", "Д-1", True),
    "chinese": ("卖家要求好评返现的聊天记录", "证据一", True),
    "japanese": ("レビュー依頼のメール（出品者より）", "甲第1号証", True),
    "korean": ("판매자가 보낸 리뷰 요청 메시지", "갑제1호증", True),
    "arabic": ("رسالة من البائع تطلب تقييما إيجابيا", "معرض ١", False),
    "hebrew": ("הודעה מהמוכר על החזר כספי", "מוצג 1", False),
    "devanagari": ("विक्रेता का संदेश और क्षमा याचना", "प्रदर्श 1", False),
    "thai": ("ข้อความจากผู้ขายเรื่องการคืนเงิน", "เอกสาร 1", False),
}
# The e-mail's From name and the custodian use other words of the same script, so each must come from its own place.
PEOPLE = {
    "latin": "Renée Dupré",
    "greek": "Γιώργος Παπαδόπουλος",
    "cyrillic": "Анна Иванова",
    "chinese": "王小明",
    "japanese": "山田花子",
    "korean": "김민준",
    "arabic": "محمد عبد الله",
    "hebrew": "דוד לוי",
    "devanagari": "अनुष्का शर्मा",
    "thai": "สมชาย ใจดี",
}


def _email(name: str, text: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"{PEOPLE[name]} <seller@shop.example>"
    message["To"] = "buyer@mail.example"
    message["Subject"] = text
    message["Date"] = "Thu, 04 Mar 2021 10:00:00 +0000"
    message.set_content(f"{text}\n\n{PEOPLE[name]}\n")  # UTF-8, as mail clients send it
    return bytes(message)


@pytest.fixture
def world_case(alice):
    """A case whose caption, exhibits (title, description, file name, custodian, e-mail, label) and events are each
    written in one of the scripts above."""
    case = alice.make_case(
        title="Acme Audio LLC v. 深圳市好评科技有限公司",
        bates_prefix="FTC-RC",
        court="United States District Court, C.D. Cal.",
        timezone="America/Los_Angeles",
        parties=[
            {"name": "Acme Audio LLC", "role": "plaintiff"},
            {"name": "深圳市好评科技有限公司", "role": "defendant"},
            {"name": "شركة النجوم الخمس", "role": "defendant"},
        ],
    )
    items = {}
    for name, (text, label, _) in SCRIPTS.items():
        r = alice.upload(
            case["id"],
            _email(name, text),
            filename=f"{text.split()[0]}.eml",
            kind="email",
            title=text,
            description=f"{text} ({PEOPLE[name]})",
            custodian=PEOPLE[name],
            occurred_at="2021-03-04T10:00:00Z",
        )
        assert r.status_code == 201, r.text
        item = r.json()
        r = alice.patch(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}", json={"label": label})
        assert r.status_code == 200, r.text
        r = alice.post(
            f"/api/v1/cases/{case['id']}/events",
            json={"occurred_at": "2021-03-05", "title": text, "description": PEOPLE[name], "evidence_id": item["id"]},
        )
        assert r.status_code == 201, r.text
        items[name] = item
    return case, items


def _clean(data: bytes, what: str) -> list[str]:
    """The pages' text, after checking the fonts (all embedded, all subsets) and that no glyph is .notdef."""
    listed = fonts(data)
    assert listed and all(f["emb"] == "yes" and f["sub"] == "yes" for f in listed), (what, listed)
    assert notdef_glyphs(data) == [], what
    texts = page_texts(data)
    for number, text in enumerate(texts, 1):
        assert "\ufffd" not in text and "?" not in text, (what, number, text)
    return texts


def _check(page: str, name: str, *texts: str, table: bool = False) -> None:
    """Each text on the page: in order where its script runs left to right, except in a table's cells, where a
    wrapped cell's lines come out of pdftotext between the other cells of its row; as its letters otherwise."""
    in_order = SCRIPTS[name][2] and not table
    for text in texts:
        assert holds(page, text, in_order=in_order), (name, text, page)


def test_every_script_on_every_page_of_the_bundle(alice, world_case):
    case, items = world_case
    bundle = build(alice, case["id"], title="Exhibits in every script")
    data = download(alice, bundle)
    texts = _clean(data, "bundle")
    placed = {e["label"]: e for e in bundle["exhibits"]}
    first_exhibit = min(e["start_page"] for e in placed.values())
    cover, index = texts[0], "\n".join(texts[1 : first_exhibit - 1])
    certificate = "\n".join(t for t in texts if "stored unaltered" in t)

    assert holds(cover, "深圳市好评科技有限公司", in_order=True)
    assert holds(cover, "شركة النجوم الخمس", in_order=False)
    for name, (text, label, _) in SCRIPTS.items():
        where = placed[label]
        slip, content = texts[where["start_page"] - 1], texts[where["first_content_page"] - 1]
        _check(index, name, text, label, table=True)
        _check(
            slip, name, f"EXHIBIT {label}" if SCRIPTS[name][2] else label, text, PEOPLE[name], f"{text.split()[0]}.eml"
        )
        _check(content, name, text, PEOPLE[name])  # the e-mail: subject, sender's name and body
        _check(content, name, label)  # the exhibit sticker, set in the label's own script
        for page in range(where["first_content_page"] + 1, where["start_page"] + where["page_count"]):
            _check(texts[page - 1], name, label)  # the label beside the Bates number
        _check(certificate, name, label, f"{text.split()[0]}.eml", PEOPLE[name], table=True)
    with pikepdf.open(io.BytesIO(data)) as pdf, pdf.open_outline() as outline:
        marks = [item.title for item in outline.root]
    for _name, (text, label, _) in SCRIPTS.items():
        assert f"{label} \u2014 {text}" in marks
    # Subsets only: the whole CJK face alone is over 15 MB; ten scripts' glyphs take a few hundred KB.
    assert embedded_font_bytes(data) < 1_500_000 and len(data) < 2_500_000


def test_the_chronology_and_the_custody_report_print_every_script(alice, world_case):
    case, items = world_case
    r = alice.get(f"/api/v1/cases/{case['id']}/timeline.pdf")
    assert r.status_code == 200, r.text
    chronology = "\n".join(_clean(r.content, "chronology"))
    assert holds(chronology, "深圳市好评科技有限公司", in_order=True)
    for name, (text, label, _) in SCRIPTS.items():
        _check(chronology, name, text, PEOPLE[name], label, table=True)

    for name, item in items.items():
        r = alice.get(f"/api/v1/evidence/{item['id']}/custody.pdf", params={"case_id": case["id"]})
        assert r.status_code == 200, r.text
        report = "\n".join(_clean(r.content, f"custody report ({name})"))
        text = SCRIPTS[name][0]
        _check(report, name, text, PEOPLE[name], f"{text.split()[0]}.eml", table=True)


def test_every_slip_sheet_has_one_layout_whatever_its_script(alice, world_case):
    """The heading, the title and the facts sit at the same places on every slip sheet, drawn or shaped."""
    case, _ = world_case
    bundle = build(alice, case["id"])
    data = download(alice, bundle)
    layouts = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for placed in bundle["exhibits"]:
            shown = [
                (round(size, 1), round(y, 1), text)
                for _, text, size, y in walk_text(pdf, pdf.pages[placed["start_page"] - 1])
            ]
            heading = [y for size, y, _ in shown if size == 34]
            title = [y for size, y, _ in shown if size == 15]
            names = [y for _, y, text in shown if text in (b"Kind", b"Date", b"Source", b"Custodian", b"SHA-256")]
            layouts[placed["label"]] = (heading[0], title[0], names)
    assert len(set(map(str, layouts.values()))) == 1, layouts  # one title line each: the same layout throughout
    heading, title, names = layouts[SCRIPTS["latin"][1]]
    assert (heading, title) == (560, 520) and len(names) == 5


def test_the_notdef_check_sees_a_character_no_face_has():
    """The check above is not vacuous: a character no installed face has is drawn as .notdef, and found."""
    from api.templating import render_pdf

    data = render_pdf("<p>Plane 16: \U0010fffd, and Thai: \u0e02\u0e49\u0e2d</p>")
    found = notdef_glyphs(data)
    assert len(found) == 1 and len(found[0][2]) == 1, found
