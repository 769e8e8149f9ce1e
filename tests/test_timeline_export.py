"""Exports: the CSV read back row by row, the PDF summary opened with pikepdf and its text read back."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pikepdf
import pytest

from api.event_clock import EventClock, stored_text
from api.services.timeline import csv as timeline_csv
from api.services.timeline.csv import CSV_COLUMNS
from api.services.timeline.pdf import MAX_PDF_EVENTS
from api.templating import refuse_all_fetcher
from tests.helpers import build
from tests.timeline_support import add_event, import_file, pdf_text, squash, timeline, titles

pytestmark = pytest.mark.slow

CAPTION = {
    "title": "Acme Audio LLC v. Mpow Direct et al.",
    "docket_number": "2:21-cv-04417",
    "court": "United States District Court, C.D. Cal.",
    "timezone": "America/Los_Angeles",
    "parties": [
        {"name": "Acme Audio LLC", "role": "plaintiff"},
        {"name": "Mpow Direct", "role": "defendant"},
        {"name": "ReviewClub Deals", "role": "defendant"},
    ],
}


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_export_reads_back_and_imports_again(alice):
    case = alice.make_case(**CAPTION)
    cid = case["id"]
    item = alice.upload(
        cid,
        b"refund pdf",
        kind="refund_record",
        title="Refund",
        occurred_at="2021-03-06T10:00:00",
        facts=json.dumps({"amount": "42.10", "payee": "Noah Smith", "processor": "PayPal"}),
    ).json()
    add_event(alice, cid, occurred_at="2021-03", title='=HYPERLINK("http://x.example")', tags=["a,b", "c"])
    add_event(
        alice,
        cid,
        occurred_at="2021-03-04T23:30",
        title='Review, "quoted"\nsecond line',
        disputed=True,
        evidence_id=item["id"],
        page=2,
        kind="review_posted",
    )
    by_accept = _rows(alice.get(f"/api/v1/cases/{cid}/timeline", headers={"Accept": "text/csv"}))
    by_param = _rows(alice.get(f"/api/v1/cases/{cid}/timeline", params={"format": "csv", "limit": 1}))
    assert by_accept == by_param and len(by_accept) == 3  # the whole selection, whatever the page limit
    month, review, refund = by_accept
    assert list(month) == list(CSV_COLUMNS)
    assert month["title"] == '\'=HYPERLINK("http://x.example")'  # shown as text by spreadsheets, never run
    assert (month["date"], month["precision"], month["tags"]) == ("March 2021", "month", '["a,b", "c"]')
    assert month["occurred_at"] == "2021-03-01T08:00:00Z"
    assert review["title"] == 'Review, "quoted"\nsecond line' and review["disputed"] == "true"
    assert (review["occurred_at_local"], review["date"]) == ("2021-03-04T23:30:00-08:00", "March 4, 2021, 11:30 PM PST")
    assert (review["exhibit_label"], review["evidence_id"], review["page"]) == ("PX-001", item["id"], "2")
    assert (refund["title"], refund["source"], refund["bates"]) == (
        "Refund of $42.10 to Noah Smith via PayPal",
        "derived",
        "",
    )
    filtered = _rows(alice.get(f"/api/v1/cases/{cid}/timeline", params={"format": "csv", "disputed": "true"}))
    assert [r["event_id"] for r in filtered] == [review["event_id"]]

    # The export is a valid import: same titles, dates and precision in another case.
    other = alice.make_case(timezone="America/Los_Angeles")
    exported = alice.get(f"/api/v1/cases/{cid}/timeline", params={"format": "csv", "q": "hyperlink"}).content
    r = import_file(alice, other["id"], exported)
    assert r.status_code == 201, r.text
    again = timeline(alice, other["id"]).json()["items"]
    assert [(e["title"], e["date_display"], e["tags"]) for e in again] == [
        ('=HYPERLINK("http://x.example")', "March 2021", ["a,b", "c"])
    ]


def test_csv_export_streams_the_whole_selection_across_chunks(alice, monkeypatch):
    monkeypatch.setattr(timeline_csv, "EXPORT_CHUNK", 400)  # three chunks, the last one short
    case = alice.make_case()
    cid = case["id"]
    count = 2 * timeline_csv.EXPORT_CHUNK + 300
    lines = ["occurred_at,title,kind"] + [
        f"2021-{1 + i // 1000:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,Event {i},review_posted"
        for i in range(count)
    ]
    assert import_file(alice, cid, "\n".join(lines).encode()).json() == {"imported": count, "format": "csv"}
    rows = _rows(alice.get(f"/api/v1/cases/{cid}/timeline", params={"format": "csv"}))
    assert len(rows) == count and len({r["event_id"] for r in rows}) == count
    assert [r["occurred_at"] for r in rows] == sorted(r["occurred_at"] for r in rows)
    newest = _rows(alice.get(f"/api/v1/cases/{cid}/timeline", params={"format": "csv", "order": "desc"}))
    assert [r["event_id"] for r in newest] == [r["event_id"] for r in rows][::-1]
    # Too many events for one PDF: a clear 422 before any rendering.
    assert count > MAX_PDF_EVENTS
    r = alice.get(f"/api/v1/cases/{cid}/timeline.pdf")
    assert r.status_code == 422 and f"{MAX_PDF_EVENTS:,}" in r.json()["detail"]


def test_pdf_summary_has_caption_entries_and_exhibits(alice):
    case = alice.make_case(**CAPTION)
    cid = case["id"]
    review = alice.upload(
        cid,
        b"review png",
        filename="review.png",
        kind="review_screenshot",
        title="5-star review screenshot",
        occurred_at="2021-03-09T10:15:00",
        facts=json.dumps({"rating": 5, "reviewer_name": "Noah Smith", "asin": "B08PCF32ER"}),
    ).json()
    add_event(
        alice,
        cid,
        occurred_at="2021-03",
        title="Insert cards packed with every order",
        disputed=True,
        description="Per the warehouse manager's testimony.",
    )
    add_event(alice, cid, occurred_at="2021-04-02", title="<script>alert(1)</script> & <b>not bold</b>", kind="filing")
    add_event(alice, cid, occurred_at="2021-03-10", title="Refund paid", evidence_id=review["id"], page=2)
    r = alice.get(f"/api/v1/cases/{cid}/timeline.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="chronology-2-21-cv-04417.pdf"'
    with pikepdf.open(io.BytesIO(r.content)) as pdf:
        assert len(pdf.pages) >= 1
    text = squash(" ".join(pdf_text(r.content)))
    for expected in [
        "UNITED STATES DISTRICT COURT, C.D. CAL.",
        "Acme Audio LLC, Plaintiff, v. Mpow Direct, ReviewClub Deals, Defendants.",
        "Case No. 2:21-cv-04417",
        "SUMMARY CHRONOLOGY OF EVIDENCE",
        "Fed. R. Evid. 1006",
        "America/Los_Angeles",
        "March 2021 Insert cards packed with every order DISPUTED",
        "Per the warehouse manager's testimony.",
        "March 9, 2021 10:15 AM PST 5-star review by Noah Smith on B08PCF32ER",
        "PX-001",
        "PX-001, p. 2",
        "April 2, 2021 <script>alert(1)</script> & <b>not",  # shown as text, not markup
        "No exhibit cited",
        "EXHIBITS SUMMARIZED",
        "5-star review screenshot review.png",
        review["sha256"][:32],  # in two halves, as a hash breaks nowhere by itself
        review["sha256"][32:],
        "Page 1 of",
    ]:
        assert expected in text, expected
    assert text.index("March 2021") < text.index("March 9, 2021") < text.index("April 2, 2021")
    newest_first = squash(
        " ".join(pdf_text(alice.get(f"/api/v1/cases/{cid}/timeline.pdf", params={"order": "desc"}).content))
    )
    assert newest_first.index("April 2, 2021") < newest_first.index("March 2021")
    only_filings = squash(
        " ".join(pdf_text(alice.get(f"/api/v1/cases/{cid}/timeline.pdf", params={"kind": "filing"}).content))
    )
    assert "Insert cards packed" not in only_filings and "kinds: filing" in only_filings
    assert "No exhibit is cited" in only_filings
    assert titles(alice, cid, kind="filing") == ["<script>alert(1)</script> & <b>not bold</b>"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://127.0.0.1/", "https://example.com/x.css", "data:,x"])
def test_pdf_renderer_fetches_no_url(url):
    with pytest.raises(ValueError, match="not loaded"):
        refuse_all_fetcher()(url)


def test_csv_local_times_match_the_api_across_offsets_and_clock_changes(alice):
    """The export formats a whole hour of events at once; it must agree with the API event by event."""
    instants = [
        "2021-03-14T09:59:59Z",  # Los Angeles: the last second before the clocks go forward
        "2021-03-14T10:00:00Z",
        "2021-03-14T10:30:15.5Z",
        "2021-11-07T08:30:00Z",  # the repeated hour when they go back
        "2021-11-07T09:30:00Z",
        "2021-04-04T14:45:00Z",  # Lord Howe Island moves by half an hour
        "2021-06-30T23:59:59Z",
    ]
    for zone in ("America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"):
        case = alice.make_case(timezone=zone)
        for i, at in enumerate(instants):
            add_event(alice, case["id"], occurred_at=at, title=f"e{i}")
        add_event(alice, case["id"], occurred_at="2021-03", title="month")
        api = {e["id"]: e for e in timeline(alice, case["id"]).json()["items"]}
        rows = _rows(alice.get(f"/api/v1/cases/{case['id']}/timeline", params={"format": "csv"}))
        assert len(rows) == len(api) == len(instants) + 1
        for row in rows:
            event = api[row["event_id"]]
            assert row["occurred_at"] == event["occurred_at"], zone
            assert (row["occurred_at_local"], row["date"]) == (event["occurred_at_local"], event["date_display"]), zone


def test_citations_carry_the_bates_numbers_of_the_newest_finished_bundle(alice, corpus):
    """The page, the single event and the CSV export all cite the same Bates page or range."""
    case = alice.make_case(bates_prefix="CITE")
    cid = case["id"]
    pdf = next(f for f in corpus if f.path.suffix == ".pdf")
    item = alice.upload(cid, pdf.path.read_bytes(), filename=pdf.path.name, kind=pdf.kind, title=pdf.title).json()
    assert item["page_count"] >= 1
    on_page = add_event(alice, cid, occurred_at="2021-03-04T10:00", title="page", evidence_id=item["id"], page=1)
    add_event(alice, cid, occurred_at="2021-03-05", title="whole", evidence_id=item["id"])
    past = add_event(alice, cid, occurred_at="2021-03-06", title="past", evidence_id=item["id"], page=9999)
    assert on_page["citation"]["bates"] is None  # no bundle yet

    def cites() -> dict:
        page = {e["title"]: e["citation"]["bates"] for e in timeline(alice, cid).json()["items"]}
        export = {r["title"]: r["bates"] or None for r in _rows(alice.get(f"/api/v1/cases/{cid}/timeline?format=csv"))}
        one = alice.get(f"/api/v1/cases/{cid}/events/{past['id']}").json()["citation"]["bates"]
        assert export == page and one == page["past"], (page, export, one)
        return page

    def expected(bundle: dict) -> dict:
        placed = next(e for e in bundle["exhibits"] if e["evidence_id"] == item["id"])
        first = int(placed["bates_first"].removeprefix("CITE"))
        number = first + placed["first_content_page"] - placed["start_page"]
        digits = bundle["params"]["bates_digits"]
        # Without a page, the exhibit's own pages: its slip sheet is the bundle's page, not the exhibit's.
        content = f"CITE{number:0{digits}d}"
        whole_range = content if content == placed["bates_last"] else f"{content}-{placed['bates_last']}"
        return {"page": content, "whole": whole_range, "past": whole_range}

    first = build(alice, cid)
    assert cites() == expected(first)
    newer = build(alice, cid, bates_start=5000, bates_digits=8)
    assert cites() == expected(newer) != expected(first) and expected(newer)["page"].startswith("CITE00005")
    # The PDF's list of exhibits summarised gives each one's range in that bundle too.
    text = squash(" ".join(pdf_text(alice.get(f"/api/v1/cases/{cid}/timeline.pdf").content)))
    assert expected(newer)["whole"].replace("-", " to ") in text, text
    assert f"p. 1; {expected(newer)['page']}" in text


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London", "UTC"])
def test_hourly_clock_formats_every_event_as_one_at_a_time(zone):
    """Pages and exports reuse each UTC hour's local parts; the text must be what the event alone gives."""
    exact, hourly = EventClock(zone, hourly=False), EventClock(zone, entries=8)  # small: the cache is cleared too
    # Two days around each clock change of these zones in 2021 (Lord Howe moves by half an hour), every 37 minutes.
    for day in ("2021-03-13", "2021-03-27", "2021-04-03", "2021-10-02", "2021-10-30", "2021-11-06"):
        start = datetime.fromisoformat(day).replace(second=7, tzinfo=UTC)
        for step in range(0, 48 * 60, 37):
            at = start + timedelta(minutes=step, microseconds=500_000 * (step % 2))
            for precision, until in (
                ("second", at + timedelta(seconds=1)),
                ("minute", at),
                ("day", at + timedelta(days=1)),
            ):
                text, until_text = stored_text(at), stored_text(until)
                utc, local, date = exact.describe(text, until_text, precision)
                assert hourly.describe(text, until_text, precision) == (utc, local, date), (zone, text, precision)
                assert hourly.csv_fields(text, until_text, precision) == f'{utc},{local},{precision},"{date}"'


