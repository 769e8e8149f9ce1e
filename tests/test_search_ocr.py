"""Words read by OCR from the corpus's pictures are found by search, by their members only."""

import pytest

from tests.test_search import found
from tests.text_support import wait_text

pytestmark = pytest.mark.slow


def _upload(actor, case_id: str, demo_file, title: str) -> dict:
    """The picture under a title of no words it holds, so a hit can only come from its text."""
    r = actor.upload(case_id, demo_file.path.read_bytes(), demo_file.path.name, kind=demo_file.kind, title=title)
    assert r.status_code == 201, r.text
    item = wait_text(actor, r.json()["id"])
    assert (item["text_status"], item["ocr_pages"]) == ("done", 1), item.get("text_error")
    return item


def test_screenshot_and_insert_card_words_are_found(alice, bob, corpus, ocr_on):
    case = alice.make_case()
    review = next(f for f in corpus if f.kind == "review_screenshot")
    card = next(f for f in corpus if f.kind == "product_insert_card")
    shot = _upload(alice, case["id"], review, "Exhibit photo 1")
    photo = _upload(alice, case["id"], card, "Exhibit photo 2")

    reviewer = review.facts["reviewer_name"]
    [hit] = found(alice, f'"{reviewer}"', case_id=case["id"])
    assert (hit["evidence_id"], hit["field"], hit["page"], hit["type"]) == (shot["id"], "text", 1, "evidence")
    assert f"<mark>{reviewer}</mark>" in hit["snippet"]

    hits = found(alice, '"5-STAR review" refund PayPal', case_id=case["id"])
    assert [(h["evidence_id"], h["field"]) for h in hits] == [(photo["id"], "text")], hits
    assert "<mark>5</mark>-<mark>STAR review</mark>" in hits[0]["snippet"]
    assert {h["evidence_id"] for h in found(alice, "verified purchas*", case_id=case["id"])} == {
        shot["id"],
        photo["id"],
    }
    assert [h["evidence_id"] for h in found(alice, "helpful NOT refund", case_id=case["id"])] == [shot["id"]]

    # Bob is in none of Alice's cases: her pictures' words find nothing for him.
    bob.make_case()
    assert found(bob, f'"{reviewer}"') == [] and found(bob, '"5-STAR review"') == []
