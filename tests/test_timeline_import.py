"""Importing events: CSV, JSON Lines and Timesketch's columns; all or nothing, with errors by row and column."""

import json

from tests.timeline_support import finished_import, import_file, timeline, titles

LA = {"timezone": "America/Los_Angeles"}


def _errors(response) -> list[tuple]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["message"].startswith("nothing was imported")
    return [(e["row"], e["column"]) for e in detail["errors"]]


def _job_errors(job: dict) -> list[tuple]:
    """A failed import job's problems, as _errors reads a 422's."""
    assert job["status"] == "failed" and job["message"].startswith("nothing was imported"), job
    return [(e["row"], e["column"]) for e in job["errors"]]


def test_csv_import_with_quoted_newlines_a_bom_and_evidence_citations(alice):
    case = alice.make_case(**LA)
    cid = case["id"]
    item = alice.upload(cid, b"order record", kind="order_record", title="Order").json()
    body = (
        "\ufeffOccurred_At,title,kind,description,tags,evidence_id,page,disputed,precision\r\n"
        '2021-03,Campaign starts,other,"Two lines,\r\nwith a comma",campaign,,,yes,\r\n'
        f'2021-03-04T23:30,Order placed,order_placed,,"orders, paid",{item["id"]},2,,\r\n'
        "2021-03-05T10:11:12Z,Refund,refund_issued,,,,,false,day\r\n"
    ).encode()
    r = import_file(alice, cid, body)
    assert r.status_code == 201, r.text
    assert r.json() == {"imported": 3, "format": "csv"}
    events = timeline(alice, cid).json()["items"]
    campaign, order, refund = [e for e in events if e["source"] == "imported"]
    assert (campaign["date_display"], campaign["description"], campaign["disputed"]) == (
        "March 2021",
        "Two lines,\r\nwith a comma",
        True,
    )
    assert (order["occurred_at_local"], order["tags"]) == ("2021-03-04T23:30:00-08:00", ["orders", "paid"])
    assert order["citation"] == {"exhibit_label": "PX-001", "evidence_id": item["id"], "page": 2, "bates": None}
    assert (refund["precision"], refund["date_display"]) == ("day", "March 5, 2021")


