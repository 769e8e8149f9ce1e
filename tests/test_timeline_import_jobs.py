"""Imports run as jobs: over the size threshold or with Prefer: respond-async, staged and run in the background,
followed at GET /imports/{id}; all or nothing still, the staged file gone once the job ends. And the fast path for
the common row shapes stores exactly what the full checks (normalize_row) store."""

import hashlib
import json
import uuid

import pytest
from sqlalchemy import text

from api.db import session_scope
from api.services.timeline import importer as import_service
from api.services.timeline.events import case_evidence_ids
from api.services.timeline.stored import FAST_COLUMNS, RowBuilder, StoredForm
from models.case import Case
from models.common import utcnow
from tests.conftest import stored_blobs
from tests.server_process import serving, wait_for
from tests.timeline_support import all_pages, finished_import, import_file

pytestmark = pytest.mark.slow

ASYNC = {"Prefer": "respond-async"}


def _csv(rows: int, start: int = 0) -> bytes:
    lines = ["occurred_at,title,kind,tags"]
    for n in range(start, start + rows):
        lines.append(
            f"2021-03-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}Z,Review {n},review_posted,r{n % 7}"
        )
    return ("\n".join(lines) + "\n").encode()


def _staged(blob_root) -> list:
    folder = blob_root / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def _imported(actor, case_id: str) -> list[dict]:
    return [e for e in all_pages(actor, case_id, limit=1000) if e["source"] == "imported"]


def test_a_body_over_the_threshold_is_imported_by_a_job_that_reports_its_progress(
    alice, settings, monkeypatch, blob_root
):
    monkeypatch.setattr(settings, "import_job_threshold_bytes", 4096)
    cid = alice.make_case()["id"]
    body = _csv(400)
    r = import_file(alice, cid, body)
    assert r.status_code == 202 and "Preference-Applied" not in r.headers, r.text
    queued = r.json()
    assert (queued["status"], queued["format"], queued["size_bytes"]) == ("queued", "csv", len(body))
    assert queued["sha256"] == hashlib.sha256(body).hexdigest()

    job = finished_import(alice, r)
    assert (job["status"], job["imported"], job["errors"], job["message"]) == ("succeeded", 400, [], None)
    assert job["progress"] == {
        "phase": "done",
        "rows_read": 400,
        "rows_total": 400,
        "bytes_read": len(body),
        "bytes_total": len(body),
    }
    assert job["started_at"] and job["finished_at"] and job["created_at"] <= job["started_at"] <= job["finished_at"]
    events = _imported(alice, cid)
    assert len(events) == 400 and {e["title"] for e in events} == {f"Review {n}" for n in range(400)}
    assert {uuid.UUID(e["id"]).version for e in events} == {7}  # time-ordered ids, new for each event
    assert _staged(blob_root) == []
    # The body waited in the blob store, where a worker on any host reads it, and left it with the job.
    wait_for(lambda: job["sha256"] not in stored_blobs(blob_root), seconds=10, what="the staged body to go")

    [audit] = alice.get(f"/api/v1/cases/{cid}/audit", params={"action": "events.import"}).json()["items"]
    assert audit["details"] == {"imported": 400, "format": "csv", "import_id": job["id"]}

    # Under the threshold, an import answers when it is done, as before; a body of unknown length is staged
    # and judged by its size.
    assert import_file(alice, cid, _csv(3, start=1000)).status_code == 201
    r = alice.post(
        f"/api/v1/cases/{cid}/events:import", content=iter([_csv(3, start=2000)]), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 201 and r.json() == {"imported": 3, "format": "csv"}, r.text
    chunked = alice.post(
        f"/api/v1/cases/{cid}/events:import",
        content=iter([_csv(200, start=3000), b""]),
        headers={"Content-Type": "text/csv"},
    )
    assert finished_import(alice, chunked)["imported"] == 200
    # Any size, when the client prefers to be answered at once.
    small = alice.post(
        f"/api/v1/cases/{cid}/events:import",
        content=_csv(2, start=4000),
        headers={"Content-Type": "text/csv"} | ASYNC,
    )
    assert small.headers["Preference-Applied"] == "respond-async"
    assert finished_import(alice, small)["imported"] == 2
    assert len(_imported(alice, cid)) == 400 + 3 + 3 + 200 + 2
    assert _staged(blob_root) == []

    listed = alice.get(f"/api/v1/cases/{cid}/imports", params={"limit": 2}).json()
    assert [j["id"] for j in listed["items"]] == [job["id"], chunked.json()["id"]]
    rest = alice.get(f"/api/v1/cases/{cid}/imports", params={"limit": 2, "cursor": listed["next_cursor"]}).json()
    assert [j["id"] for j in rest["items"]] == [small.json()["id"]] and rest["next_cursor"] is None


def test_a_job_with_a_bad_row_fails_with_its_problems_and_stores_nothing(alice, bob, blob_root):
    cid = alice.make_case()["id"]
    bobs_item = bob.upload(bob.make_case()["id"], b"not yours").json()
    good = _csv(300).decode().splitlines()
    lines = [good[0] + ",evidence_id", *(line + "," for line in good[1:])]
    lines[120] = "March 2nd,Bad date,other,,"
    lines[250] = f"2021-03-05,Someone else's evidence,other,,{bobs_item['id']}"
    body = ("\n".join(lines) + "\n").encode()
    job = finished_import(alice, import_file(alice, cid, body, headers=ASYNC))
    assert job["status"] == "failed" and job["imported"] is None
    assert job["message"] == "nothing was imported: 2 rows with errors"
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(121, "occurred_at"), (251, "evidence_id")]
    assert job["errors"][1]["message"] == f"no evidence {bobs_item['id']} in this case"
    assert job["progress"]["phase"] == "reading" and job["finished_at"]
    assert _imported(alice, cid) == [] and _staged(blob_root) == []
    wait_for(lambda: job["sha256"] not in stored_blobs(blob_root), seconds=10, what="the staged body to go")
    assert alice.get(f"/api/v1/cases/{cid}/audit", params={"action": "events.import"}).json()["items"] == []

    # What cannot be read at all is refused before a job is made.
    r = import_file(alice, cid, b"%PDF-1.7", content_type="application/pdf", headers=ASYNC)
    assert r.status_code == 415 and _staged(blob_root) == []
    assert import_file(alice, cid, b"", headers=ASYNC).status_code == 422
    assert len(alice.get(f"/api/v1/cases/{cid}/imports").json()["items"]) == 1


