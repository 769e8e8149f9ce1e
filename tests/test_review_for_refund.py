"""The review-for-refund finder through the API, on a small case written out by hand: each kind of chain it must
find (linked through an account, through a message's contact address, by a memo naming the product) and each trap
it must not fall into (a name shared by another reviewer, a returned order, a cancelled one, a reversal, a line of
the export that sends no money, a payment outside the window, a lower rating, an unrelated payer)."""

import csv
import io
import json

import pytest

from tests.records_support import imported

pytestmark = pytest.mark.slow

ACCOUNTS = [  # an Elasticsearch export: sellers' and reviewers' accounts
    {"id": "S1", "name": "Acme Audio", "mail": "sales@acme.example", "pp": "Pay@Acme.example"},
    {"id": "A100", "name": "Emily Smith", "mail": "emily@mail.example", "pp": "emily.pp@mail.example",
     "phone": "(212) 555-0100"},
    {"id": "A300", "name": "Emily Smith", "mail": "other.emily@mail.example", "pp": "emily2@mail.example"},
    {"id": "A400", "name": "Noah Khan", "pp": "noah@mail.example"},
    {"id": "A450", "name": "Mei Chen", "pp": "mei@mail.example"},
    {"id": "A500", "name": "Liam Brown", "pp": "liam@mail.example"},
    {"id": "A600", "name": "Ava Lopez", "pp": "ava@mail.example"},
    {"id": "A700", "name": "Sofia Patel", "pp": "sofia@mail.example"},
    {"id": "A800", "name": "Carlos Garcia", "pp": "carlos@mail.example"},
    {"id": "A900", "name": "Olivia", "mail": "a900@mail.example"},
    {"id": "A1000", "name": "Yuki Tanaka", "pp": "yuki@mail.example"},
]  # fmt: skip
MESSAGES = [  # the chats: A200 is known only through its contact address here
    {"mid": "M1", "reviewer": "A200", "contact": "WEI.PP@mail.example ", "seller": "S1", "product": "B0001",
     "text": "全额退款 after your 5-star review 好评返现", "sent": "2021-03-01T08:00:00Z"},
    {"mid": "M2", "reviewer": "A100", "contact": "emily@mail.example", "seller": "S1", "product": "B0001",
     "text": "Send me the screenshot of your 5-star review and I refund you by PayPal", "sent": "2021-03-02T08:00:00Z"},
    # No reviewer id: A100 is known here only by the PayPal address the accounts link to it.
    {"mid": "M3", "contact": "Emily.PP@mail.example", "seller": "S1",
     "text": "Refund sent for the 5-star review, thank you", "sent": "2021-03-05T09:00:00Z"},
]  # fmt: skip
REVIEWS = [  # (review id, reviewer, name, product, seller, stars, when)
    ("R1", "A100", "Emily Smith", "B0001", "S1", 5, "2021-03-04T12:00:00Z"),  # paid via the accounts: found
    ("R2", "A200", "张伟", "B0001", "S1", 5, "2021-03-05T12:00:00Z"),  # paid via the message's address: found
    ("R3", "A300", "Emily Smith", "B0001", "S1", 5, "2021-03-06T12:00:00Z"),  # same name as A100, never paid
    ("R4", "A400", "Noah Khan", "B0002", "S1", 5, "2021-03-07T12:00:00Z"),  # refunded, order returned
    ("R45", "A450", "Mei Chen", "B0002", "S1", 5, "2021-03-07T13:00:00Z"),  # refunded, order cancelled
    ("R5", "A500", "Liam Brown", "B0001", "S1", 5, "2021-03-08T12:00:00Z"),  # a reversal
    ("R6", "A600", "Ava Lopez", "B0001", "S1", 5, "2021-03-09T12:00:00Z"),  # paid 90 days later
    ("R7", "A700", "Sofia Patel", "B0001", "S1", 4, "2021-03-10T12:00:00Z"),  # four stars, paid
    ("R8", "A800", "Carlos Garcia", "B0001", "S1", 5, "2021-03-11T12:00:00Z"),  # paid by a stranger
    ("R9", "A900", "Olivia", "B0009", "S9", 5, "2021-03-12T12:00:00Z"),  # the memo names the product: found
    ("R10", "A999", "Honest", "B0001", "S1", 5, "2021-03-12T12:00:00Z"),  # nobody paid
    ("R11", "A1000", "Yuki Tanaka", "B0001", "S1", 5, "2021-03-12T12:00:00Z"),  # a hold on her account, no money
]
PAYMENTS = [  # (txn, payer, payee e-mail, gross, currency, when, type, memo)
    ("T1", "pay@acme.example", "Emily.PP@mail.example", "25.00", "USD", "2021-03-06T09:00:00Z", "Refund", ""),
    ("T2", "pay@acme.example", "wei.pp@mail.example", "1,250.00", "USD", "2021-03-04T12:00:00Z", "payment", ""),
    ("T4", "pay@acme.example", "noah@mail.example", "30.00", "USD", "2021-03-09T12:00:00Z", "refund", ""),
    ("T45", "pay@acme.example", "mei@mail.example", "30.00", "USD", "2021-03-09T12:00:00Z", "refund", ""),
    ("T5", "pay@acme.example", "liam@mail.example", "20.00", "USD", "2021-03-09T12:00:00Z", "REVERSAL", ""),
    ("T6", "pay@acme.example", "ava@mail.example", "20.00", "USD", "2021-06-07T12:00:00Z", "refund", ""),
    ("T7", "pay@acme.example", "sofia@mail.example", "19.99", "EUR", "2021-03-11T12:00:00Z", "refund", ""),
    ("T8", "someone@else.example", "carlos@mail.example", "20.00", "USD", "2021-03-12T12:00:00Z", "payment", "gift"),
    ("T9", "stranger@pay.example", "a900@mail.example", "15.50", "GBP", "2021-03-13T12:00:00Z", "payment",
     "for your b0009 review, thanks"),
    ("T10", "pay@acme.example", "nobody@mail.example", "9.00", "USD", "2021-03-13T12:00:00Z", "payment", ""),
    ("T11", "pay@acme.example", "yuki@mail.example", "40.00", "USD", "2021-03-13T12:00:00Z",
     "Hold on Balance for Dispute Investigation", ""),  # PayPal's words: typed `other`
]  # fmt: skip
ORDERS = [
    {"order": "O4", "buyer": "A400", "product": "B0002", "status": "Returned"},
    {"order": "O45", "buyer": "A450", "product": "B0002", "status": "Canceled"},  # as Amazon spells it
    {"order": "O1", "buyer": "A100", "product": "B0002", "status": "returned"},  # another product: explains nothing
]