def test_exports_are_in_the_audit_trail_and_reading_pages_is_not(alice, make_user):
    """Who took a chronology out of the system, in which format and with which filters; a PDF with its digest."""
    case = alice.make_case(timezone="America/Los_Angeles")
    cid = case["id"]
    add_event(alice, cid, occurred_at="2021-03", title="Insert cards packed", kind="insert_card_received")
    viewer = make_user()
    alice.post(f"/api/v1/cases/{cid}/members", json={"email": viewer.email, "role": "viewer"})

    def exports() -> list[dict]:
        r = alice.get(f"/api/v1/cases/{cid}/audit", params={"action": "timeline.export"})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    assert timeline(viewer, cid, start="2021-03").status_code == 200
    assert viewer.get(f"/api/v1/cases/{cid}/timeline/summary").status_code == 200
    assert exports() == []

    csv_body = viewer.get(f"/api/v1/cases/{cid}/timeline", headers={"Accept": "text/csv"}, params={"kind": "filing"})
    pdf = viewer.get(f"/api/v1/cases/{cid}/timeline.pdf", params={"start": "2021-03", "order": "desc"})
    assert csv_body.status_code == pdf.status_code == 200
    first, second = exports()
    assert (first["actor_email"], first["object_type"], first["object_id"]) == (viewer.email, "case", cid)
    assert first["details"] == {"format": "csv", "filter": {"kind": ["filing"], "order": "asc"}}
    assert second["details"] == {
        "format": "pdf",
        "sha256": hashlib.sha256(pdf.content).hexdigest(),
        "size_bytes": len(pdf.content),
        "filter": {"start": "2021-03", "order": "desc"},
    }
    # A refused request exports nothing and records nothing.
    assert alice.get(f"/api/v1/cases/{cid}/timeline.pdf", params={"kind": "nonsense"}).status_code == 422
    assert len(exports()) == 2
