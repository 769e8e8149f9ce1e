"""Front matter a court reads first: the legend of what is inside, withheld titles, type sizes, whole hashes, ranges
that read one way, and who produced the file."""

import io
import re

import pikepdf
import pytest

from api.config import Settings, get_settings
from tests.helpers import build, download, wait_done
from tests.pdf_reading import page_texts, text_sizes

pytestmark = [pytest.mark.slow, pytest.mark.engine]

AEO = "CONFIDENTIAL - ATTORNEYS' EYES ONLY"
SECRET_TITLE = "Margin analysis of the Mpow Direct supplier contract"
SECRET_FILE = "mpow-supplier-margins.txt"


def _case(alice, prefix: str = "FTC-RC"):
    case = alice.make_case(title="Acme Audio LLC v. Mpow Direct", bates_prefix=prefix, timezone="America/Los_Angeles")
    base = f"/api/v1/cases/{case['id']}/exhibits"
    uploads = [
        ("review.txt", "5-star review by Priya Brown", "none"),
        (SECRET_FILE, SECRET_TITLE, "attorneys_eyes_only"),
        ("refund.txt", "Refund of $42.10 to Noah Smith", "confidential"),
    ]
    items = []
    for filename, title, designation in uploads:
        r = alice.upload(case["id"], f"{title}\n".encode() * 80, filename=filename, title=title, custodian="Jane Roe")
        assert r.status_code == 201, r.text
        item = r.json()
        if designation != "none":
            patched = alice.patch(f"{base}/{item['exhibit']['id']}", json={"designation": designation})
            assert patched.status_code == 200, patched.text
        items.append(item)
    return case, items


def _front_pages(data: bytes) -> tuple[list[int], list[int], list[int]]:
    """Page numbers (1-based) of the cover, the index and the certificate, from the bookmarks."""
    with pikepdf.open(io.BytesIO(data)) as pdf, pdf.open_outline() as outline:
        pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages, 1)}
        marks = [(item.title, pages[item.destination[0].objgen]) for item in outline.root]
        total = len(pdf.pages)
    starts = {title: page for title, page in marks}
    index_end = marks[2][1] - 1  # the first exhibit's bookmark follows the index's
    hashes = starts["Hash Certificate of Exhibits"]
    return (
        list(range(1, starts["Index of Exhibits"])),
        list(range(starts["Index of Exhibits"], index_end + 1)),
        list(range(hashes, total + 1)),
    )


def _body(text: str) -> str:
    """A page's text above its stamps: pdftotext puts the bottom band's Bates number and legend last."""
    return text.rsplit("Page ", 1)[0]


def test_front_matter_carries_the_most_restrictive_legend_inside(alice):
    case, items = _case(alice)
    bundle = build(alice, case["id"])
    data = download(alice, bundle)
    texts = page_texts(data)
    cover, index, certificate = _front_pages(data)
    for number in cover + index + certificate:
        assert AEO in texts[number - 1], number  # in the stamp band of every page
    for number in (cover[0], index[0], certificate[0]):
        assert AEO in _body(texts[number - 1]), number  # and at the head of each part
    assert "contains material designated CONFIDENTIAL - ATTORNEYS' EYES ONLY" in " ".join(texts[0].split())
    placed = {e["label"]: e for e in bundle["exhibits"]}
    review, secret, refund = (placed[i["exhibit"]["label"]] for i in items)
    assert AEO not in texts[review["start_page"] - 1]  # exhibits keep their own legend, or none
    assert "CONFIDENTIAL" in texts[refund["start_page"] - 1] and AEO not in texts[refund["start_page"] - 1]
    assert AEO in texts[secret["start_page"] - 1]
    assert SECRET_TITLE in " ".join(" ".join(texts[n - 1] for n in index).split())  # not withheld unless asked

    # A bundle legend adds to a designation, never lowers it; the front carries the stricter of the two.
    lowered = build(alice, case["id"], legend="CONFIDENTIAL")
    texts = page_texts(download(alice, lowered))
    placed = {e["label"]: e for e in lowered["exhibits"]}
    assert AEO in texts[placed[items[1]["exhibit"]["label"]]["start_page"] - 1] and AEO in texts[0]
    assert "CONFIDENTIAL" in texts[placed[items[0]["exhibit"]["label"]]["start_page"] - 1]


def test_redact_titles_of_withholds_titles_from_the_public_parts_and_rebuilds_keep_it(alice):
    case, items = _case(alice)
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"redact_titles_of": ["ftc"]})
    assert r.status_code == 422 and "redact_titles_of" in r.text
    bundle = build(alice, case["id"], redact_titles_of=["aeo"])
    assert bundle["params"]["redact_titles_of"] == ["aeo"]
    data = download(alice, bundle)
    texts = page_texts(data)
    cover, index, certificate = _front_pages(data)
    placed = {e["label"]: e for e in bundle["exhibits"]}
    secret = placed[items[1]["exhibit"]["label"]]
    public = [texts[n - 1] for n in cover + index + certificate] + [texts[secret["start_page"] - 1]]
    flat = " ".join(" ".join(public).split())
    assert "Title withheld (Attorneys' Eyes Only)" in flat
    assert SECRET_TITLE not in flat and "Margin analysis" not in flat and "mpow-supplier" not in flat
    assert "Refund of $42.10 to Noah Smith" in flat  # confidential titles stay: only aeo was asked
    # The exhibit's own pages are the sealed material itself, and stay as they are.
    assert "Margin analysis" in texts[secret["first_content_page"] - 1]
    with pikepdf.open(io.BytesIO(data)) as pdf, pdf.open_outline() as outline:
        marks = [item.title for item in outline.root]
    assert f"{secret['label']} \u2014 Title withheld (Attorneys' Eyes Only)" in marks
    assert not any("Margin" in mark for mark in marks)

    again = alice.post(f"/api/v1/bundles/{bundle['id']}/rebuild")
    assert again.status_code == 202
    rebuilt = wait_done(alice, bundle["id"])
    assert rebuilt["sha256"] == bundle["sha256"] and rebuilt["params"]["redact_titles_of"] == ["aeo"]

    # Withholding confidential titles withholds the more restrictive ones too.
    wider = build(alice, case["id"], redact_titles_of=["confidential"])
    texts = page_texts(download(alice, wider))
    flat = " ".join(" ".join(texts).split())
    assert "Title withheld (Confidential)" in flat and "Title withheld (Attorneys' Eyes Only)" in flat


