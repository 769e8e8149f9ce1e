"""Bundles: real PDFs built from real uploads, opened with pikepdf and read back."""

import hashlib

import pikepdf
import pytest

from api.bundle.stamp import stamp_font  # noqa: F401 - fails early if the stamp font is missing
from tests.helpers import build, download, extract, new_actor, wait_done

pytestmark = pytest.mark.slow


@pytest.fixture
def bundle_case(alice, corpus):
    return _case_with_evidence(alice, corpus)


@pytest.fixture(scope="module")
def refusing_case(client, corpus):
    """The same case, owned by a user of its own, shared by the tests of requests refused without a change."""
    owner = new_actor(client)
    return owner, _case_with_evidence(owner, corpus)[0]


def _case_with_evidence(alice, corpus):
    """A case with a screenshot, an insert card, a refund PDF, a chat PDF, an e-mail and the CSV export."""
    case = alice.make_case(
        bates_prefix="ACME",
        court="C.D. Cal.",
        docket_number="2:21-cv-04417",
        parties=[{"name": "Acme Audio LLC", "role": "plaintiff"}],
    )
    wanted = ["review_screenshot", "product_insert_card", "refund_record", "chat_log", "email"]
    items = []
    for kind in wanted:
        f = next(f for f in corpus if f.kind == kind)
        items.append(
            alice.upload(
                case["id"],
                f.path.read_bytes(),
                filename=f.path.name,
                kind=kind,
                title=f.title,
                occurred_at=f.occurred_at.isoformat(),
            ).json()
        )
    csv_file = next(f for f in corpus if f.path.suffix == ".csv")
    items.append(
        alice.upload(
            case["id"],
            csv_file.path.read_bytes(),
            filename=csv_file.path.name,
            kind="refund_record",
            title="PayPal activity export",
        ).json()
    )
    return case, items


def test_bundle_pages_bates_labels_outline_links_and_certificate(alice, bundle_case):
    case, items = bundle_case
    base = f"/api/v1/cases/{case['id']}/exhibits"
    alice.patch(f"{base}/{items[1]['exhibit']['id']}", json={"designation": "confidential"})
    bundle = build(alice, case["id"], title="Plaintiff's Trial Exhibits")
    data = download(alice, bundle)
    assert hashlib.sha256(data).hexdigest() == bundle["sha256"] and len(data) == bundle["size_bytes"]
    total = bundle["page_count"]
    assert (bundle["bates_first"], bundle["bates_last"]) == ("ACME000001", f"ACME{total:06d}")

    texts = extract(data)
    assert len(texts) == total
    for number, text in enumerate(texts, 1):  # every page: its Bates number, in sequence, and "Page N of M"
        assert f"ACME{number:06d}" in text, (number, text[-200:])
        assert f"Page {number} of {total}" in text
    assert "Plaintiff's Trial Exhibits" in texts[0] and "2:21-cv-04417" in texts[0] and "Acme Audio LLC" in texts[0]
    assert "Index of Exhibits" in texts[1]

    placed = {e["label"]: e for e in bundle["exhibits"]}
    assert list(placed) == [i["exhibit"]["label"] for i in items]
    with pikepdf.open(__import__("io").BytesIO(data)) as pdf:
        assert pdf.Root.PageMode == pikepdf.Name.UseOutlines
        assert not pdf.is_encrypted
        assert [pdf.pages[i].label for i in range(total)] == [f"ACME{n:06d}" for n in range(1, total + 1)]
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
            targets = [item.destination[0] for item in outline.root]
        # Cover and index, one bookmark per exhibit, then the certificate's two sections.
        assert titles[:2] == ["Cover", "Index of Exhibits"]
        assert titles[2:-2] == [f"{i['exhibit']['label']} \u2014 {i['title']}" for i in items]
        assert titles[-2:] == [
            "Hash Certificate of Exhibits",
            "Certification of Records (Fed. R. Evid. 902(11), 902(14))",
        ]
        page_numbers = {p.obj.objgen: n for n, p in enumerate(pdf.pages, 1)}
        pages_of = [page_numbers[t.objgen] for t in targets]
        assert pages_of[:2] == [1, 2]
        assert pages_of[2:-2] == [placed[i["exhibit"]["label"]]["start_page"] for i in items]
        assert "HASH CERTIFICATE" in texts[pages_of[-2] - 1].upper() and pages_of[-1] >= pages_of[-2]
        links = [page_numbers[a.Dest[0].objgen] for a in pdf.pages[1].obj.Annots if a.Subtype == pikepdf.Name.Link]
        # Links from each exhibit's row (label and title) to its first page, and from the certificate's rows.
        assert sorted(set(links)) == sorted({e["start_page"] for e in placed.values()} | set(pages_of[-2:]))

    for label, exhibit in placed.items():
        first = exhibit["start_page"]
        assert f"EXHIBIT {label}" in texts[first - 1]  # the slip sheet
        assert texts[first - 1].count("ACME") >= 1
        assert exhibit["bates_first"] == f"ACME{first:06d}"
        assert exhibit["bates_last"] == f"ACME{first + exhibit['page_count'] - 1:06d}"
    confidential = placed[items[1]["exhibit"]["label"]]
    for number in range(confidential["start_page"], confidential["start_page"] + confidential["page_count"]):
        assert "CONFIDENTIAL" in texts[number - 1]
    # The cover and index carry the legend of the most restricted exhibit inside.
    assert all("CONFIDENTIAL" in t for t in texts[:2])
    certificate = "\n".join(texts[-3:])
    assert "902(14)" in certificate and "902(11)" in certificate
    for item in items:
        assert item["sha256"] in certificate.replace("\n", "")
        assert placed[item["exhibit"]["label"]]["evidence_sha256"] == item["sha256"]
    assert bundle["validation"]["ok"] is True and bundle["validation"]["forbidden_objects"] == []
    assert bundle["validation"]["pages_without_text"]  # the screenshot and insert card pages are images