def test_an_import_job_is_seen_only_by_those_with_access_to_its_case(alice, bob):
    cid = alice.make_case()["id"]
    job = finished_import(alice, import_file(alice, cid, _csv(5), headers=ASYNC))
    assert bob.get(f"/api/v1/imports/{job['id']}").status_code == 404
    assert bob.get(f"/api/v1/cases/{cid}/imports").status_code == 404
    assert bob.get(f"/api/v1/imports/{uuid.uuid4()}").status_code == 404
    alice.post(f"/api/v1/cases/{cid}/members", json={"email": bob.email, "role": "viewer"})
    assert bob.get(f"/api/v1/imports/{job['id']}").json()["status"] == "succeeded"
    assert [j["id"] for j in bob.get(f"/api/v1/cases/{cid}/imports").json()["items"]] == [job["id"]]
    assert import_file(bob, cid, _csv(5), headers=ASYNC).status_code == 403  # a viewer reads, does not import


def test_a_server_stopped_mid_import_marks_the_job_failed_with_nothing_stored(tmp_path):
    with serving(tmp_path) as server:
        with server.client() as http:
            cid = http.post("/api/v1/cases", json={"title": "Stopped", "case_type": "lanham_act"}).json()["id"]
            r = http.post(
                f"/api/v1/cases/{cid}/events:import",
                content=_csv(200_000),
                headers={"Content-Type": "text/csv"} | ASYNC,
            )
            assert r.status_code == 202, r.text
            location = r.headers["Location"]
            wait_for(
                lambda: http.get(location).json()["progress"]["rows_read"] > 0,
                seconds=60,
                what="the import to be under way",
                interval=0.02,
            )
        server.kill()
        server.start()
        with server.client() as http:
            job = http.get(location).json()
            assert job["status"] == "failed" and "the server stopped during the import" in job["message"], job
            assert "nothing was stored" in job["message"] and job["finished_at"]
            assert http.get(f"/api/v1/cases/{cid}/timeline", params={"limit": 10}).json()["items"] == []
            assert list((server.data_dir / "imports").iterdir()) == []
            # The file sent again goes through.
            again = http.post(
                f"/api/v1/cases/{cid}/events:import", content=_csv(50), headers={"Content-Type": "text/csv"} | ASYNC
            )
            job = wait_for(
                lambda: (j := http.get(again.headers["Location"]).json())["status"] in ("succeeded", "failed") and j,
                seconds=60,
                what="the second import to end",
            )
            assert job["imported"] == 50


