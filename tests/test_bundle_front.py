"""The bundle's cover, index, slip sheets, bookmarks, certificate and document info, read back from real PDFs."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pikepdf
import pytest

from tests.helpers import build, download, extract, page_texts

pytestmark = [pytest.mark.slow, pytest.mark.engine]

# Three lines in the index's title column: the order number that tells it from similar exhibits is on the last.
LONG_TITLE = (
    "Email from the seller's customer service team offering a full refund for a five-star review, "
    "sent to the buyer of order 165-3319284-2671262"
)


def _outline(data: bytes) -> list[tuple[str, int]]:
    """(title, 1-based page) of every top-level bookmark."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages, 1)}
        with pdf.open_outline() as outline:
            return [(item.title, pages[item.destination[0].objgen]) for item in outline.root]


def _pacific_case(alice) -> tuple[dict, list[dict]]:
    """Three text exhibits: a late-evening Pacific time (next day in UTC), a bare date, and no date at all."""
    case = alice.make_case(
        title="Acme Audio LLC v. Mpow Direct et al.",
        timezone="America/Los_Angeles",
        bates_prefix="ACME",
        court="United States District Court, C.D. Cal.",
        docket_number="2:21-cv-04417",
    )
    uploads = [
        ("review.txt", "5-star review by Priya Brown (B0IH62V3M6)", "2021-04-23T04:57:00Z"),
        ("insert.txt", "Insert card: $100 for a 5-star review (Ambrisk)", "2021-02-09"),
        ("email.txt", LONG_TITLE, None),
    ]
    items = []
    for name, title, occurred in uploads:
        fields = {"title": title, "kind": "email" if name == "email.txt" else "other"}
        if occurred:
            fields["occurred_at"] = occurred
        r = alice.upload(case["id"], f"{name}: {title}\n".encode(), filename=name, **fields)
        assert r.status_code == 201, r.text
        items.append(r.json())
    return case, items


def test_slip_sheet_gives_local_time_with_zone_and_utc_and_the_index_names_the_zone(alice):
    case, items = _pacific_case(alice)
    bundle = build(alice, case["id"], title="Plaintiff's Exhibits")
    texts = page_texts(download(alice, bundle))
    placed = {e["label"]: e for e in bundle["exhibits"]}
    review, insert, email = (placed[i["exhibit"]["label"]] for i in items)

    slip = texts[review["start_page"] - 1]
    assert "April 22, 2021, 9:57 PM PDT" in slip and "(April 23, 2021, 04:57 UTC)" in slip
    # A bare date stays a date: no time, no zone, no UTC, and no zero padding.
    slip = texts[insert["start_page"] - 1]
    assert "February 9, 2021" in slip and "February 09" not in slip and "UTC" not in slip and " AM " not in slip
    assert "Date" not in texts[email["start_page"] - 1]  # no date known: no Date line at all

    index = texts[1]
    assert "Index of Exhibits" in index
    assert "(Los Angeles)" in index and "America/Los_Angeles" in index
    assert "2021-04-22" in index and "2021-04-23" not in index  # the local date, under a heading naming the zone
    assert "2021-02-09" in index


def test_long_titles_wrap_in_the_index_instead_of_being_cut(alice):
    case, items = _pacific_case(alice)
    bundle = build(alice, case["id"])
    index = page_texts(download(alice, bundle))[1]
    assert "\u2026" not in index
    assert LONG_TITLE in index  # its lines, read back in order, make up the whole title
    for item in items:
        assert item["title"] in index


def test_index_page_numbers_stay_right_when_wrapped_rows_need_more_pages(alice):
    case = alice.make_case(bates_prefix="IDX")
    for n in range(40):
        title = f"{LONG_TITLE}, copy {n}"
        r = alice.upload(case["id"], f"exhibit {n}\n".encode(), filename=f"e{n}.txt", title=title)
        assert r.status_code == 201, r.text
    bundle = build(alice, case["id"])
    texts = page_texts(download(alice, bundle))
    index_pages = [n for n, text in enumerate(texts, 1) if "Index of Exhibits" in text]
    assert len(index_pages) >= 3 and index_pages == list(range(2, 2 + len(index_pages)))
    assert all("Index of Exhibits (continued)" in texts[n - 1] for n in index_pages[1:])
    assert "Index of Exhibits (continued)" not in texts[index_pages[0] - 1]
    index = " ".join(texts[n - 1] for n in index_pages)
    assert f"{LONG_TITLE}, copy 39" in index
    first = bundle["exhibits"][0]
    assert first["start_page"] == index_pages[-1] + 1  # the exhibits start right after the index
    for exhibit in bundle["exhibits"]:
        # Its own pages (after the slip sheet: a one-page text file gives one number), and where its slip sheet is.
        content = f"IDX{int(exhibit['bates_first'][3:]) + 1:06d}"
        assert content == exhibit["bates_last"]
        assert f"{content} {exhibit['start_page']}" in index
        assert f"EXHIBIT {exhibit['label']}" in texts[exhibit["start_page"] - 1]
    with pikepdf.open(io.BytesIO(download(alice, bundle))) as pdf:
        pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages, 1)}
        targets = sorted(
            {
                pages[annot.Dest[0].objgen]
                for n in index_pages
                for annot in pdf.pages[n - 1].obj.get("/Annots", [])
                if annot.Subtype == pikepdf.Name.Link
            }
        )
    certificate = [n for n, text in enumerate(extract(download(alice, bundle)), 1) if "stored unaltered" in text]
    assert targets == sorted([e["start_page"] for e in bundle["exhibits"]] + [certificate[0], bundle["page_count"]])


