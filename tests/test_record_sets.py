"""Record sets: each format imported through the API and read back record by record, with its row, exact line and
citation; filters; extracts as evidence; and the bad input the import must survive."""

import csv
import gzip
import io
import json
import uuid

import pytest

from api.config import get_settings
from tests.records_support import imported, records, send_set, wait_imported

pytestmark = pytest.mark.slow

REVIEWS_CSV = (
    "\ufeffReview ID,Profile,Name,ASIN,Stars,Date,Headline,Body,Helpful\r\n"
    'R1,A100,Emily Smith,B0001,5,2021-03-04T10:00:00Z,Great,"Loved it, truly",3\r\n'
    'R2,A200,张伟,B0001,5,2021-03-05 09:30,"=HYPERLINK(""http://evil.example"",""click"")","line one\r\n'
    'line two, with a comma",0\r\n'
    "R3,a300,محمد,B0002,4,2021-03-06,ok,جيد جدا,1\r\n"
    "R4,A400,नमस्ते,B0002,five,2021-03-07,bad rating,x,0\r\n"
    "R5,A500,สมชาย,B0003,5,2021-03-08T08:00:00+07:00,สุดยอด,ดีมาก,2\r\n"
)
REVIEWS_MAPPING = {
    "Review ID": "review_id",
    "Profile": "reviewer_id",
    "Name": "reviewer_name",
    "ASIN": "product_id",
    "Stars": "rating",
    "Date": "reviewed_at",
    "Headline": "title",
    "Body": "text",
}


def _es_line(n: int, **source) -> str:
    return json.dumps({"_index": "leak", "_id": f"m{n}", "_score": 1.0, "_source": source}, ensure_ascii=False)


def test_a_csv_is_read_with_its_rows_lines_and_citations(alice):
    case = alice.make_case(timezone="America/New_York")
    body = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING, name="Reviews")
    assert body["status"] == "done", body
    assert body["format"] == "csv" and body["compressed"] is False
    assert (body["rows_done"], body["rows_rejected"], body["rows_total"]) == (4, 1, 5)
    # R4's rating "five" is refused with its line (header 1, R1 2, R2 3-4, R3 5, R4 6), and the import goes on.
    assert body["errors"] == [{"line": 6, "message": "rating (from Stars): 'five' is not a number"}]
    rows = records(alice, body["id"])
    assert [r["row"] for r in rows] == [2, 3, 5, 7]
    label = body["exhibit_label"]
    r2 = alice.get(f"/api/v1/record-sets/{body['id']}/records/3").json()
    assert r2["citation"] == f"{label}, record 3"
    assert r2["source_line"] == (
        'R2,A200,张伟,B0001,5,2021-03-05 09:30,"=HYPERLINK(""http://evil.example"",""click"")",'
        '"line one\nline two, with a comma",0'
    )
    assert r2["fields"]["text"] == "line one\nline two, with a comma"
    # A time without an offset is in the case's timezone (New York, EST in March before the change).
    assert r2["fields"]["reviewed_at"] == "2021-03-05T14:30:00Z"
    assert r2["unmapped"] == {"Helpful": "0"}
    r1 = alice.get(f"/api/v1/record-sets/{body['id']}/records/2").json()
    assert r1["fields"]["rating"] == 5 and r1["source_line"].startswith("R1,A100")  # no BOM kept in the line
    thai = alice.get(f"/api/v1/record-sets/{body['id']}/records/7").json()
    assert thai["fields"]["reviewed_at"] == "2021-03-08T01:00:00Z" and thai["fields"]["title"] == "สุดยอด"
    assert alice.get(f"/api/v1/record-sets/{body['id']}/records/6").status_code == 404  # the refused line
    # The original is evidence: hashed, an exhibit, downloadable byte for byte.
    original = alice.get(f"/api/v1/evidence/{body['evidence_id']}/content")
    assert original.content == REVIEWS_CSV.encode()


def _own_indexes(set_id: str) -> set[str]:
    """The names of the indexes a record set has of its own."""
    from sqlalchemy import inspect

    from api.db import get_engine
    from api.records import load

    engine = get_engine()
    table = load.set_table(uuid.UUID(set_id), engine.dialect.name)  # its partition, on PostgreSQL
    return {i["name"] for i in inspect(engine).get_indexes(table) if uuid.UUID(set_id).hex in i["name"]}