# Rows of every shape: mixed precisions, UTC and offsets, local times across the DST changes of the case's
# timezone (a minute that does not exist, one that happens twice), non-Latin text, formula-escaped text, tags
# written every which way, evidence ids in other spellings, flags in other words.
def _shapes(evidence: str) -> list[dict]:
    rows = [
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Review posted", "kind": "review_posted"},
        {"occurred_at": "2021-12-31T23:59:59Z", "title": "Last second of the year", "tags": "a, b,a,, c "},
        {"occurred_at": "2020-06-14T10:03", "title": "Local minute", "kind": "order_placed", "disputed": "true"},
        {"occurred_at": "2020-06-14", "title": "A day", "description": "  "},
        {"occurred_at": "2020-06", "title": "A month", "disputed": "yes"},
        {"occurred_at": "2020", "title": "A year", "disputed": "0"},
        {"occurred_at": "2021-03-14T02:30", "title": "In the spring gap"},
        {"occurred_at": "2021-03-14T01:59", "title": "Before the spring change"},
        {"occurred_at": "2021-11-07T01:30", "title": "Twice in the autumn"},
        {"occurred_at": "2021-11-07", "title": "The 25-hour day"},
        {"occurred_at": "2021-03-14", "title": "The 23-hour day"},
        {"occurred_at": "2021-03-04T17:30:05-08:00", "title": "With an offset"},
        {"occurred_at": "2021-03-04T17:30:05+05:30", "title": "India"},
        {"occurred_at": "2021-03-04T17:30:05.250Z", "title": "A fraction"},
        {"occurred_at": "2021-03-04 17:30:05", "title": "With a space"},
        {"occurred_at": "2021-03-04T17:30Z", "title": "Minute in UTC"},
        {"occurred_at": "2024-02-29T12:00:00Z", "title": "Leap day"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "返金済み ✓", "tags": "返金,مراجعة, ביקורת"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "مراجعة خمس نجوم", "description": "पांच सितारा समीक्षा"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": '\'=HYPERLINK("x")', "description": "'+1 dollar"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "'-minus", "tags": "'=tag, plain"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "'@at", "description": "'plain quote"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "  padded title  ", "kind": ""},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Lines\nand\ttabs, \\ too", "description": "a\r\nb"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Cited", "evidence_id": evidence, "page": "12"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Cited loudly", "evidence_id": evidence.upper()},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Cited plainly", "evidence_id": evidence.replace("-", "")},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Page 7", "evidence_id": evidence, "page": "007"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Kind in capitals", "kind": "Refund_Issued"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Flag in capitals", "disputed": "TRUE"},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "JSON tags", "tags": '["x", "y", "x"]'},
        {"occurred_at": "2020-06-14T17:03:22Z", "title": "Coarsened", "precision": "day"},
        {"occurred_at": " 2021 ", "title": "Spaced year"},
    ]
    return [{name: row.get(name, "") for name in FAST_COLUMNS} for row in rows]


def _as_csv(rows: list[dict]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FAST_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _as_jsonl(rows: list[dict]) -> bytes:
    """The same rows with `disputed` as a JSON boolean, which only the full checks read."""
    lines = []
    for row in rows:
        flag = row["disputed"].strip().lower()
        lines.append(json.dumps(row | {"disputed": flag in ("true", "yes", "y", "1")}))
    return "\n".join(lines).encode()


def _stated(event: dict) -> str:
    skip = {"id", "case_id", "created_at", "updated_at"}
    return json.dumps({k: v for k, v in event.items() if k not in skip}, sort_keys=True, ensure_ascii=False)


def test_the_fast_path_stores_what_the_full_checks_store(alice):
    cid = alice.make_case(timezone="America/Los_Angeles")["id"]
    evidence = alice.upload(cid, b"an order record", kind="order_record", title="Order").json()["id"]
    rows = _shapes(evidence)

    # Row by row: what the fast path builds is what the full way builds, on either database's stored form.
    with session_scope() as session:
        case = session.get(Case, uuid.UUID(cid))
        known = case_evidence_ids(session, case)
    for postgres in (False, True):
        builder = RowBuilder(case, case.created_by, StoredForm(postgres), known, now=utcnow())
        taken = 0
        for n, row in enumerate(rows, start=2):
            slow, errors, _ = builder.slow(dict(row), n)
            assert errors == [] and slow is not None, (row, errors)
            fast = builder.fast([row[name] for name in FAST_COLUMNS])
            if fast is not None:
                taken += 1
                assert fast == slow, row
        assert taken >= len(rows) - 4  # all but the capitalised kind and flag, the JSON tags and the precision

    # Through the API: the CSV (fast path) and the same rows as JSON Lines (full checks) read back the same.
    assert import_file(alice, cid, _as_csv(rows)).json() == {"imported": len(rows), "format": "csv"}
    fast_events = _imported(alice, cid)
    r = import_file(alice, cid, _as_jsonl(rows), content_type="application/x-ndjson")
    assert r.json() == {"imported": len(rows), "format": "jsonl"}, r.text
    seen = {e["id"] for e in fast_events}
    full_events = [e for e in _imported(alice, cid) if e["id"] not in seen]
    assert sorted(map(_stated, fast_events)) == sorted(map(_stated, full_events))
    # JSON Lines of plain strings take the fast path too.
    strings = "\n".join(json.dumps(row) for row in rows).encode()
    assert import_file(alice, cid, strings, content_type="application/x-ndjson").json()["imported"] == len(rows)
    seen |= {e["id"] for e in full_events}
    jsonl_events = [e for e in _imported(alice, cid) if e["id"] not in seen]
    assert sorted(map(_stated, jsonl_events)) == sorted(map(_stated, fast_events))
    by_title = {e["title"]: e for e in fast_events}
    assert by_title["Twice in the autumn"]["occurred_at_local"] == "2021-11-07T01:30:00-07:00"
    assert by_title["In the spring gap"]["occurred_at"] == "2021-03-14T10:30:00Z"
    assert by_title['=HYPERLINK("x")']["description"] == "+1 dollar"
    assert by_title["-minus"]["tags"] == ["=tag", "plain"]
    assert by_title["Cited loudly"]["evidence_id"] == evidence and by_title["Page 7"]["page"] == 7
    assert by_title["Last second of the year"]["occurred_until"] == "2022-01-01T00:00:00Z"


def test_a_large_import_brings_the_statistics_up_to_date(alice):
    """An import that adds many rows also runs ANALYZE, so the timeline queries plan on real numbers; on
    PostgreSQL it vacuums the tables once it has committed, so the visibility map covers the new rows."""
    cid = alice.make_case()["id"]
    count = 3 * import_service.STATISTICS_AFTER_ROWS
    with session_scope() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            vacuums = session.execute(
                text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'timeline_event_tags'")
            ).scalar_one()
    assert import_file(alice, cid, _csv(count)).json()["imported"] == count
    with session_scope() as session:
        if postgres:
            session.execute(text("SELECT pg_stat_clear_snapshot()"))
            assert (
                session.execute(
                    text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'timeline_event_tags'")
                ).scalar_one()
                == vacuums + 1
            )
        if not postgres:
            stats = session.execute(
                text("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_timeline_events_case_occurred'")
            )
            rows = int(stats.scalar_one().split()[0])
        else:
            rows = session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'timeline_events'")
            ).scalar_one()
    assert rows >= count / 2  # SQLite samples (analysis_limit): an estimate, not the exact count