def test_json_lines_and_timesketch_exports_come_in_as_they_are(alice):
    case = alice.make_case()
    cid = case["id"]
    lines = [
        {"occurred_at": "2021-03-04", "title": "Review posted", "kind": "review_posted", "tags": ["review"]},
        {"occurred_at": "2021-03-05T08:00:00Z", "title": "Refund", "disputed": True, "page": None},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    r = import_file(alice, cid, body, content_type="application/x-ndjson")
    assert r.status_code == 201 and r.json() == {"imported": 2, "format": "jsonl"}, r.text

    timesketch_jsonl = [
        {
            "message": "User visited seller storefront",
            "datetime": "2021-03-06T12:34:56.123456+00:00",
            "timestamp": 1615034096123456,
            "timestamp_desc": "Last Visited Time",
            "data_type": "chrome:history:page_visited",
            "tag": ["browser"],
        },
        {"message": "Only a timestamp", "timestamp": 1615100000000000, "timestamp_desc": "Creation Time"},
    ]
    body = "\n".join(json.dumps(line) for line in timesketch_jsonl).encode()
    assert import_file(alice, cid, body, content_type="application/octet-stream").status_code == 201  # sniffed
    timesketch_csv = (
        b"message,timestamp,datetime,timestamp_desc,extra\n"
        b'"Seller, chat opened",1615200000000000,2021-03-08T10:40:00+00:00,Message Sent,ignored\n'
    )
    assert import_file(alice, cid, timesketch_csv).status_code == 201
    events = {e["title"]: e for e in timeline(alice, cid).json()["items"]}
    visit = events["User visited seller storefront"]
    assert (visit["occurred_at"], visit["precision"]) == ("2021-03-06T12:34:56.123456Z", "second")
    assert (visit["description"], visit["tags"], visit["kind"]) == ("Last Visited Time", ["browser"], "other")
    assert events["Only a timestamp"]["occurred_at"] == "2021-03-07T06:53:20Z"
    assert events["Seller, chat opened"]["description"] == "Message Sent"
    assert events["Refund"]["disputed"] is True and events["Review posted"]["tags"] == ["review"]


def test_bad_rows_are_listed_by_row_and_column_and_nothing_is_imported(alice, bob):
    case = alice.make_case()
    cid = case["id"]
    bobs_item = bob.upload(bob.make_case()["id"], b"not yours").json()
    body = (
        "occurred_at,title,kind,evidence_id,page\n"
        "2021-03-01,Fine row,other,,\n"
        "March 2nd,Bad date,other,,\n"
        "2021-03-03,,other,,\n"
        "2021-03-04,Bad kind,bribery,,\n"
        f"2021-03-05,Someone else's evidence,other,{bobs_item['id']},\n"
        "2021-03-06,Page without evidence,other,,7\n"
        "2021-03-07,Too many fields,other,,,,\n"
        "2021-03-08,Fine again,other,,\n"
    ).encode()
    errors = _errors(import_file(alice, cid, body))
    assert errors == [
        (3, "occurred_at"),
        (4, "title"),
        (5, "kind"),
        (6, "evidence_id"),
        (7, "page"),
        (8, None),
    ]
    assert titles(alice, cid) == []

    jsonl = b'{"occurred_at": "2021", "title": "ok"}\n{"occurred_at": 2021, "title": "x"}\n[1, 2]\n{broken\n'
    assert _errors(import_file(alice, cid, jsonl, content_type="application/jsonl")) == [
        (2, "occurred_at"),
        (3, None),
        (4, None),
    ]
    assert titles(alice, cid) == []


def test_missing_columns_empty_files_and_unknown_types_are_refused(alice):
    cid = alice.make_case()["id"]
    assert _errors(import_file(alice, cid, b"when,what\n2021,x\n")) == [(1, "occurred_at"), (1, "title")]
    assert _errors(import_file(alice, cid, b"occurred_at,title,title\n2021,x,y\n")) == [(1, "title")]
    assert import_file(alice, cid, b"").status_code == 422
    assert import_file(alice, cid, b"occurred_at,title\n").status_code == 422
    r = import_file(alice, cid, b"%PDF-1.7", content_type="application/pdf")
    assert r.status_code == 415 and "text/csv" in r.json()["detail"]
    assert import_file(alice, cid, b"occurred_at,title\n2021,x\n", format="xml").status_code == 422
    assert titles(alice, cid) == []


def test_oversized_fields_are_refused_with_their_row_and_column(alice):
    cid = alice.make_case()["id"]
    ten_mb = "x" * (10 * 1024 * 1024)
    body = f"occurred_at,title,description\n2021,fine,\n2021-03,big one,{ten_mb}\n".encode()
    job = finished_import(alice, import_file(alice, cid, body))  # over the job threshold: run in the background
    assert _job_errors(job) == [(3, "description")]
    assert "longer than" in job["errors"][0]["message"]
    over_limit = "y" * 70_000  # over the 64 KiB field limit, under the line limit
    assert _errors(import_file(alice, cid, f"occurred_at,title\n2021,{over_limit}\n".encode())) == [(2, "title")]
    jsonl = json.dumps({"occurred_at": "2021", "title": "t", "description": ten_mb}).encode()
    job = finished_import(alice, import_file(alice, cid, jsonl, content_type="application/x-ndjson"))
    assert _job_errors(job) == [(1, None)]
    assert titles(alice, cid) == []


def test_mixed_or_foreign_encodings_are_refused(alice):
    cid = alice.make_case()["id"]
    mixed = "occurred_at,title\n2021-01,Café in UTF-8\n2021-02,fine\n".encode() + "2021-03,Café in Latin-1\n".encode(
        "latin-1"
    )
    r = import_file(alice, cid, mixed)
    assert _errors(r) == [(4, None)]
    assert "UTF-8" in r.json()["detail"]["errors"][0]["message"]
    utf16 = "occurred_at,title\n2021,x\n".encode("utf-16")
    assert "UTF-16" in json.dumps(import_file(alice, cid, utf16).json())
    assert titles(alice, cid) == []
    # A UTF-8 file with its BOM and non-ASCII text imports fine.
    assert import_file(alice, cid, "occurred_at,title\n2021,Café ✓\n".encode("utf-8-sig")).status_code == 201
    assert titles(alice, cid) == ["Café ✓"]