@pytest.mark.parametrize("indexed", [False, True], ids=["small set, through the primary key", "own indexes"])
def test_filters_find_by_key_any_case_words_and_time(alice, monkeypatch, workers_with, indexed):
    """A set smaller than records_indexed_from_rows gets no index of its own (building one reads the whole table);
    a larger one gets one per key field its role has and one on its time. Lookups answer alike either way."""
    if indexed:
        monkeypatch.setattr(get_settings(), "records_indexed_from_rows", 1)
        workers_with(CASEBINDER_RECORDS_INDEXED_FROM_ROWS="1")
    case = alice.make_case()
    body = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)
    sid = body["id"]
    suffixes = {name.rsplit("_", 1)[1] for name in _own_indexes(sid)}
    assert suffixes == ({"k1", "k2", "k3", "k4", "at"} if indexed else set())
    assert [r["row"] for r in records(alice, sid, product_id="B0001")] == [2, 3]
    assert [r["row"] for r in records(alice, sid, reviewer_id="a300")] == [5]
    assert [r["row"] for r in records(alice, sid, rating="5")] == [2, 3, 7]
    assert [r["row"] for r in records(alice, sid, rating="5.0", product_id="B0003")] == [7]
    assert [r["row"] for r in records(alice, sid, q="line TWO")] == [3]
    assert [r["row"] for r in records(alice, sid, q="100%_")] == []
    assert [r["row"] for r in records(alice, sid, **{"from": "2021-03-05", "to": "2021-03-07"})] == [3, 5]
    assert [r["row"] for r in records(alice, sid, limit=1)] == [2, 3, 5, 7]  # one a page, every page
    bad = alice.get(f"/api/v1/record-sets/{sid}/records", params={"payee_email": "x"})
    assert bad.status_code == 422 and "payee_email" in bad.text and "reviews" in bad.text
    bad = alice.get(f"/api/v1/record-sets/{sid}/records", params={"rating": "lots"})
    assert bad.status_code == 422 and "rating" in bad.text


def test_an_elasticsearch_export_gzipped_keeps_nested_paths_and_unmapped_fields(alice):
    case = alice.make_case(timezone="UTC")
    lines = [
        _es_line(1, seller="S1", reviewer={"id": "A100", "email": " Emily@Mail.Example "}, sent=1614852000000,
                 msg={"text": "Full refund after your 5-star review 💸"}, product={"asin": "B0001", "url": "u1"}),
        "this is not json {",
        _es_line(3, seller="S1", reviewer={"id": "A200", "email": "wei@mail.example"}, sent="2021-03-05T12:00:00",
                 msg={"text": "返金します"}, product={"asin": "B0001", "url": "u2"}),
        "",
        json.dumps({"_id": "m5", "no_source": True}),
        _es_line(6, seller="S2", reviewer={"id": "A300"}, sent="2021-03-06T12:00:00+02:00", msg={"text": "شكرا"},
                 product={"asin": "B0002"}),
    ]  # fmt: skip
    mapping = {
        "_id": "message_id",
        "_source.seller": "seller",
        "_source.reviewer.id": "reviewer_id",
        "_source.reviewer.email": "contact_email",
        "_source.sent": "sent_at",
        "_source.msg.text": "text",
        "_source.product.asin": "product_id",
    }
    content = gzip.compress(("\n".join(lines) + "\n").encode())
    body = imported(alice, case["id"], content, role="messages", mapping=mapping, filename="leak.json.gz")
    assert body["status"] == "done", body
    assert (body["format"], body["compressed"]) == ("es", True)
    assert body["rows_done"] == 3 and body["rows_rejected"] == 2
    assert [e["line"] for e in body["errors"]] == [2, 5]
    assert "not JSON" in body["errors"][0]["message"] and "_source" in body["errors"][1]["message"]
    first = alice.get(f"/api/v1/record-sets/{body['id']}/records/1").json()
    assert first["fields"]["contact_email"] == "emily@mail.example"  # normalised: case and spaces
    assert first["fields"]["sent_at"] == "2021-03-04T10:00:00Z"  # epoch milliseconds, as Elasticsearch keeps them
    assert first["unmapped"] == {"_index": "leak", "_score": 1.0, "_source.product.url": "u1"}
    assert first["source_line"] == lines[0]
    assert [r["row"] for r in records(alice, body["id"], contact_email="EMILY@mail.example")] == [1]
    assert [r["row"] for r in records(alice, body["id"], seller="S1")] == [1, 3]
    assert records(alice, body["id"], reviewer_id="A300")[0]["fields"]["sent_at"] == "2021-03-06T10:00:00Z"