def test_front_matter_is_set_at_ten_points_or_more(alice):
    case, _ = _case(alice)
    bundle = build(alice, case["id"])
    data = download(alice, bundle)
    cover, index, certificate = _front_pages(data)
    sizes = text_sizes(data, cover + index + certificate)
    assert all(size >= 10 - 0.01 for size in sizes.values()), sizes


def test_the_certificate_holds_each_sha256_whole_in_its_text_layer(alice):
    case, items = _case(alice)
    data = download(alice, build(alice, case["id"]))
    _, _, certificate = _front_pages(data)
    texts = page_texts(data)
    text = "\n".join(texts[n - 1] for n in certificate)
    for item in items:
        assert re.search(rf"\b{item['sha256']}\b", text), item["sha256"]  # whole, on one line
    with pikepdf.open(io.BytesIO(data)) as pdf:  # and as pikepdf's content parser reads the strings back
        assert all(item["sha256"] in _shown(pdf, certificate[0]) for item in items)


def _shown(pdf: pikepdf.Pdf, number: int) -> str:
    """Hex digits the page's text strings spell out through the ToUnicode maps of their fonts."""
    import pypdf

    out = io.BytesIO()
    single = pikepdf.new()
    single.pages.append(pdf.pages[number - 1])
    single.save(out)
    return pypdf.PdfReader(io.BytesIO(out.getvalue())).pages[0].extract_text()


def test_ranges_read_with_to_and_match_the_chronology_and_the_index_explains_itself(alice):
    case, items = _case(alice)
    for item in items:
        r = alice.post(
            f"/api/v1/cases/{case['id']}/events",
            json={"occurred_at": "2021-03-05", "title": f"Event of {item['title']}", "evidence_id": item["id"]},
        )
        assert r.status_code == 201, r.text
    bundle = build(alice, case["id"])
    texts = page_texts(download(alice, bundle))
    index = " ".join(" ".join(texts[1 : bundle["exhibits"][0]["start_page"] - 1]).split())
    assert "covers its own pages, from the first page after its slip sheet" in index
    assert "as the summary chronology cites them" in index and "volume:page" not in index
    timeline = alice.get(f"/api/v1/cases/{case['id']}/timeline").json()["items"]
    cites = {e["citation"]["exhibit_label"]: e["citation"]["bates"] for e in timeline}
    chronology = " ".join(" ".join(page_texts(alice.get(f"/api/v1/cases/{case['id']}/timeline.pdf").content)).split())
    for placed in bundle["exhibits"]:
        content = f"FTC-RC{int(placed['bates_first'].removeprefix('FTC-RC')) + 1:06d}"  # after the slip sheet
        assert content != placed["bates_last"]  # each exhibit takes two pages or more: a range
        expected = f"{content} to {placed['bates_last']}"
        assert expected in index and expected in chronology, (expected, index)
        assert cites[placed["label"]] == f"{content}-{placed['bates_last']}"  # the API's cite keeps its form
        assert f"{content}-FTC" not in index and f"{content}-FTC" not in chronology


def test_the_index_of_a_bundle_in_volumes_explains_volume_page(alice, corpus):
    case = alice.make_case(bates_prefix="VOL")
    for f in [f for f in corpus if f.kind in ("product_insert_card", "review_screenshot")][:4]:
        alice.upload(case["id"], f.path.read_bytes(), filename=f.path.name, kind=f.kind, title=f.title)
    bundle = build(alice, case["id"], max_volume_mb=0.5)
    assert len(bundle["volumes"]) >= 2
    last = bundle["exhibits"][-1]
    assert last["volume"] >= 2
    texts = page_texts(download(alice, bundle, 1))
    index = " ".join(" ".join(texts[1 : bundle["exhibits"][0]["start_page"] - 1]).split())
    assert "Page numbers read volume:page, so 2:6 is page 6 of Volume 2" in index
    in_volume = last["start_page"] - sum(v["page_count"] for v in bundle["volumes"][: last["volume"] - 1])
    assert f" {last['volume']}:{in_volume}" in index


def test_the_pdf_author_is_the_producer_not_the_case(alice, monkeypatch):
    case, _ = _case(alice)
    data = download(alice, build(alice, case["id"]))
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.docinfo.Author) == get_settings().producer_name == "casebinder"
        assert "Mpow" not in str(pdf.docinfo.Author) and "Mpow" in str(pdf.docinfo.Title)
        assert "FTC-RC000001 to FTC-RC" in str(pdf.docinfo.Title)
    monkeypatch.setenv("CASEBINDER_PRODUCER_NAME", "Roe & Partners LLP")
    assert Settings().producer_name == "Roe & Partners LLP"