def _es(rows: list[dict]) -> bytes:
    return "".join(
        json.dumps({"_id": f"h{n}", "_source": r}, ensure_ascii=False) + "\n" for n, r in enumerate(rows)
    ).encode()


def _csv(header: list[str], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _sets(actor, case_id: str) -> dict[str, str]:
    made = {
        "accounts": imported(actor, case_id, _es(ACCOUNTS), role="accounts", filename="accounts.json", mapping={
            "_source.id": "account_id", "_source.name": "name", "_source.mail": "email",
            "_source.pp": "paypal_email", "_source.phone": "phone"}),
        "messages": imported(actor, case_id, _es(MESSAGES), role="messages", filename="chats.json", mapping={
            "_source.mid": "message_id", "_source.reviewer": "reviewer_id", "_source.contact": "contact_email",
            "_source.seller": "seller", "_source.product": "product_id", "_source.text": "text",
            "_source.sent": "sent_at"}),
        "reviews": imported(actor, case_id, _csv(["id", "profile", "name", "asin", "seller", "stars", "date"], REVIEWS),
                            role="reviews", filename="reviews.csv", mapping={
            "id": "review_id", "profile": "reviewer_id", "name": "reviewer_name", "asin": "product_id",
            "seller": "seller", "stars": "rating", "date": "reviewed_at"}),
        "payments": imported(actor, case_id, _csv(["Transaction ID", "From", "To Email", "Gross", "Currency", "Date",
                                                  "Type", "Note"], PAYMENTS), role="payments", filename="paypal.csv",
                             mapping={"Transaction ID": "txn_id", "From": "payer", "To Email": "payee_email",
                                      "Gross": "amount", "Currency": "currency", "Date": "paid_at", "Type": "type",
                                      "Note": "memo"}),
        "orders": imported(actor, case_id, "".join(json.dumps(o) + "\n" for o in ORDERS).encode(), role="orders",
                           filename="orders.jsonl", mapping={"order": "order_id", "buyer": "buyer_id",
                                                            "product": "product_id", "status": "status"}),
    }  # fmt: skip
    for role, body in made.items():
        assert body["status"] == "done" and body["rows_rejected"] == 0, (role, body)
    return {role: body["id"] for role, body in made.items()}


def _analyse(actor, case_id: str, sets: dict[str, str], **params) -> dict:
    body = {
        "type": "review_for_refund",
        "review_sets": [sets["reviews"]],
        "payment_sets": [sets["payments"]],
        "message_sets": [sets["messages"]],
        "account_sets": [sets["accounts"]],
        "order_sets": [sets["orders"]],
    } | params
    r = actor.post(f"/api/v1/cases/{case_id}/analyses", json=body)
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    while (state := actor.get(location).json())["status"] not in ("done", "failed"):
        pass
    assert state["status"] == "done", state
    return state


def _findings(actor, analysis_id: str, **params) -> list[dict]:
    out, cursor = [], None
    while True:
        page = actor.get(f"/api/v1/analyses/{analysis_id}/findings", params=params | {"limit": 2} | (
            {"cursor": cursor} if cursor else {})).json()  # fmt: skip
        out += page["items"]
        if not (cursor := page["next_cursor"]):
            return out


def _reviews(findings: list[dict]) -> list[int]:
    return [f["review"]["row"] for f in findings]


ROW = {review[0]: n + 2 for n, review in enumerate(REVIEWS)}  # a CSV's header is row 1


def test_the_finder_finds_the_chains_and_none_of_the_traps(alice):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    state = _analyse(alice, case["id"], sets)
    findings = _findings(alice, state["id"])
    assert _reviews(findings) == [ROW["R1"], ROW["R2"], ROW["R9"]], findings
    assert state["counts"]["findings"] == 3
    assert state["counts"]["explained_order"] == 2 and state["counts"]["explained_reversal"] == 1
    assert state["counts"]["not_money_sent"] == 1
    r1, r2, r9 = findings
    labels = {role: alice.get(f"/api/v1/record-sets/{sid}").json()["exhibit_label"] for role, sid in sets.items()}
    assert r1["finding_id"] == "F-000001"
    assert r1["review"]["citation"] == f"{labels['reviews']}, record {ROW['R1']}"
    assert r1["payments"][0]["citation"] == f"{labels['payments']}, record 2" and r1["payments"][0]["txn_id"] == "T1"
    assert (r1["amount"], r1["currency"], r1["days"]) == ("25.00", "USD", 1.875)
    assert "em:emily.pp@mail.example" in r1["reviewer"]["keys"] and "ph:+12125550100" in r1["reviewer"]["keys"]
    assert "id:A300" not in r1["reviewer"]["keys"]  # the other Emily Smith stays another person
    # Its chats: by its reviewer id, and by an address alone (a message with no reviewer id), offers both.
    assert [m["citation"] for m in r1["messages"]] == [f"{labels['messages']}, record {n}" for n in (2, 3)]
    assert [m["offer"] for m in r1["messages"]] == [True, True]
    assert any("payer is linked to the product's seller" in reason for reason in r1["reasons"])
    # Linked only through the chat's contact address; paid a day before the review, inside the 3 days allowed.
    assert r2["amount"] == "1250.00" and r2["days"] == -1.0 and r2["payments"][0]["txn_id"] == "T2"
    assert r2["messages"] and r2["messages"][0]["offer"] is True
    # A stranger paid, but the memo names the product.
    assert r9["payments"][0]["txn_id"] == "T9" and r9["currency"] == "GBP" and r9["seller"] == "S9"
    assert any("memo names the product" in reason for reason in r9["reasons"])
    assert r1["score"] > r9["score"] > 0
    # Filters.
    assert _reviews(_findings(alice, state["id"], seller="S9")) == [ROW["R9"]]
    assert _reviews(_findings(alice, state["id"], product="B0001")) == [ROW["R1"], ROW["R2"]]
    assert _reviews(_findings(alice, state["id"], min_score=r1["score"])) == [ROW["R1"]]


def test_a_lower_rating_and_a_wider_window_find_more(alice):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    four = _findings(alice, _analyse(alice, case["id"], sets, min_rating=4)["id"])
    assert _reviews(four) == [ROW["R1"], ROW["R2"], ROW["R7"], ROW["R9"]]
    assert four[2]["amount"] == "19.99" and four[2]["currency"] == "EUR"
    wide = _findings(alice, _analyse(alice, case["id"], sets, window_days_after=120)["id"])
    assert _reviews(wide) == [ROW["R1"], ROW["R2"], ROW["R6"], ROW["R9"]]
    narrow = _findings(alice, _analyse(alice, case["id"], sets, window_days_before=0)["id"])
    assert _reviews(narrow) == [ROW["R1"], ROW["R9"]]  # T2 was paid before its review


def test_findings_as_csv_keep_formulas_as_text(alice):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    state = _analyse(alice, case["id"], sets)
    r = alice.get(f"/api/v1/analyses/{state['id']}/findings", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][0] == "finding_id" and len(table) == 4
    assert [row[table[0].index("txn_ids")] for row in table[1:]] == ["T1", "T2", "T9"]
    assert table[1][table[0].index("amount")] == "25.00"


def test_an_analysis_refuses_sets_of_the_wrong_role_or_case_and_hides_from_non_members(alice, bob):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    wrong = {"type": "review_for_refund", "review_sets": [sets["payments"]], "payment_sets": [sets["payments"]]}
    r = alice.post(f"/api/v1/cases/{case['id']}/analyses", json=wrong)
    assert r.status_code == 422 and "named twice" in r.text
    wrong = {"type": "review_for_refund", "review_sets": [sets["accounts"]], "payment_sets": [sets["payments"]]}
    r = alice.post(f"/api/v1/cases/{case['id']}/analyses", json=wrong)
    assert r.status_code == 422 and "holds accounts, not reviews" in r.text
    other = alice.make_case()
    body = {"type": "review_for_refund", "review_sets": [sets["reviews"]], "payment_sets": [sets["payments"]]}
    r = alice.post(f"/api/v1/cases/{other['id']}/analyses", json=body)
    assert r.status_code == 422 and "not in this case" in r.text
    state = _analyse(alice, case["id"], sets)
    assert bob.get(f"/api/v1/analyses/{state['id']}").status_code == 404
    assert bob.get(f"/api/v1/analyses/{state['id']}/findings").status_code == 404
    assert bob.post(f"/api/v1/cases/{case['id']}/analyses", json=body).status_code == 404


def test_the_summary_for_court_reads_back_its_numbers_and_citations(alice):
    import hashlib

    import pikepdf

    from tests.helpers import page_texts

    case = alice.make_case(title="Acme Audio v. Mpow Direct 返金", docket_number="1:21-cv-04321")
    sets = _sets(alice, case["id"])
    state = _analyse(alice, case["id"], sets)
    r = alice.get(f"/api/v1/analyses/{state['id']}/summary.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-sha256"] == hashlib.sha256(r.content).hexdigest()
    with pikepdf.open(io.BytesIO(r.content)) as pdf:
        assert len(pdf.pages) >= 2
    text = " ".join(page_texts(r.content))
    labels = {role: alice.get(f"/api/v1/record-sets/{sid}").json()["exhibit_label"] for role, sid in sets.items()}
    assert "Offered under Fed. R. Evid. 1006" in text and "Case No. 1:21-cv-04321" in text
    assert "counts 3 reviews rated 5 or more" in text
    # By seller: S1 has two paid reviews (T1 25.00 and T2 1,250.00 USD) of its 5-star reviews.
    assert "S1 2 1,275.00 USD" in text and "S9 1 15.50 GBP" in text
    csv_bytes = alice.get(f"/api/v1/analyses/{state['id']}/findings", params={"format": "csv"}).content
    assert hashlib.sha256(csv_bytes).hexdigest() in text.replace(" ", "")
    for finding in _findings(alice, state["id"]):
        assert finding["finding_id"] in text
        assert finding["review"]["citation"] in text and finding["payments"][0]["citation"] in text
    assert f"{labels['messages']}, record 1" in text  # the offer in Chinese, cited for F-000002
    sha = alice.get(f"/api/v1/record-sets/{sets['reviews']}").json()["sha256"]
    assert sha[:32] in text and sha[32:] in text
    audit = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "analysis.summary"}).json()["items"]
    assert audit and audit[0]["details"]["sha256"] == r.headers["x-content-sha256"]