def test_json_lines_with_a_bom_crlf_lists_and_hostile_paths_keep_their_rows(alice):
    # The mapping's paths are the user's text: quotes, backslashes and code-like keys are keys, nothing more; a
    # number in a path steps into a list; a BOM and CRLF line ends are not part of any value.
    case = alice.make_case(timezone="UTC")
    odd = "x'); import os; ('\\\"y"
    lines = [
        {"id": "A1", odd: "mallory@evil.example", "phones": ["+1 202 555 0100", "+44 20 7946 0000"]},
        {"id": "A2", odd: "not-linked", "phones": "none"},
        {"id": "  ", odd: "ignored@evil.example"},
    ]
    content = "\ufeff" + "\r\n".join(json.dumps(line, ensure_ascii=False) for line in lines[:2]) + "\r\n\r\n"
    content += json.dumps(lines[2]) + "\r\n"
    mapping = {"id": "account_id", odd: "email", "phones.1": "phone"}
    body = imported(alice, case["id"], content.encode(), role="accounts", mapping=mapping)
    assert body["status"] == "done", body
    assert body["rows_done"] == 2 and [e["line"] for e in body["errors"]] == [4]
    assert "account_id" in body["errors"][0]["message"]
    got = {r["row"]: r for r in records(alice, body["id"])}
    assert sorted(got) == [1, 2]
    assert got[1]["fields"] == {"account_id": "A1", "email": "mallory@evil.example", "phone": "+442079460000"}
    assert got[1]["source_line"] == json.dumps(lines[0], ensure_ascii=False)  # no BOM, no CR
    assert got[2]["fields"] == {"account_id": "A2", "email": "not-linked"}  # "none" is a string: no item 1


def test_json_lines_payments_keep_exact_amounts_and_match_types_in_any_case(alice):
    case = alice.make_case(timezone="UTC")
    rows = [
        {"id": "T1", "from": "seller@shop.example", "to": "Emily@Mail.example", "gross": "1,250.00", "cur": "usd",
         "at": "2021-03-06T00:00:00Z", "kind": "REFUND", "note": "B0001"},
        {"id": "T2", "from": "seller@shop.example", "to": "wei@mail.example", "gross": 0.1, "cur": "USD",
         "at": "2021-03-07T00:00:00Z", "kind": "Payment"},
        {"id": "T3", "from": "x@y.example", "to": "z@y.example", "gross": "12.5", "cur": "EUR",
         "at": "2021-03-08T00:00:00Z", "kind": "chargeback"},
        {"id": "T4", "from": "x@y.example", "to": "z@y.example", "gross": "12.5", "cur": "EUR",
         "at": "2021-03-08T00:00:00Z", "kind": 7},
    ]  # fmt: skip
    mapping = {"id": "txn_id", "from": "payer", "to": "payee_email", "gross": "amount", "cur": "currency",
               "at": "paid_at", "kind": "type", "note": "memo"}  # fmt: skip
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    body = imported(alice, case["id"], content, role="payments", mapping=mapping, filename="paypal.jsonl")
    assert body["format"] == "jsonl" and body["rows_done"] == 4 and body["rows_rejected"] == 0
    got = {r["fields"]["txn_id"]: r["fields"] for r in records(alice, body["id"])}
    assert (got["T3"]["type"], got["T4"]["type"]) == ("reversal", "other")  # a chargeback reverses; 7 sends nothing
    assert got["T1"]["amount"] == "1250.00" and got["T1"]["type"] == "refund" and got["T1"]["currency"] == "USD"
    assert got["T2"]["amount"] == "0.1" and got["T2"]["payee_email"] == "wei@mail.example"
    assert [r["row"] for r in records(alice, body["id"], type="Refund")] == [1]
    assert [r["row"] for r in records(alice, body["id"], amount="1250")] == []  # exact text: 1250 is not 1250.00
    assert [r["row"] for r in records(alice, body["id"], amount="1,250.00")] == [1]


