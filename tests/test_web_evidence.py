"""The evidence page: what a member sees of an item, what an editor may change, and what each look costs in custody."""

import io
import re
import uuid

import pikepdf
from PIL import Image

from tests.helpers import add_member, events, page_texts
from tests.web_support import sign_in

HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script> مراجعة 五星'


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _screenshot(owner, case_id: str, **fields) -> dict:
    data = {"kind": "review_screenshot", "title": HOSTILE, "tags": "review,5-star"} | fields
    response = owner.post(
        f"/api/v1/cases/{case_id}/evidence", files={"file": (f"{uuid.uuid4().hex}.png", _png())}, data=data
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_page_shows_the_item_its_hash_facts_and_custody(app, make_user):
    owner = make_user()
    case = owner.make_case(timezone="America/Los_Angeles")
    item = _screenshot(owner, case["id"], facts='{"reviewer_name": "Noah Johnson", "rating": 5}')
    browser = sign_in(app, owner.email)
    html = browser.get(f"/evidence/{item['id']}?case={case['id']}").text
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert item["sha256"] in html
    assert "PX-001" in html and "Noah Johnson" in html
    assert f'src="/evidence/{item["id"]}/original?inline=true"' in html
    viewed = events("evidence.preview", evidence_id=uuid.UUID(item["id"]))
    assert viewed and viewed[-1].details == {"mode": "image"}
    # The next look shows the first one in the trail.
    again = browser.get(f"/evidence/{item['id']}?case={case['id']}").text
    assert "Previewed" in again
    browser.close()


def test_the_original_downloads_unchanged_and_each_download_is_recorded(app, make_user):
    owner = make_user()
    case = owner.make_case()
    item = _screenshot(owner, case["id"])
    browser = sign_in(app, owner.email)
    response = browser.get(f"/evidence/{item['id']}/original")
    assert response.status_code == 200
    assert response.content == _png()
    assert response.headers["content-disposition"].startswith("attachment;")
    inline = browser.get(f"/evidence/{item['id']}/original?inline=true")
    assert inline.headers["content-disposition"] == "inline"
    assert inline.headers["content-type"] == "image/png"
    recorded = events("evidence.download", evidence_id=uuid.UUID(item["id"]))
    assert [e.details["via"] for e in recorded] == ["web"]
    browser.close()


def test_an_svg_or_html_original_is_never_shown_inline(app, make_user):
    owner = make_user()
    case = owner.make_case()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = owner.upload(case["id"], svg, "evil.svg", kind="other", title="An SVG")
    evidence_id = response.json()["id"]
    browser = sign_in(app, owner.email)
    page = browser.get(f"/evidence/{evidence_id}").text
    assert "original?inline=true" not in page
    served = browser.get(f"/evidence/{evidence_id}/original?inline=true")
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "default-src 'none'" in served.headers["content-security-policy"]
    browser.close()


def test_an_editor_changes_details_and_facts_as_the_api_would(app, make_user):
    owner = make_user()
    case = owner.make_case(timezone="Europe/Berlin")
    item = _screenshot(owner, case["id"])
    browser = sign_in(app, owner.email)
    saved = browser.post(
        f"/evidence/{item['id']}/details?case={case['id']}",
        {
            "title": "Five stars, paid for",
            "kind": "review_screenshot",
            "occurred_at": "2021-03-04T14:05",
            "tags": "paid, refund",
            "description": "שלום",
            "source_url": "",
            "custodian": "",
            "captured_at": "",
        },
    )
    assert saved.status_code == 303, saved.text
    facts = browser.post(
        f"/evidence/{item['id']}/facts?case={case['id']}",
        {
            "fact_rating": "5",
            "fact_verified_purchase": "yes",
            "fact_reviewer_name": "Mei Khan",
            "fact_review_date": "2021-03-04",
        },
    )
    assert facts.status_code == 303, facts.text
    now = owner.get(f"/api/v1/evidence/{item['id']}").json()
    assert now["title"] == "Five stars, paid for" and now["tags"] == ["paid", "refund"]
    assert now["occurred_at"].startswith("2021-03-04T13:05")  # 14:05 in Berlin
    assert now["facts"] == {
        "rating": 5,
        "verified_purchase": True,
        "reviewer_name": "Mei Khan",
        "review_date": "2021-03-04",
    }


def test_a_refused_fact_says_why_and_changes_nothing(app, make_user):
    owner = make_user()
    case = owner.make_case()
    item = _screenshot(owner, case["id"], facts='{"rating": 4}')
    browser = sign_in(app, owner.email)
    refused = browser.post(f"/evidence/{item['id']}/facts", {"fact_rating": "9"})
    assert refused.status_code == 422
    assert "rating" in refused.text and "less than or equal to 5" in refused.text
    assert owner.get(f"/api/v1/evidence/{item['id']}").json()["facts"] == {"rating": 4}
    browser.close()


def test_a_viewer_sees_no_edit_forms_and_cannot_force_them(app, make_user):
    owner, viewer = make_user(), make_user()
    case = owner.make_case()
    add_member(owner, case["id"], viewer, "viewer")
    item = _screenshot(owner, case["id"])
    browser = sign_in(app, viewer.email)
    html = browser.get(f"/evidence/{item['id']}").text
    assert "Edit details" not in html and "Edit facts" not in html
    assert browser.post(f"/evidence/{item['id']}/details", {"title": "x", "kind": "other"}).status_code == 403
    assert browser.post(f"/evidence/{item['id']}/facts", {"fact_rating": "1"}).status_code == 403
    assert owner.get(f"/api/v1/evidence/{item['id']}").json()["title"] == HOSTILE
    browser.close()


def test_a_non_member_gets_404_and_deleted_evidence_says_so(app, make_user):
    owner, stranger = make_user(), make_user()
    case = owner.make_case()
    item = _screenshot(owner, case["id"])
    outsider = sign_in(app, stranger.email)
    for path in ("", "/original", "/custody.pdf"):
        assert outsider.get(f"/evidence/{item['id']}{path}").status_code == 404
    assert outsider.get("/evidence/not-an-id").status_code == 404
    outsider.close()
    loose = owner.upload(case["id"], b"loose bytes", "loose.txt").json()
    owner.delete(f"/api/v1/evidence/{loose['id']}", params={"reason": "uploaded by mistake"})
    browser = sign_in(app, owner.email)
    gone = browser.get(f"/evidence/{loose['id']}")
    assert gone.status_code == 410 and "deleted" in gone.text.lower()
    browser.close()


def test_the_custody_pdf_is_the_apis_report(app, make_user):
    owner = make_user()
    case = owner.make_case(title="Acme Audio v. Mpow Direct")
    item = _screenshot(owner, case["id"])
    browser = sign_in(app, owner.email)
    response = browser.get(f"/evidence/{item['id']}/custody.pdf?case={case['id']}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(response.content)) as pdf:
        assert len(pdf.pages) >= 1
    text = " ".join(page_texts(response.content))
    assert item["sha256"][:16] in re.sub(r"\s", "", text)
    recorded = events("evidence.custody", evidence_id=uuid.UUID(item["id"]))
    assert recorded[-1].details["format"] == "pdf"
    browser.close()
