"""Full-text search across cases, through the API, on the suite's database (run on both legs: the same queries give
the same hits on SQLite and on PostgreSQL). Each test makes its own people, so only their own cases are searched,
and its own unlikely words, so nothing another test indexed can be found."""

import json
import uuid

import pytest

from tests.text_support import wait_text


def word() -> str:
    """A word no other test uses: letters only, so no stemming or tokenizing changes how it is found."""
    return "qz" + "".join("abcdefghijklmnop"[int(c, 16)] for c in uuid.uuid4().hex[:10])


def search(actor, q: str | None, **params):
    return actor.get("/api/v1/search", params={"q": q, **params} if q is not None else params)


def found(actor, q: str, **params) -> list[dict]:
    r = search(actor, q, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}, body  # no totals, ever
    return body["items"]


def every(actor, q: str, limit: int = 100, **params) -> list[dict]:
    """All hits, page by page, following next_cursor."""
    items, cursor = [], None
    while True:
        r = search(actor, q, limit=limit, **params | ({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def text_item(actor, case_id: str, text: str, name: str = "note.txt", **fields) -> dict:
    """An evidence item holding `text`, once its text has been read (decoded: no OCR needed)."""
    r = actor.upload(case_id, text.encode("utf-8"), name, **fields)
    assert r.status_code == 201, r.text
    item = wait_text(actor, r.json()["id"])
    assert item["text_status"] == "done", item
    return item


def event(actor, case_id: str, **body) -> dict:
    r = actor.post(f"/api/v1/cases/{case_id}/events", json={"occurred_at": "2021-03-04", **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_words_stems_phrases_prefixes_and_operators(alice):
    case, tag = alice.make_case(), word()
    first = text_item(alice, case["id"], f"The seller refunded {tag} after a five star review of the apple charger.")
    second = text_item(alice, case["id"], f"Refunds for {tag} were refused; the pear was never reviewed.", "b.txt")
    one, two = first["id"], second["id"]

    def ids(q: str) -> set[str]:
        return {hit["evidence_id"] for hit in found(alice, q)}

    [hit] = found(alice, f"{tag} apple")
    assert hit["type"] == "evidence" and hit["field"] == "text" and hit["page"] == 1 and hit["event_id"] is None
    assert hit["evidence_id"] == one and hit["exhibit_label"] == first["exhibit"]["label"]
    assert hit["case"] == {"id": case["id"], "title": case["title"]} and hit["kind"] == "other"
    assert hit["title"] == first["title"]
    assert f"<mark>{tag}</mark>" in hit["snippet"] and "<mark>apple</mark>" in hit["snippet"]
    assert ids(f"{tag} refund") == ids(f"{tag} REFUNDING") == ids(f"{tag} refunds") == {one, two}  # stems, any case
    assert ids(f'{tag} "five star"') == ids(f'{tag} "Five-Star review"') == {one}
    assert ids(f'{tag} "star five"') == set()
    assert ids(f"{tag} refun*") == ids(f"{tag} review*") == {one, two}
    assert ids(f"{tag} reviewe*") == {two}  # a prefix matches words as written: "reviewed", not "review"
    assert ids(f"{tag} apple OR {tag} pear") == ids(f"{tag} AND (apple OR pear)") == {one, two}
    assert ids(f"{tag} NOT pear") == ids(f"{tag} AND NOT pear") == {one}
    assert ids(f"{tag} NOT (apple OR pear)") == set()
    assert ids(f"{tag} near") == set()  # NEAR is a word here, and neither text has it
    hit = found(alice, f'{tag} "five star"')[0]
    assert "<mark>five star</mark>" in hit["snippet"]


def test_titles_descriptions_facts_and_events_are_found_and_kept_in_step(alice):
    case = alice.make_case()
    in_title, in_description, in_facts, in_event, later = (word() for _ in range(5))
    r = alice.upload(
        case["id"],
        b"order record",
        "order.txt",
        kind="review_screenshot",
        title=f"Review by {in_title}",
        description=f"Screenshot sent by {in_description}",
        facts=json.dumps({"reviewer_name": f"Dana {in_facts}", "rating": 5}),
        occurred_at="2021-03-04T10:00:00Z",
    )
    assert r.status_code == 201, r.text
    item = r.json()
    for term, field in ((in_title, "title"), (in_description, "description"), (in_facts, "facts")):
        hits = [h for h in found(alice, term) if h["type"] == "evidence"]
        assert [(h["evidence_id"], h["field"]) for h in hits] == [(item["id"], field)]
        assert f"<mark>{term}</mark>" in hits[0]["snippet"]
    # One item's title, description and facts are one text: words from two of them find it together.
    assert {h["evidence_id"] for h in found(alice, f"{in_title} {in_facts}", type="evidence")} == {item["id"]}

    # The item's derived timeline event states its facts ("5-star review by Dana ..."): found as an event.
    [derived] = found(alice, in_facts, type="event")
    assert derived["field"] == "event" and derived["evidence_id"] == item["id"] and derived["page"] is None
    assert derived["exhibit_label"] == item["exhibit"]["label"] and derived["kind"] == "review_posted"

    manual = event(alice, case["id"], title=f"Seller wrote to {in_event}", description="about a refund")
    [hit] = found(alice, f"{in_event} refunds")
    assert hit["type"] == "event" and hit["event_id"] == manual["id"] and hit["evidence_id"] is None
    assert hit["title"] == manual["title"] and hit["kind"] == "other" and hit["case"]["id"] == case["id"]

    # Edits replace what is indexed; a deleted event is gone.
    r = alice.patch(f"/api/v1/evidence/{item['id']}", json={"title": f"Review by {later}"})
    assert r.status_code == 200, r.text
    assert found(alice, in_title) == []
    assert [h["field"] for h in found(alice, later, type="evidence")] == ["title"]
    r = alice.patch(f"/api/v1/cases/{case['id']}/events/{manual['id']}", json={"title": f"Seller wrote {later}"})
    assert r.status_code == 200, r.text
    assert found(alice, in_event) == [] and [h["event_id"] for h in found(alice, later, type="event")] == [manual["id"]]
    assert alice.delete(f"/api/v1/cases/{case['id']}/events/{manual['id']}").status_code == 204
    assert found(alice, later, type="event") == []


def test_filters(alice, make_user):
    tag = word()
    one, two = alice.make_case(title="One v. Two"), alice.make_case(title="Three v. Four", timezone="Asia/Tokyo")
    refund = text_item(
        alice, one["id"], f"{tag} refund receipt", "r.txt", kind="refund_record", tags="paypal,refund",
        occurred_at="2021-03-31T23:30:00",
    )  # fmt: skip
    chat = text_item(alice, one["id"], f"{tag} chat log", "c.txt", kind="chat_log", captured_at="2021-04-02")
    other = text_item(alice, two["id"], f"{tag} chat in Tokyo", "t.txt", kind="chat_log", occurred_at="2021-04-01")
    march = event(alice, one["id"], occurred_at="2021-03", title=f"{tag} refunds paid", tags=["paypal"])

    def ids(**params) -> set[str]:
        return {h["event_id"] or h["evidence_id"] for h in every(alice, tag, **params)}

    everything = {refund["id"], chat["id"], other["id"], march["id"]}
    derived = {h["event_id"] for h in every(alice, tag, type="event")} - {march["id"]}
    assert ids(type="evidence") == {refund["id"], chat["id"], other["id"]}
    assert ids(type="event") == {march["id"]} | derived
    assert ids() == everything | derived
    assert ids(case_id=two["id"]) == {other["id"]} | {
        h["event_id"] for h in every(alice, tag, type="event") if h["case"]["id"] == two["id"]
    }
    assert ids(kind="refund_record", type="evidence") == {refund["id"]}
    assert ids(kind="chat_log,refund_record", type="evidence") == {refund["id"], chat["id"], other["id"]}
    assert ids(tag="paypal") == {refund["id"], march["id"]} | {
        h["event_id"] for h in every(alice, tag, type="event") if h["evidence_id"] == refund["id"]
    }
    # Dates: occurred_at, else captured_at, each in its own case's timezone; `to` takes its whole span.
    assert ids(type="evidence", **{"from": "2021-03", "to": "2021-03"}) == {refund["id"]}
    assert ids(type="evidence", **{"from": "2021-04-01", "to": "2021-04-02"}) == {chat["id"], other["id"]}
    assert ids(type="evidence", **{"from": "2021-04-02"}) == {chat["id"]}
    assert march["id"] in ids(type="event", **{"from": "2021-03-15", "to": "2021-03-16"})  # its month spans it
    assert march["id"] not in ids(type="event", **{"from": "2021-04"})
    # Designation: the exhibit's, in the hit's case.
    exhibit = refund["exhibit"]["id"]
    r = alice.patch(f"/api/v1/cases/{one['id']}/exhibits/{exhibit}", json={"designation": "confidential"})
    assert r.status_code == 200, r.text
    assert ids(designation="confidential", type="evidence") == {refund["id"]}
    assert ids(designation="none", type="evidence") == {chat["id"], other["id"]}
    # A filter that cannot be read is a 422 naming it; a case the caller is not in, a 404.
    for params, named in (
        ({"kind": "selfie"}, "kind"),
        ({"from": "March"}, "from"),
        ({"to": "2021-13"}, "to"),
        ({"from": "2021-05", "to": "2021-04"}, "to"),
        ({"designation": "secret"}, "designation"),
        ({"type": "bundle"}, "type"),
        ({"case_id": "not-a-uuid"}, "case_id"),
    ):
        r = search(alice, tag, **params)
        assert r.status_code == 422 and named in r.text, (params, r.text)
    stranger = make_user()
    assert search(stranger, tag, case_id=one["id"]).status_code == 404
    assert search(alice, tag, case_id=str(uuid.uuid4())).status_code == 404


def test_paging_with_cursors(alice):
    case, tag = alice.make_case(), word()
    made = {event(alice, case["id"], title=f"{tag} call number {n}")["id"] for n in range(23)}
    for limit in (1, 5, 23, 100):
        pages = every(alice, tag, limit=limit)
        assert [h["event_id"] for h in pages] == [h["event_id"] for h in every(alice, tag)]  # one stable order
        assert len(pages) == 23 and {h["event_id"] for h in pages} == made
    first = search(alice, tag, limit=5).json()
    assert len(first["items"]) == 5 and first["next_cursor"]
    # A cursor belongs to its search.
    r = search(alice, f"{tag} call", limit=5, cursor=first["next_cursor"])
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    assert search(alice, tag, cursor="garbage").status_code == 400
    assert search(alice, tag, limit=0).status_code == 422 and search(alice, tag, limit=1001).status_code == 422


def test_snippets_are_escaped_and_mark_only_hits(alice):
    case, tag = alice.make_case(), word()
    body = "filler " * 200 + f"<script>alert('{tag}')</script> & <b>bold</b> refund" + " tail" * 200
    text_item(alice, case["id"], body)
    [hit] = found(alice, f"{tag} refunded")
    snippet = hit["snippet"]
    assert "<script>" not in snippet and "<b>" not in snippet
    assert f"&lt;script&gt;alert('<mark>{tag}</mark>')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in snippet
    assert "<mark>refund</mark>" in snippet and snippet.startswith("…") and snippet.endswith("…")
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert len(snippet) < 400


@pytest.mark.parametrize(
    "text, query",
    [
        ("订单已退款，好评返现五元", "好评返现"),  # Chinese: a phrase of characters finds the word
        ("返金済みのレビュー", "レビュー"),
        ("مراجعة خمس نجوم مدفوعة", "نجوم"),
        ("ביקורת מזויפת ששולמה", "מזויפת"),
        ("पांच सितारा समीक्षा के लिए भुगतान", "समीक्षा"),
        ("รีวิวห้าดาวได้เงินคืน", "ห้าดาว"),
        ("리뷰 환불 요청", "환불"),
        ("Le café a remboursé Zoë", "cafe ZOE"),  # Latin diacritics folded, both ways
        ("Die Straße", "STRASSE"),
    ],
)
def test_words_of_other_scripts_are_found(alice, text, query):
    case, tag = alice.make_case(), word()
    item = text_item(alice, case["id"], f"{tag} {text}")
    hits = found(alice, f"{tag} {query}")
    assert [h["evidence_id"] for h in hits] == [item["id"]], (query, hits)
    assert "<mark>" in hits[0]["snippet"]
    assert found(alice, f'{tag} "{query}x"') == []  # and a word they do not hold is not found


HOSTILE = [
    "x" * 1000,
    ("refund " * 200)[:1000],
    '"unbalanced',
    "(refund",
    "refund)",
    "((refund OR)",
    "AND",
    "OR refund",
    "refund NOT",
    "NOT refund",
    '"',
    "*",
    "**",
    "refund*",
    "r*",
    "NEAR(refund star)",
    "refund NEAR/3 star",
    "title:refund",
    "stems:refund",
    "^refund",
    "-refund",
    "refund -star",
    "'; DROP TABLE search_documents; --",
    "refund' OR '1'='1",
    "\\",
    "{stems words}: refund",
    "refund & !star | (x <-> y)",
    "refund:*",
    "'refund':A",
    "\x00",
    "ref\x00und",
    "(" * 50 + "refund" + ")" * 50,
    " ".join("abcdefghij"[i % 10] * 3 for i in range(400)),
    "🙂🙂🙂",
    "\u200b\u200b",
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_are_answered_200_or_422_without_sql(alice, q):
    alice.make_case()  # a member of a case, so the engine is asked
    r = search(alice, q)
    assert r.status_code in (200, 422), (q, r.status_code, r.text)
    text = r.text.lower()
    for leak in ("sqlite", "fts5", "tsquery", "syntax error", "psycopg", "select ", "traceback"):
        assert leak not in text, (q, r.text)
    if r.status_code == 422:
        assert r.json()["detail"]


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "%C0%AF", "refund%00", "%E2%80%AE%E2%80%AD"])
def test_undecodable_queries_are_answered_200_or_422(alice, raw):
    """Bytes that are not UTF-8 (an unpaired surrogate's, an overlong slash) straight in the query string."""
    alice.make_case()
    r = alice.get(f"/api/v1/search?q={raw}")
    assert r.status_code in (200, 422), (raw, r.status_code, r.text)
    assert "sqlite" not in r.text.lower() and "psycopg" not in r.text.lower()


def test_blank_long_and_missing_queries_are_refused_saying_why(alice):
    alice.make_case()
    for q in ("", "   ", "\t"):
        r = search(alice, q)
        assert r.status_code == 422 and "q is required" in r.json()["detail"], r.text
    assert search(alice, None).status_code == 422
    assert search(alice, "refund " * 120).json()["detail"] == "q: the query has 120 words; a search takes at most 100"
    assert search(alice, "w" * 1000).status_code == 200
    r = search(alice, "w" * 2000)
    assert r.status_code == 422 and "1000" in r.text, r.text
    assert search(alice, '"five').json()["detail"] == (
        'q: the query has an unmatched double quote ("): close the phrase, or leave it out'
    )
    assert "NOT needs something" in search(alice, "NOT refund").json()["detail"]


def test_only_members_see_hits_per_case_and_never_deleted_evidence(alice, bob):
    tag = word()
    home, other = alice.make_case(title="Home"), alice.make_case(title="Other")
    item = text_item(alice, home["id"], f"{tag} insert card offering a refund")
    # Not a member of anything: nothing, and nothing counted.
    r = search(bob, tag)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    bob.make_case()  # a member of a case of his own: still nothing of Alice's
    assert found(bob, tag) == [] and search(bob, tag, case_id=home["id"]).status_code == 404

    # Linked into a second case, the item is a hit in each, with that case's label.
    r = alice.post(f"/api/v1/cases/{other['id']}/exhibits", json={"evidence_id": item["id"]})
    assert r.status_code == 201, r.text
    linked = r.json()
    hits = found(alice, tag, type="evidence")
    assert sorted((h["case"]["title"], h["exhibit_label"]) for h in hits) == [
        ("Home", item["exhibit"]["label"]),
        ("Other", linked["label"]),
    ]

    # Bob, a viewer of the second case only, finds it there only; once removed, not at all.
    r = alice.post(f"/api/v1/cases/{other['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert r.status_code == 201, r.text
    assert [h["case"]["id"] for h in found(bob, tag)] == [other["id"]]
    assert search(bob, tag, case_id=home["id"]).status_code == 404
    assert alice.delete(f"/api/v1/cases/{other['id']}/members/{r.json()['user_id']}").status_code == 204
    assert found(bob, tag) == []

    # Deleted evidence is never a hit (its exhibits go with the delete).
    r = alice.delete(f"/api/v1/cases/{other['id']}/exhibits/{linked['id']}")
    assert r.status_code == 204, r.text
    r = alice.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "uploaded by mistake"})
    assert r.status_code == 204, r.text
    assert found(alice, tag, type="evidence") == []
    # Uploading the same bytes again restores it, and it is found again.
    again = alice.upload(home["id"], f"{tag} insert card offering a refund".encode(), "note.txt")
    assert again.status_code == 201 and again.json()["id"] == item["id"]
    assert [h["evidence_id"] for h in found(alice, tag, type="evidence")] == [item["id"]]


def test_imported_events_are_found(alice):
    case, tag = alice.make_case(), word()
    rows = "occurred_at,title,description\n" + "".join(
        f"2021-03-{n:02d},Payment {n} to {tag},refund via PayPal\n" for n in range(1, 11)
    )
    r = alice.post(
        f"/api/v1/cases/{case['id']}/events:import", content=rows.encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 201, r.text
    hits = every(alice, f"{tag} paypal refunds", limit=3)
    assert len(hits) == 10 and {h["type"] for h in hits} == {"event"}
    assert {h["title"] for h in hits} == {f"Payment {n} to {tag}" for n in range(1, 11)}


def test_codes_that_look_like_numbers_are_words_on_both_databases(alice):
    """PostgreSQL's own parser would read "4e4zaybt29i" as the number 4e4 and a word: tokens are cast, not parsed."""
    case, tag = alice.make_case(), word()
    item = text_item(alice, case["id"], f"{tag}: order 4e4zaybt29i shipped, code 2e863e1 and 0x1f; SKU B07XJ8C8F5")
    for q in ("4e4zaybt29i", '"order 4e4zaybt29i shipped"', "2e863e1", "0x1f", "b07xj8c8f5", "4e4z*"):
        assert [h["evidence_id"] for h in found(alice, f"{tag} {q}")] == [item["id"]], q
    assert found(alice, f"{tag} 4e4") == []


def test_long_and_repetitive_pages_are_found_to_their_end(alice):
    """A page that repeats a word more often than one document holds it is indexed in parts: its last words are
    found, in a phrase too, on both databases (PostgreSQL keeps only 256 positions of a word in a document)."""
    case, tag = alice.make_case(), word()
    body = " ".join(["refund the buyer"] * 200 + [f"{tag} final words here"])  # one page of text (4,000 characters)
    item = text_item(alice, case["id"], body)
    hits = found(alice, f'"{tag} final words"')
    assert [(h["evidence_id"], h["page"]) for h in hits] == [(item["id"], 1)]
    assert f"<mark>{tag} final words</mark>" in hits[0]["snippet"]
    parts = every(alice, '"buyer refund the"', case_id=case["id"])
    assert {h["evidence_id"] for h in parts} == {item["id"]} and len(parts) >= 2  # a hit in each part