def test_an_extract_is_evidence_with_its_provenance_and_formulas_as_text(alice):
    case = alice.make_case()
    body = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING, name="Reviews")
    r = alice.post(
        f"/api/v1/record-sets/{body['id']}/extracts",
        json={"filter": {"product_id": "B0001"}, "title": "Reviews of B0001"},
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["rows"] == 2 and made["filter"] == {"product_id": "B0001"} and made["exhibit_label"]
    item = alice.get(f"/api/v1/evidence/{made['evidence_id']}").json()
    assert item["title"] == "Reviews of B0001" and item["media_type"].startswith("text/")
    assert body["sha256"] in item["description"] and '"product_id":"B0001"' in item["description"]
    text = alice.get(f"/api/v1/evidence/{made['evidence_id']}/content").content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["row", "citation", "review_id"] and table[0][-1] == "source_line"
    assert [row[0] for row in table[1:]] == ["2", "3"]
    assert table[1][1] == f"{body['exhibit_label']}, record 2"
    title = table[2][table[0].index("title")]
    assert title == '\'=HYPERLINK("http://evil.example","click")'  # a spreadsheet shows it, never runs it
    assert table[2][-1].startswith("R2,A200")
    nothing = {"filter": {"product_id": "nope"}, "title": "x"}
    none = alice.post(f"/api/v1/record-sets/{body['id']}/extracts", json=nothing)
    assert none.status_code == 422 and "no record" in none.text


def test_a_wrong_mapping_is_refused_naming_the_field_and_nothing_is_stored(alice):
    case = alice.make_case()
    cid = case["id"]
    wrong_target = dict(REVIEWS_MAPPING, Stars="stars")
    r = send_set(alice, cid, REVIEWS_CSV.encode(), role="reviews", mapping=wrong_target)
    assert r.status_code == 422 and "'stars' is not a field of reviews records" in r.text
    missing = {k: v for k, v in REVIEWS_MAPPING.items() if v != "rating"}
    r = send_set(alice, cid, REVIEWS_CSV.encode(), role="reviews", mapping=missing)
    assert r.status_code == 422 and "rating" in r.text
    r = send_set(alice, cid, REVIEWS_CSV.encode(), role="reviews", mapping=dict(REVIEWS_MAPPING, Starz="rating") | {})
    assert r.status_code == 422 and "mapped twice" in r.text
    no_column = {("Rating" if k == "Stars" else k): v for k, v in REVIEWS_MAPPING.items()}
    r = send_set(alice, cid, REVIEWS_CSV.encode(), role="reviews", mapping=no_column)
    assert r.status_code == 422 and "'Rating'" in r.text and "header" in r.text
    r = send_set(alice, cid, REVIEWS_CSV.encode(), role="robots", mapping=REVIEWS_MAPPING)
    assert r.status_code == 422 and "role" in r.text
    r = alice.post(
        f"/api/v1/cases/{cid}/record-sets",
        files={"file": ("x.csv", REVIEWS_CSV.encode())},
        data={"name": "x", "role": "reviews", "mapping": "{not json"},
    )
    assert r.status_code == 422 and "mapping is not valid JSON" in r.text
    es = send_set(alice, cid, (_es_line(1, a=1) + "\n").encode(), role="accounts", mapping={"a": "account_id"})
    assert es.status_code == 422 and "_source" in es.text
    assert alice.get(f"/api/v1/cases/{cid}/record-sets").json()["items"] == []
    assert alice.get(f"/api/v1/cases/{cid}/exhibits").json()["items"] == []


def test_too_many_refused_lines_fail_the_import_and_keep_nothing(alice, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "records_max_rejected", 3)
    workers_with(CASEBINDER_RECORDS_MAX_REJECTED="3")
    case = alice.make_case()
    good = "".join(json.dumps({"id": f"A{n}"}) + "\n" for n in range(50))
    content = (good + "not json\n" * 4).encode()
    body = imported(alice, case["id"], content, role="accounts", mapping={"id": "account_id"})
    assert body["status"] == "failed"
    assert "more than 3 lines were refused" in body["message"] and "line 51" in body["message"]
    assert body["rows_done"] == 0 and body["rows_rejected"] == 4
    assert records(alice, body["id"]) == []


def test_long_lines_bad_bytes_and_nul_are_refused_by_line_and_the_rest_read(alice, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "records_max_line_bytes", 4096)
    workers_with(CASEBINDER_RECORDS_MAX_LINE_BYTES="4096")
    case = alice.make_case()
    parts = [
        json.dumps({"id": "A1", "name": "first"}).encode(),
        json.dumps({"id": "A2", "name": "x" * 3_000_000}).encode(),  # one line of 3 MB
        json.dumps({"id": "A3", "name": "Zoë"}).encode("utf-8"),
        '{"id": "A4", "name": "Zoë in Windows-1252"}'.encode("cp1252"),
        b'{"id": "A5", "name": "nul \\u0000 here"}',
        json.dumps({"id": "A6", "name": "last, no newline at the end"}).encode(),
    ]
    body = imported(alice, case["id"], b"\n".join(parts), role="accounts", mapping={"id": "account_id", "name": "name"})
    assert body["status"] == "done", body
    assert [e["line"] for e in body["errors"]] == [2, 5]
    assert "3,000,0" in body["errors"][0]["message"] and "4,096" in body["errors"][0]["message"]
    assert "NUL" in body["errors"][1]["message"]
    got = {r["row"]: r for r in records(alice, body["id"])}
    assert sorted(got) == [1, 3, 4, 6]
    assert got[4]["fields"]["name"] == "Zoë in Windows-1252" and got[4]["decoded_as"] == "windows-1252"
    assert got[3]["decoded_as"] is None


def test_a_gzip_bomb_fails_at_the_cap_and_keeps_nothing(alice, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "records_max_inflated_bytes", 1_000_000)
    workers_with(CASEBINDER_RECORDS_MAX_INFLATED_BYTES="1000000")
    case = alice.make_case()
    line = (json.dumps({"id": "A1", "pad": " " * 900}) + "\n").encode()
    bomb = gzip.compress(line * 20_000)  # 18 MB inflated from a few hundred KB... and far more in a real one
    body = imported(alice, case["id"], bomb, role="accounts", mapping={"id": "account_id"})
    assert body["status"] == "failed" and "inflates to more than 1,000,000 bytes" in body["message"]
    assert records(alice, body["id"]) == []


def test_non_members_see_nothing_and_a_hold_keeps_the_set(alice, bob):
    case = alice.make_case()
    body = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)
    sid = body["id"]
    for path in (f"/record-sets/{sid}", f"/record-sets/{sid}/records", f"/record-sets/{sid}/records/2"):
        assert bob.get(f"/api/v1{path}").status_code == 404
    assert bob.post(f"/api/v1/record-sets/{sid}/extracts", json={"filter": {}, "title": "x"}).status_code == 404
    assert bob.delete(f"/api/v1/record-sets/{sid}").status_code == 404
    assert send_set(bob, case["id"], b"id\n1\n", role="accounts", mapping={"id": "account_id"}).status_code == 404
    hold = alice.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"reason": "Preservation letter of 2021-03-01"})
    assert hold.status_code == 200, hold.text
    refused = alice.delete(f"/api/v1/record-sets/{sid}")
    assert refused.status_code == 409 and refused.json()["code"] == "case_on_hold"
    audit = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "delete.refused"}).json()["items"]
    assert [e["details"]["attempted"] for e in audit] == ["record_set.delete"]  # kept, though the request rolled back
    assert len(records(alice, sid)) == 4
    assert alice.delete(f"/api/v1/cases/{case['id']}/legal-hold").status_code == 200
    assert alice.delete(f"/api/v1/record-sets/{sid}").status_code == 204
    assert alice.get(f"/api/v1/record-sets/{sid}").status_code == 404
    assert alice.get(f"/api/v1/evidence/{body['evidence_id']}").status_code == 200  # the original stays evidence