def test_findings_become_timeline_events_citing_their_records_once(alice):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    state = _analyse(alice, case["id"], sets)
    r = alice.post(f"/api/v1/analyses/{state['id']}/events", json={"finding_ids": ["F-000001", "F-000002"]})
    assert r.status_code == 201, r.text
    made = r.json()
    # F-000001: its two offer messages, the review, the refund; F-000002: its offer, the review, the refund.
    assert made["findings"] == 2 and made["events_created"] == 7 and made["findings_passed_over"] == 0
    events = alice.get(f"/api/v1/cases/{case['id']}/timeline", params={"tag": made["tag"], "limit": 100}).json()
    items = events["items"]
    # In time order; T2 was paid at the very time of R1's review, so those two may come either way round.
    assert sorted(e["kind"] for e in items) == ["message_sent"] * 3 + ["refund_issued"] * 2 + ["review_posted"] * 2
    assert [e["kind"] for e in items][:2] == ["message_sent", "message_sent"]
    labels = {role: alice.get(f"/api/v1/record-sets/{sid}").json()["exhibit_label"] for role, sid in sets.items()}
    review = next(e for e in items if e["kind"] == "review_posted" and "F-000001" in e["tags"])
    assert f"{labels['reviews']}, record {ROW['R1']}" in review["description"]
    assert review["citation"]["exhibit_label"] == labels["reviews"]
    refund = next(e for e in items if e["kind"] == "refund_issued" and "F-000001" in e["tags"])
    assert refund["title"] == "Refund of 25.00 USD to A100" and "transaction T1" in refund["description"]
    again = alice.post(f"/api/v1/analyses/{state['id']}/events", json={}).json()
    assert again["events_created"] == 2 and again["findings_passed_over"] == 2  # F-000003: review and payment
    missing = alice.post(f"/api/v1/analyses/{state['id']}/events", json={"finding_ids": ["F-000099"]})
    assert missing.status_code == 422 and "F-000099" in missing.text