def test_outline_and_index_cover_the_front_pages_and_the_certificate(alice):
    case, items = _pacific_case(alice)
    bundle = build(alice, case["id"])
    data = download(alice, bundle)
    texts = extract(data)
    total = bundle["page_count"]
    marks = _outline(data)
    exhibits = [
        (f"{e['label']} \u2014 {i['title']}", e["start_page"]) for e, i in zip(bundle["exhibits"], items, strict=True)
    ]
    hash_page = next(n for n, text in enumerate(texts, 1) if "stored unaltered" in text)
    certification_page = next(n for n, text in enumerate(texts, 1) if "CERTIFICATION OF RECORDS" in text)
    assert certification_page == total and hash_page < certification_page
    assert marks == [
        ("Cover", 1),
        ("Index of Exhibits", 2),
        *exhibits,
        ("Hash Certificate of Exhibits", hash_page),
        ("Certification of Records (Fed. R. Evid. 902(11), 902(14))", certification_page),
    ]
    index = page_texts(data)[1]
    hash_last = certification_page - 1
    hashes = f"ACME{hash_page:06d}" + (f" to ACME{hash_last:06d}" if hash_last > hash_page else "")
    assert f"Hash Certificate of Exhibits {hashes} {hash_page}" in index
    assert f"902(14)) ACME{total:06d} {total}" in index


def test_certificate_prints_whole_hashes_and_one_period_after_the_court(alice):
    case, items = _pacific_case(alice)
    bundle = build(alice, case["id"])
    texts = extract(download(alice, bundle))
    certificate = "\n".join(text for text in texts[2:] if "Hash Certificate" in text or "CERTIFICATION" in text)
    lines = certificate.splitlines()
    for item in items:
        assert any(item["sha256"] in line for line in lines)  # whole, on one line
    assert "C.D. Cal." in certificate and "Cal.." not in certificate
    assert "FILES" not in [line.strip() for line in lines]


def test_certificate_sentence_gets_its_period_when_the_court_has_none(alice):
    case = alice.make_case(title="Acme v. Mpow", court="N.D. Ill", docket_number="1:22-cv-00001")
    alice.upload(case["id"], b"one\n", filename="one.txt", title="One")
    text = "\n".join(extract(download(alice, build(alice, case["id"]))))
    assert "N.D. Ill." in " ".join(text.split()) and "Ill.." not in text


def test_document_info_names_the_case_bates_range_and_local_creation_date(alice):
    case, _ = _pacific_case(alice)
    bundle = build(alice, case["id"], title="Plaintiff's Exhibits")
    data = download(alice, bundle)
    created = datetime.fromisoformat(bundle["created_at"].replace("Z", "+00:00")).astimezone(
        ZoneInfo("America/Los_Angeles")
    )
    offset = created.strftime("%z")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        info = {str(k): str(v) for k, v in pdf.docinfo.items()}
    assert info["/Title"] == (
        f"Acme Audio LLC v. Mpow Direct et al. \u2014 Plaintiff's Exhibits "
        f"({bundle['bates_first']} to {bundle['bates_last']})"
    )
    assert info["/Author"] == "casebinder"  # the producer (CASEBINDER_PRODUCER_NAME), not the case
    assert info["/Subject"] == "Case No. 2:21-cv-04417, United States District Court, C.D. Cal."
    assert info["/Creator"] == "casebinder"
    assert info["/CreationDate"] == created.strftime("D:%Y%m%d%H%M%S") + f"{offset[:3]}'{offset[3:]}'"
    assert info["/ModDate"] == info["/CreationDate"]
    cover = extract(data)[0]
    assert f"{created:%B} {created.day}, {created.year}" in cover  # the cover's date is the metadata's day
    assert bundle["volumes"][0]["filename"] == "ACME_Plaintiffs_Exhibits.pdf"


def test_each_volume_has_its_own_front_bookmarks_and_the_last_the_certificate(alice, corpus):
    case = alice.make_case(bates_prefix="VOL", title="Acme v. Mpow")
    inserts = [f for f in corpus if f.kind == "product_insert_card"][:2]
    reviews = [f for f in corpus if f.kind == "review_screenshot"][:2]
    for f in inserts + reviews:
        alice.upload(case["id"], f.path.read_bytes(), filename=f.path.name, kind=f.kind, title=f.title)
    bundle = build(alice, case["id"], max_volume_mb=0.5, title="Exhibits")
    volumes = bundle["volumes"]
    count = len(volumes)
    assert count >= 2
    for volume in volumes:
        number = volume["number"]
        data = download(alice, bundle, number)
        marks = _outline(data)
        assert marks[:2] == [(f"Cover, Volume {number} of {count}", 1), ("Index of Exhibits", 2)]
        closing = [title for title, _ in marks if "Certificat" in title]
        assert closing == (
            ["Hash Certificate of Exhibits", "Certification of Records (Fed. R. Evid. 902(11), 902(14))"]
            if number == count
            else []
        )
        with pikepdf.open(io.BytesIO(data)) as pdf:
            title = str(pdf.docinfo.Title)
        assert title == (
            f"Acme v. Mpow \u2014 Exhibits, Volume {number} of {count} "
            f"({volume['bates_first']} to {volume['bates_last']})"
        )
        index = page_texts(data)[1]
        assert "Hash Certificate of Exhibits" in index and f" {count}:" in index