def _stored(set_id: str) -> tuple[int, bool]:
    """(records stored for the set, whether it has a partition of its own: PostgreSQL only)."""
    from sqlalchemy import inspect, text

    from api.db import get_engine
    from api.records import load

    engine = get_engine()
    set_uuid = uuid.UUID(set_id)
    with engine.connect() as conn:
        count = conn.execute(
            text(f"SELECT count(*) FROM records WHERE {load.set_clause(set_uuid, engine.dialect.name)}")
        )
        table = load.set_table(set_uuid, engine.dialect.name)
        return count.scalar_one(), table != "records" and inspect(conn).has_table(table)


def test_a_sets_records_are_its_own_and_go_with_it(alice, monkeypatch, workers_with):
    """On PostgreSQL each set's records are a partition of their own, its indexes built on it: a set removed is
    emptied at once, and its table dropped when the next import starts. On SQLite they share one table. Either way
    the other sets' records and lookups are untouched."""
    from api.db import get_engine

    monkeypatch.setattr(get_settings(), "records_indexed_from_rows", 1)
    workers_with(CASEBINDER_RECORDS_INDEXED_FROM_ROWS="1")
    postgres = get_engine().dialect.name == "postgresql"
    case = alice.make_case()
    kept = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)["id"]
    gone = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)["id"]
    assert _stored(kept) == _stored(gone) == (4, postgres)
    assert {name.rsplit("_", 1)[1] for name in _own_indexes(gone)} == {"k1", "k2", "k3", "k4", "at"}
    assert alice.delete(f"/api/v1/record-sets/{gone}").status_code == 204
    assert _stored(gone) == (0, postgres) and _own_indexes(gone) == set()  # emptied; its table waits for an import
    after = imported(alice, case["id"], b"id\nA1\n", role="accounts", mapping={"id": "account_id"})
    assert after["status"] == "done"
    assert _stored(gone) == (0, False) and _stored(after["id"]) == (1, postgres)
    assert _stored(kept) == (4, postgres)
    assert [r["row"] for r in records(alice, kept, product_id="B0001")] == [2, 3]