def test_rebuild_is_byte_identical_and_next_bundle_continues_the_bates_numbers(alice, bundle_case):
    case, items = bundle_case
    first = build(alice, case["id"], exhibit_ids=[items[0]["exhibit"]["id"], items[2]["exhibit"]["id"]])
    original = download(alice, first)
    r = alice.post(f"/api/v1/bundles/{first['id']}/rebuild")
    assert r.status_code == 202
    again = wait_done(alice, first["id"])
    assert again["status"] == "done" and again["sha256"] == first["sha256"]
    assert download(alice, again) == original
    second = build(alice, case["id"], exhibit_ids=[items[3]["exhibit"]["id"]])
    last = int(first["bates_last"].removeprefix("ACME"))
    assert second["bates_first"] == f"ACME{last + 1:06d}"
    listed = alice.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"]
    assert [b["id"] for b in listed] == [first["id"], second["id"]]


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"exhibit_ids": []}, "exhibit_ids"),
        ({"exhibit_ids": ["00000000-0000-0000-0000-000000000000"]}, "not in this case"),
        ({"bates_prefix": "acme"}, "bates_prefix"),
        ({"bates_prefix": "ACME1"}, "bates_prefix"),
        ({"bates_prefix": "AC ME"}, "bates_prefix"),
        ({"bates_digits": 3}, "bates_digits"),
        ({"bates_digits": 13}, "bates_digits"),
        ({"bates_start": 0}, "bates_start"),
        ({"legend": "SECRET"}, "legend"),
    ],
)
def test_bad_bundle_requests_get_422(refusing_case, body, needle):
    alice, case = refusing_case
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json=body)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])


def test_empty_case_and_outsiders(alice, bob, bundle_case):
    empty = alice.make_case()
    r = alice.post(f"/api/v1/cases/{empty['id']}/bundles", json={})
    assert r.status_code == 422 and "no exhibits" in r.json()["detail"]
    case, items = bundle_case
    bundle = build(alice, case["id"], exhibit_ids=[items[0]["exhibit"]["id"]])
    for path in ("", "/pdf", "/volumes/1/pdf"):
        assert bob.get(f"/api/v1/bundles/{bundle['id']}{path}").status_code == 404
    assert bob.post(f"/api/v1/bundles/{bundle['id']}/rebuild").status_code == 404
    assert bob.post(f"/api/v1/cases/{case['id']}/bundles", json={}).status_code == 404
    foreign = bob.make_case()
    bobs = bob.upload(foreign["id"], b"bob's file").json()
    r = alice.post(f"/api/v1/cases/{case['id']}/bundles", json={"exhibit_ids": [bobs["exhibit"]["id"]]})
    assert r.status_code == 422


def test_timeline_cites_the_bates_numbers_of_the_newest_bundle(alice, bundle_case):
    case, items = bundle_case
    timeline = f"/api/v1/cases/{case['id']}/timeline"
    before = alice.get(timeline).json()["items"]
    assert before and all(e["citation"]["bates"] is None for e in before if e.get("citation"))
    bundle = build(alice, case["id"])

    def content(e: dict) -> str:
        """An exhibit's own pages, after its slip sheet; one number for one page."""
        first = f"ACME{int(e['bates_first'][4:]) + e['first_content_page'] - e['start_page']:06d}"
        return first if first == e["bates_last"] else f"{first}-{e['bates_last']}"

    ranges = {e["label"]: content(e) for e in bundle["exhibits"]}
    assert any("-" in cite for cite in ranges.values()) and any("-" not in cite for cite in ranges.values())
    cited = [e["citation"] for e in alice.get(timeline).json()["items"] if e.get("citation")]
    assert cited
    for citation in cited:
        assert citation["bates"] == ranges[citation["exhibit_label"]]
