"""The case page's Records tab, through the web app as people use it: the record sets and their records, filtered
and cited; the review-for-refund finder run from its form by an editor and its findings read, with the summary for
court and the CSV; viewers only read; outsiders see nothing; every user string escaped."""

import csv
import html
import io
import json
import re

import pikepdf
import pytest

from tests.records_support import imported, records, wait_imported
from tests.test_review_for_refund import ROW, _sets

pytestmark = pytest.mark.slow

HOSTILE = '<script>alert("x")</script> מרים 山田 محمد'


def _text(page: str) -> str:
    """A page's visible words, tags out and spaces folded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_an_editor_runs_the_finder_from_the_tab_and_reads_its_findings(alice, browsers):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    web = browsers(alice)
    tab = web.get(f"/cases/{case['id']}/records")
    assert tab.status_code == 200
    words = _text(tab.text)
    assert "Record sets" in words and "Find reviews paid for" in words
    for role in ("Reviews", "Payments", "Messages", "Accounts", "Orders"):
        assert role in words
    # The form: the sets of each role, imported, to choose from; one of each needed role chosen by default.
    for set_id in sets.values():
        assert f'value="{set_id}"' in tab.text
    form = {
        "review_sets": sets["reviews"], "payment_sets": sets["payments"], "message_sets": sets["messages"],
        "account_sets": sets["accounts"], "order_sets": sets["orders"],
        "min_rating": "5", "window_days_before": "3", "window_days_after": "60",
    }  # fmt: skip
    queued = web.post(f"/cases/{case['id']}/analyses", form)
    assert queued.status_code == 303, queued.text
    location = queued.headers["location"]
    analysis_id = location.rsplit("/", 1)[1]
    while (state := alice.get(f"/api/v1/analyses/{analysis_id}").json())["status"] not in ("done", "failed"):
        pass
    assert state["status"] == "done", state
    found = web.get(location)
    assert found.status_code == 200
    # The same findings as the API's, in its order, each with its citations and reasons.
    api = alice.get(f"/api/v1/analyses/{analysis_id}/findings").json()["items"]
    assert [f["review"]["row"] for f in api] == [ROW["R1"], ROW["R2"], ROW["R9"]]
    shown = re.findall(r'<tr id="(F-\d{6})"', found.text)
    assert shown == [f["finding_id"] for f in api]
    words = _text(found.text)
    for finding in api:
        assert finding["review"]["citation"] in words and finding["payments"][0]["citation"] in words
        assert all(reason in words for reason in finding["reasons"])
    assert "3 reviews paid for" in words
    # Filters narrow the findings as the API's do, and say why when they cannot be used.
    filtered = web.get(location, params={"product": "B0009"})
    assert re.findall(r'<tr id="(F-\d{6})"', filtered.text) == [api[2]["finding_id"]]
    bad = web.get(location, params={"min_score": "lots"})
    assert bad.status_code == 422 and "least score" in bad.text
    # The summary for court and the CSV, as the API makes them.
    pdf = web.get(f"{location}/summary.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(pdf.content)) as document:
        assert len(document.pages) >= 2
    rows = list(csv.DictReader(io.StringIO(web.get(f"{location}/findings.csv").content.decode("utf-8-sig"))))
    assert [r["finding_id"] for r in rows] == [f["finding_id"] for f in api]
    # The tab lists the analysis with its count.
    tab = web.get(f"/cases/{case['id']}/records")
    assert f'id="analysis-{analysis_id}"' in tab.text and "Reviews paid for: rated 5 or more" in tab.text
    # Each read is on the case's audit trail, as the API's are.
    trail = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "analysis.findings"}).json()["items"]
    assert any(e["details"].get("via") == "web" for e in trail)


def test_a_record_set_page_lists_filters_and_cites_its_records(alice, browsers):
    case = alice.make_case()
    rows = [{"id": f"m{n}", "from": HOSTILE if n == 2 else f"seller{n}@shop.example", "text": f"message {n}",
             "at": f"2021-03-{1 + n % 28:02d}T10:00:00Z"} for n in range(1, 61)]  # fmt: skip
    rows[9]["text"] = '全额退款 好评返现 =HYPERLINK("http://evil.example")'
    body = imported(alice, case["id"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                    .encode(), role="messages", filename="chats.jsonl", name=f"Chats {HOSTILE}",
                    mapping={"id": "message_id", "from": "from", "text": "text", "at": "sent_at"})  # fmt: skip
    assert body["status"] == "done", body
    web = browsers(alice)
    page = web.get(f"/cases/{case['id']}/record-sets/{body['id']}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    label = body["exhibit_label"]
    cited = re.findall(r'<tr id="row-(\d+)"', page.text)
    assert cited == [str(n) for n in range(1, 51)]  # a page of 50, in row order
    assert f"{label}, record 1" in page.text and "Next records" in page.text
    second = web.get(re.search(r'href="([^"]+cursor=[^"]+)"', page.text).group(1).replace("&amp;", "&"))
    assert re.findall(r'<tr id="row-(\d+)"', second.text) == [str(n) for n in range(51, 61)]
    # By a field, and by words in the line (any script).
    one = web.get(f"/cases/{case['id']}/record-sets/{body['id']}", params={"field": "message_id", "value": "m10"})
    assert re.findall(r'<tr id="row-(\d+)"', one.text) == ["10"] and "好评返现" in one.text
    words = web.get(f"/cases/{case['id']}/record-sets/{body['id']}", params={"q": "好评返现"})
    assert re.findall(r'<tr id="row-(\d+)"', words.text) == ["10"]
    bad = web.get(f"/cases/{case['id']}/record-sets/{body['id']}", params={"field": "payee_email", "value": "x"})
    assert bad.status_code == 422 and "could not be made" in bad.text and "payee_email" in bad.text
    # The tab lists the set, its name escaped.
    tab = web.get(f"/cases/{case['id']}/records")
    assert f'id="set-{body["id"]}"' in tab.text and "<script>alert" not in tab.text
    assert "It needs a record set of reviews and one of payments" in _text(tab.text)
    trail = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "records.view"}).json()["items"]
    assert any(e["details"].get("via") == "web" and e["details"]["count"] == 50 for e in trail)


def test_viewers_only_read_and_outsiders_see_nothing(alice, bob, make_user, browsers):
    case = alice.make_case()
    added = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert added.status_code == 201, added.text
    sets = _sets(alice, case["id"])
    viewer = browsers(bob)
    tab = viewer.get(f"/cases/{case['id']}/records")
    assert tab.status_code == 200 and "Find reviews paid for" not in tab.text
    assert viewer.get(f"/cases/{case['id']}/record-sets/{sets['reviews']}").status_code == 200
    refused = viewer.post(f"/cases/{case['id']}/analyses", {"review_sets": sets["reviews"],
                                                            "payment_sets": sets["payments"]})  # fmt: skip
    assert refused.status_code == 403
    outsider = browsers(make_user())
    for path in (f"/cases/{case['id']}/records", f"/cases/{case['id']}/record-sets/{sets['reviews']}"):
        assert outsider.get(path).status_code == 404
    # A set of another case is not found through this one.
    other = alice.make_case()
    assert browsers(alice).get(f"/cases/{other['id']}/record-sets/{sets['reviews']}").status_code == 404


def test_the_finder_form_says_what_is_wrong(alice, browsers):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    web = browsers(alice)
    none = web.post(f"/cases/{case['id']}/analyses", {"payment_sets": sets["payments"]})
    assert none.status_code == 422 and "review sets" in none.text
    twice = web.post(f"/cases/{case['id']}/analyses", {"review_sets": sets["reviews"], "payment_sets": sets["reviews"]})
    assert twice.status_code == 422 and "record set is named twice" in twice.text
    far = web.post(f"/cases/{case['id']}/analyses", {"review_sets": sets["reviews"], "payment_sets": sets["payments"],
                                                     "window_days_after": "99999"})  # fmt: skip
    assert far.status_code == 422 and "window days after" in far.text
    assert alice.get(f"/api/v1/cases/{case['id']}/analyses").json()["items"] == []


PAYPAL_CSV = (
    "\ufeffDate,Name,Gross,From Email Address,To Email Address,Transaction ID,Type,Note\r\n"
    "2021-03-04 10:00:00,张伟,-25.00,deals@acme.example,wei@mail.example,T1,Refund,for your review\r\n"
    '2021-03-05T11:30:00-08:00,محمد,"-1,250.00",deals@acme.example,m@mail.example,T2,Payment,=HYPERLINK("x")\r\n'
)
PAYPAL_MAPPING = (
    "Date = paid_at\nGross = amount\nFrom Email Address = payer\nTo Email Address = payee_email\n"
    "Transaction ID = txn_id\nType = type\nNote = memo\n"
)


# PayPal's activity export as PayPal writes it: the date, the time of day and the zone in columns of their own.
PAYPAL_ACTIVITY_CSV = (
    "Date,Time,TimeZone,Gross,To Email Address,Transaction ID,Type\r\n"
    "04/03/2021,17:30:00,PST,-25.00,wei@mail.example,1AB,Payment Refund\r\n"
    "04/03/2021,09:00:00,CET,-5.00,m@mail.example,2CD,General Currency Conversion\r\n"
)


def _import(web, case_id: str, content: bytes, **fields):
    form = {"name": f"PayPal {HOSTILE}", "role": "payments", "mapping": PAYPAL_MAPPING} | fields
    return web.client.post(
        f"/cases/{case_id}/record-sets?csrf_token={web.csrf}", data=form,
        files={"file": ("paypal.csv", content, "text/csv")}, follow_redirects=False,
    )  # fmt: skip


def test_an_editor_imports_a_record_set_from_the_tab_and_follows_it(alice, browsers):
    case = alice.make_case()
    web = browsers(alice)
    tab = web.get(f"/cases/{case['id']}/records")
    assert "Import a record set" in tab.text and "No record sets yet" in tab.text
    sent = _import(web, case["id"], PAYPAL_CSV.encode())
    assert sent.status_code == 303, sent.text
    set_id = sent.headers["location"].rsplit("/", 1)[1]
    body = wait_imported(alice, set_id)
    assert (body["status"], body["rows_done"], body["role"]) == ("done", 2, "payments"), body["errors"]
    assert body["mapping"]["Transaction ID"] == "txn_id" and body["name"] == f"PayPal {HOSTILE}"
    page = web.get(sent.headers["location"])
    assert page.status_code == 200 and "<script>alert" not in page.text
    words = _text(page.text)
    assert f"{body['exhibit_label']}, record 2" in words and "1250.00" in words and "张伟" in page.text
    assert '=HYPERLINK("x")' in words  # a formula in a record is text on the page
    # Its original is the case's evidence, byte for byte, as an upload through the API would be.
    original = alice.get(f"/api/v1/evidence/{body['evidence_id']}/content")
    assert original.content == PAYPAL_CSV.encode()


def test_the_import_form_reads_a_time_in_three_columns_in_the_date_order_chosen(alice, browsers):
    """PayPal's own shape from the form: the date, time and zone each mapped to paid_at on a line of its own, and
    the date order chosen from the list; refused for a bad order, the form comes back with the order chosen."""
    case = alice.make_case()
    web = browsers(alice)
    content = PAYPAL_ACTIVITY_CSV.encode()
    mapping = "Date = paid_at\nTime = paid_at\nTimeZone = paid_at\nGross = amount\nTo Email Address = payee_email\n"
    mapping += "Transaction ID = txn_id\nType = type\n"
    tab = web.get(f"/cases/{case['id']}/records")
    assert 'name="date_order"' in tab.text and "are day first: 3 April" in tab.text
    wrong = _import(web, case["id"], content, mapping=mapping, date_order="ydm")
    assert wrong.status_code == 422 and "date_order" in wrong.text
    sent = _import(web, case["id"], content, mapping=mapping, date_order="dmy")
    assert sent.status_code == 303, sent.text
    body = wait_imported(alice, sent.headers["location"].rsplit("/", 1)[1])
    assert (body["status"], body["rows_done"], body["rows_rejected"], body["date_order"]) == ("done", 2, 0, "dmy")
    assert "Read day first: 03/04/2021 is 3 April 2021" in _text(web.get(sent.headers["location"]).text)
    got = records(alice, body["id"])
    assert [(r["fields"]["paid_at"], r["fields"]["type"]) for r in got] == [
        ("2021-03-05T01:30:00Z", "refund"), ("2021-03-04T08:00:00Z", "other")
    ]  # fmt: skip
    refused = _import(web, case["id"], content, mapping=mapping + "Fee = paid_at\n", date_order="mdy")
    assert refused.status_code == 422 and "at most 3" in refused.text
    assert re.search(r'<option value="mdy" selected>', refused.text)


def test_the_import_form_says_what_is_wrong_and_stores_nothing(alice, bob, browsers):
    case = alice.make_case()
    web = browsers(alice)
    wrong = _import(web, case["id"], PAYPAL_CSV.encode(), mapping="Amount = amount\nDate = paid_at\n")
    assert wrong.status_code == 422
    words = _text(wrong.text)
    assert "The file was not imported" in words and "'Amount'" in words and "Transaction ID" in words
    assert "Amount = amount" in wrong.text and f"PayPal {HOSTILE}" in html.unescape(wrong.text)  # kept as sent
    lines = _import(web, case["id"], PAYPAL_CSV.encode(), mapping="Date paid_at")
    assert lines.status_code == 422 and "Mapping, line 1" in lines.text
    role = _import(web, case["id"], PAYPAL_CSV.encode(), role="ledgers")
    assert role.status_code == 422 and "ledgers" in role.text
    assert alice.get(f"/api/v1/cases/{case['id']}/record-sets").json()["items"] == []
    assert alice.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"] == []
    forged = web.client.post(f"/cases/{case['id']}/record-sets?csrf_token=forged", data={"name": "x"},
                             files={"file": ("a.csv", b"a\n1\n")}, follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403
    added = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert added.status_code == 201
    viewer = browsers(bob)
    assert "Import a record set" not in viewer.get(f"/cases/{case['id']}/records").text
    assert _import(viewer, case["id"], PAYPAL_CSV.encode()).status_code == 403
    assert alice.get(f"/api/v1/cases/{case['id']}/record-sets").json()["items"] == []


def test_an_editor_saves_a_search_as_an_exhibit_and_findings_as_timeline_events(alice, bob, browsers):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    web = browsers(alice)
    where = f"/cases/{case['id']}/record-sets/{sets['messages']}"
    search = {"field": "", "value": "", "q": "好评返现", "from": "", "to": ""}
    saved = web.post(f"{where}/extracts", search | {"title": f"Offers {HOSTILE}"})
    assert saved.status_code == 303, saved.text
    page = web.get(saved.headers["location"])
    notice = re.search(r'Saved as <a href="/evidence/([^?"]+)\?case=[^"]+">(PX-\d+)</a>', page.text)
    assert notice, page.text
    extract = alice.get(f"/api/v1/evidence/{notice.group(1)}").json()
    assert extract["title"] == f"Offers {HOSTILE}" and extract["exhibit"]["label"] == notice.group(2)
    rows = list(
        csv.reader(io.StringIO(alice.get(f"/api/v1/evidence/{notice.group(1)}/content").content.decode("utf-8-sig")))
    )
    assert len(rows) == 2 and "好评返现" in "".join(rows[1])  # the header and the one record the search finds
    refused = web.post(f"{where}/extracts", search | {"title": ""})
    assert refused.status_code == 422 and "No exhibit was made" in refused.text
    # The findings to the timeline, once: a second time passes over what was added.
    body = {"type": "review_for_refund"} | {f"{role[:-1]}_sets": [set_id] for role, set_id in sets.items()}
    analysis = alice.post(f"/api/v1/cases/{case['id']}/analyses", json=body)
    location = f"/cases/{case['id']}/analyses/{analysis.json()['id']}"
    while alice.get(f"/api/v1/analyses/{analysis.json()['id']}").json()["status"] not in ("done", "failed"):
        pass
    added = web.post(f"{location}/events", {"min_score": ""})
    assert added.status_code == 303
    first = _text(web.get(added.headers["location"]).text)
    assert re.search(r"3 findings added to the timeline as \d+ events", first), first
    again = _text(web.get(web.post(f"{location}/events", {"min_score": "0"}).headers["location"]).text)
    assert "0 findings added" in again and "3 added before were passed over" in again
    events = alice.get(f"/api/v1/cases/{case['id']}/timeline").json()["items"]
    assert len([e for e in events if any(t.startswith("analysis") for t in e.get("tags", []))]) >= 3
    bad = web.post(f"{location}/events", {"min_score": "2"})
    assert bad.status_code == 422 and "Nothing was added" in bad.text
    # Viewers do neither.
    assert (
        alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"}).status_code
        == 201
    )
    viewer = browsers(bob)
    assert "Save as an exhibit" not in viewer.get(where).text
    assert "Add to the timeline" not in viewer.get(location).text
    assert viewer.post(f"{where}/extracts", search | {"title": "x"}).status_code == 403
    assert viewer.post(f"{location}/events", {}).status_code == 403


def test_a_findings_citations_open_their_records(alice, browsers):
    case = alice.make_case()
    sets = _sets(alice, case["id"])
    body = {"type": "review_for_refund"} | {f"{role[:-1]}_sets": [set_id] for role, set_id in sets.items()}
    made = alice.post(f"/api/v1/cases/{case['id']}/analyses", json=body).json()
    while alice.get(f"/api/v1/analyses/{made['id']}").json()["status"] not in ("done", "failed"):
        pass
    web = browsers(alice)
    found = web.get(f"/cases/{case['id']}/analyses/{made['id']}").text
    finding = alice.get(f"/api/v1/analyses/{made['id']}/findings").json()["items"][1]  # R2: found through a message
    for ref in (finding["review"], finding["payments"][0], finding["messages"][0]):
        link = f"/cases/{case['id']}/record-sets/{ref['record_set_id']}/records/{ref['row']}"
        assert f'href="{link}"' in found
        record = web.get(link)
        assert record.status_code == 200 and ref["citation"] in _text(record.text)
        line = alice.get(f"/api/v1/record-sets/{ref['record_set_id']}/records/{ref['row']}").json()["source_line"]
        assert html.escape(line, quote=False) in record.text or line in html.unescape(record.text)
    message = web.get(f"/cases/{case['id']}/record-sets/{sets['messages']}/records/1").text
    assert "全额退款" in message and "WEI.PP@mail.example" in message  # the contact address as it is in the line
    assert web.get(f"/cases/{case['id']}/record-sets/{sets['reviews']}/records/999").status_code == 404
    other = alice.make_case()
    assert web.get(f"/cases/{other['id']}/record-sets/{sets['reviews']}/records/2").status_code == 404


def test_an_editor_removes_a_record_set_unless_the_case_is_on_hold(alice, bob, browsers):
    case = alice.make_case()
    body = imported(alice, case["id"], PAYPAL_CSV.encode(), role="payments", filename="paypal.csv",
                    mapping={"Date": "paid_at", "Gross": "amount", "To Email Address": "payee_email"})  # fmt: skip
    assert body["status"] == "done", body
    web = browsers(alice)
    where = f"/cases/{case['id']}/record-sets/{body['id']}"
    assert "Remove the record set" in web.get(where).text
    unconfirmed = web.post(f"{where}/remove", {})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.text
    assert alice.get(f"/api/v1/record-sets/{body['id']}").status_code == 200
    added = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert added.status_code == 201
    viewer = browsers(bob)
    assert "Remove the record set" not in viewer.get(where).text
    assert viewer.post(f"{where}/remove", {"confirm": "yes"}).status_code == 403
    held = alice.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"reason": "Litigation hold, Acme v. Mpow"})
    assert held.status_code in (200, 201), held.text
    refused = web.post(f"{where}/remove", {"confirm": "yes"})
    assert refused.status_code == 409 and "It was not removed" in refused.text and "legal hold" in refused.text
    assert alice.get(f"/api/v1/record-sets/{body['id']}").status_code == 200
    released = alice.delete(f"/api/v1/cases/{case['id']}/legal-hold")
    assert released.status_code in (200, 204), released.text
    removed = web.post(f"{where}/remove", {"confirm": "yes"})
    assert removed.status_code == 303 and removed.headers["location"] == f"/cases/{case['id']}/records?done=removed"
    assert "Record set removed, with its records" in web.get(removed.headers["location"]).text
    assert alice.get(f"/api/v1/record-sets/{body['id']}").status_code == 404
    assert alice.get(f"/api/v1/evidence/{body['evidence_id']}/content").content == PAYPAL_CSV.encode()