def test_an_import_goes_on_while_a_long_read_keeps_a_removed_sets_table_from_being_dropped(alice):
    """Dropping a removed set's partition locks the whole records table, so the import that tries waits a second at
    most behind a long read (an analysis, an extract) and goes on without it; the next import, the read over,
    drops it."""
    from sqlalchemy import text

    from api.db import get_engine

    engine = get_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps every set's records in one table")
    case = alice.make_case()
    gone = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)["id"]
    assert alice.delete(f"/api/v1/record-sets/{gone}").status_code == 204
    with engine.connect() as reader:  # a long read of the table, holding its lock meanwhile
        reader.execute(text("SELECT count(*) FROM records")).scalar_one()
        during = imported(alice, case["id"], b"id\nA1\n", role="accounts", mapping={"id": "account_id"})
        assert during["status"] == "done" and _stored(during["id"]) == (1, True)
        assert _stored(gone) == (0, True)  # left for the next import
        reader.rollback()
    after = imported(alice, case["id"], b"id\nA2\n", role="accounts", mapping={"id": "account_id"})
    assert after["status"] == "done" and _stored(gone) == (0, False)
    assert [r["fields"]["account_id"] for r in records(alice, during["id"])] == ["A1"]


def test_an_import_in_progress_reports_its_progress(alice):
    case = alice.make_case()
    content = "".join(json.dumps({"id": f"A{n}", "email": f"p{n}@x.example"}) + "\n" for n in range(30_000))
    r = send_set(alice, case["id"], content.encode(), role="accounts", mapping={"id": "account_id", "email": "email"})
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "done")
    seen = []
    while (now := alice.get(f"/api/v1/record-sets/{r.json()['id']}").json())["status"] not in ("done", "failed"):
        seen.append((now["rows_done"], now["rows_total"]))
    assert now["status"] == "done" and now["rows_done"] == now["rows_total"] == 30_000
    assert all(done <= 30_000 for done, _ in seen)
    assert [r["row"] for r in records(alice, now["id"], email="P29999@X.example")] == [30_000]
    wait_imported(alice, now["id"])


def test_a_purged_original_takes_its_record_sets_with_it(alice, make_user):
    admin = make_user(admin=True)
    case = alice.make_case()
    body = imported(alice, case["id"], REVIEWS_CSV.encode(), role="reviews", mapping=REVIEWS_MAPPING)
    assert len(records(alice, body["id"])) == 4
    gone = alice.delete(f"/api/v1/evidence/{body['evidence_id']}", params={"reason": "uploaded into the wrong case"})
    assert gone.status_code == 204, gone.text
    assert len(records(alice, body["id"])) == 4  # a soft delete can be undone: the set stays until the purge
    purged = admin.post("/api/v1/admin/purge")
    assert purged.status_code == 200, purged.text
    assert alice.get(f"/api/v1/record-sets/{body['id']}").status_code == 404


PAYPAL_CSV = (
    '\ufeff"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"From Email Address","To Email Address","Transaction ID","Item Title","Note"\r\n'
    '"03/04/2021","17:30:00","PST","Emily Smith","Payment Refund","Completed","USD","-1,250.00","0.00","-1,250.00",'
    '"seller@shop.example","Emily@Mail.example","1AB23456CD789012E","Electric Toothbrush","review reward"\r\n'
    '"03/15/2021","09:05:07","PDT","张伟","Express Checkout Payment","Completed","USD","-49.99","0.00","-49.99",'
    '"seller@shop.example","wei@mail.example","2AB23456CD789012E","Yoga Mat","B0001"\r\n'
    '"11/07/2021","01:30:00","PDT","محمد","Payment Reversal","Reversed","USD","49.99","0.00","49.99",'
    '"seller@shop.example","m@mail.example","3AB23456CD789012E","",""\r\n'
    '"12/01/2021","23:59:59","PST","","General Currency Conversion","Completed","EUR","-20.00","0.00","-20.00",'
    '"","","4AB23456CD789012E","",""\r\n'
    '"12/02/2021","10:00:00","IST","","General Payment","Completed","USD","-5.00","0.00","-5.00",'
    '"seller@shop.example","x@mail.example","5AB23456CD789012E","",""\r\n'
)
PAYPAL_MAPPING = {
    "Date": "paid_at", "Time": "paid_at", "TimeZone": "paid_at", "Name": "payee", "Type": "type",
    "Currency": "currency", "Gross": "amount", "From Email Address": "payer", "To Email Address": "payee_email",
    "Transaction ID": "txn_id", "Note": "memo",
}  # fmt: skip


def test_a_paypal_activity_export_imports_as_paypal_writes_it(alice):
    """PayPal's activity export as it comes: the date (month first), the time of day and the zone in three columns,
    its own names for the type, amounts with thousands and a minus; lines that send no money are kept, typed
    `other`. A zone that names two offsets is refused, asking for the offset."""
    case = alice.make_case(timezone="Europe/London")
    body = imported(alice, case["id"], PAYPAL_CSV.encode(), role="payments", mapping=PAYPAL_MAPPING,
                    name="PayPal activity", date_order="mdy", filename="Download.CSV")  # fmt: skip
    assert body["status"] == "done" and body["date_order"] == "mdy"
    assert body["rows_done"] == 4 and body["rows_rejected"] == 1
    assert body["errors"][0]["line"] == 6
    assert "IST may be India, Israel or Ireland time; write the offset" in body["errors"][0]["message"]
    assert "paid_at (from Date + Time + TimeZone)" in body["errors"][0]["message"]
    got = {r["row"]: r for r in records(alice, body["id"])}
    assert {row: r["fields"]["paid_at"] for row, r in got.items()} == {
        2: "2021-03-05T01:30:00Z",  # 17:30 PST is 01:30 UTC the next day
        3: "2021-03-15T16:05:07Z",  # PDT: seven hours behind
        4: "2021-11-07T08:30:00Z",  # the hour that happens twice, told apart by its zone
        5: "2021-12-02T07:59:59Z",
    }
    assert {row: r["fields"].get("type") for row, r in got.items()} == {
        2: "refund", 3: "payment", 4: "reversal", 5: "other"
    }  # fmt: skip
    assert got[2]["fields"]["amount"] == "-1250.00" and got[2]["fields"]["payee_email"] == "emily@mail.example"
    assert got[2]["unmapped"] == {"Status": "Completed", "Fee": "0.00", "Net": "-1,250.00",
                                  "Item Title": "Electric Toothbrush"}  # fmt: skip
    assert got[3]["fields"]["payee"] == "张伟" and got[4]["fields"]["payee"] == "محمد"
    assert [r["row"] for r in records(alice, body["id"], type="Payment Refund")] == [2]
    assert [r["row"] for r in records(alice, body["id"], **{"from": "2021-03-15", "to": "2021-03-16"})] == [3]


def test_dates_of_numbers_are_read_in_the_order_said_and_never_guessed(alice):
    """03/04/2021 is read as the record set says (day first here), is refused without a date order with a message
    that asks for one, and a date order that is neither is a 422 with nothing stored; a fourth field for a time is a
    422 naming the limit."""
    case = alice.make_case(timezone="UTC")
    cid = case["id"]
    content = b"id,when,at,amount\nT1,03/04/2021,17:30,1.00\nT2,2021/04/05,08:00 +02:00,2.00\n"
    mapping = {"id": "txn_id", "when": "paid_at", "at": "paid_at", "amount": "amount"}
    day_first = imported(alice, cid, content, role="payments", mapping=mapping, date_order="dmy")
    paid = {r["fields"]["txn_id"]: r["fields"]["paid_at"] for r in records(alice, day_first["id"])}
    assert paid == {"T1": "2021-04-03T17:30:00Z", "T2": "2021-04-05T06:00:00Z"}
    unsaid = imported(alice, cid, content, role="payments", mapping=mapping)
    assert unsaid["rows_done"] == 1 and unsaid["rows_rejected"] == 1 and unsaid["errors"][0]["line"] == 2
    assert (
        "month then day, or day then month? Say the file's date order (date_order: mdy or dmy)"
        in (unsaid["errors"][0]["message"])
    )
    before = alice.get(f"/api/v1/cases/{cid}/exhibits").json()["items"]
    r = send_set(alice, cid, content, role="payments", mapping=mapping, date_order="ymd")
    assert r.status_code == 422 and "date_order: 'ymd' is not one of mdy" in r.text
    r = send_set(alice, cid, content, role="payments", mapping=mapping | {"id": "paid_at", "amount": "paid_at"})
    assert r.status_code == 422 and "paid_at is mapped from 4 fields; at most 3" in r.text
    assert alice.get(f"/api/v1/cases/{cid}/exhibits").json()["items"] == before


def test_the_demos_own_paypal_export_imports_whole(alice, tmp_path):
    """The PayPal activity export the demo case holds as evidence, read into records as it is: every line a record,
    at its time in UTC, none refused."""
    import random

    from api.demo_data import write_activity_csv

    path = write_activity_csv(tmp_path / "paypal_activity.csv", [], 60, random.Random(3)).path
    case = alice.make_case(timezone="America/New_York")
    body = imported(alice, case["id"], path.read_bytes(), role="payments", mapping=PAYPAL_MAPPING, date_order="mdy",
                    name="PayPal activity export")  # fmt: skip
    assert (body["status"], body["rows_done"], body["rows_rejected"]) == ("done", 60, 0), body
    lines = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for record in records(alice, body["id"]):
        line = lines[record["row"] - 2]
        month, day, year = line["Date"].split("/")
        assert record["fields"]["paid_at"] == f"{year}-{month}-{day}T{line['Time']}Z"  # the file says UTC
        assert record["fields"]["type"] == {"Payment Refund": "refund", "General Payment": "payment"}[line["Type"]]
        assert record["fields"]["amount"] == line["Gross"] and record["fields"]["txn_id"] == line["Transaction ID"]
