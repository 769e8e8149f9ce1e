"""The timeline query: fuzzy dates against ranges, the case timezone, keyset paging, filters, summary."""

import base64
import json

from models.timeline import TimelinePage
from tests.timeline_support import add_event, all_pages, timeline, titles

LA = {"timezone": "America/Los_Angeles"}


def test_coarse_events_match_every_range_their_span_overlaps(alice):
    case = alice.make_case(**LA)
    cid = case["id"]
    for when, title in [
        ("2021", "year"),
        ("2021-03", "month"),
        ("2021-03-04", "day"),
        ("2021-03-04T23:30", "minute"),
        ("2021-03-04T12:00:05", "second"),
        ("2021-02-28T23:59:59", "feb"),
        ("2020-12", "december"),
    ]:
        add_event(alice, cid, occurred_at=when, title=title)
    assert titles(alice, cid, start="2021-03-04", end="2021-03-05") == ["year", "month", "day", "second", "minute"]
    assert titles(alice, cid, start="2021-03-04T12:00:06") == ["year", "month", "day", "minute"]
    assert titles(alice, cid, start="2021-03-04T12:00:05", end="2021-03-04T12:00:06") == [
        "year",
        "month",
        "day",
        "second",
    ]
    assert titles(alice, cid, start="2021-04", end="2021-05") == ["year"]
    assert titles(alice, cid, end="2021-03") == ["december", "year", "feb"]
    assert titles(alice, cid, start="2020-12-31", end="2021-01-01") == ["december"]
    assert titles(alice, cid, start="2022") == []
    # Newest first: the same set, reversed.
    assert titles(alice, cid, start="2021-03-04", end="2021-03-05", order="desc") == [
        "minute",
        "second",
        "day",
        "month",
        "year",
    ]


def test_an_event_at_2330_in_los_angeles_belongs_to_that_local_day(alice):
    la, utc = alice.make_case(**LA), alice.make_case()
    for case in (la, utc):
        add_event(alice, case["id"], occurred_at="2021-03-04T23:30:00-08:00", title="review posted")
    [event] = timeline(alice, la["id"]).json()["items"]
    assert event["occurred_at"] == "2021-03-05T07:30:00Z"
    assert event["occurred_at_local"] == "2021-03-04T23:30:00-08:00"
    assert event["date_display"] == "March 4, 2021, 11:30:00 PM PST"  # seconds were written, so they are shown
    assert titles(alice, la["id"], start="2021-03-04", end="2021-03-05") == ["review posted"]
    assert titles(alice, la["id"], start="2021-03-05", end="2021-03-06") == []
    # An explicit offset in the query wins over the case timezone.
    assert titles(alice, la["id"], start="2021-03-05T00:00:00Z", end="2021-03-06T00:00:00Z") == ["review posted"]
    # In a UTC case the same instant is on the 5th.
    assert titles(alice, utc["id"], start="2021-03-05", end="2021-03-06") == ["review posted"]
    assert timeline(alice, utc["id"]).json()["items"][0]["date_display"] == "March 5, 2021, 7:30:00 AM UTC"
    # A local day is 23 hours long when the clocks go forward.
    dst = add_event(alice, la["id"], occurred_at="2021-03-14", title="spring forward")
    assert (dst["occurred_at"], dst["occurred_until"]) == ("2021-03-14T08:00:00Z", "2021-03-15T07:00:00Z")


def test_listing_is_exactly_the_documented_schema(alice):
    case = alice.make_case(**LA)
    item = alice.upload(case["id"], b"chat", kind="chat_log", title="Chat", occurred_at="2021-03-04T10:00:00.250")
    add_event(alice, case["id"], occurred_at="2021-03", title="month", evidence_id=item.json()["id"], page=2)
    add_event(alice, case["id"], occurred_at="2021-03-04T23:30", title="minute", tags=["a", "é"])
    body = timeline(alice, case["id"]).json()
    # The page is written without a model per event, so hold it to the model byte for byte.
    assert TimelinePage.model_validate(body).model_dump(mode="json") == body
    assert [e["occurred_at"] for e in body["items"]] == [
        "2021-03-01T08:00:00Z",
        "2021-03-04T18:00:00.250000Z",
        "2021-03-05T07:30:00Z",
    ]
    event = body["items"][1]
    assert alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").json() == event


def test_pages_in_both_orders_match_the_full_ordering(alice):
    case = alice.make_case(**LA)
    cid = case["id"]
    created = [add_event(alice, cid, occurred_at="2021-03-10T08:00", title=f"tie {i}") for i in range(4)]
    created += [add_event(alice, cid, occurred_at=f"2021-03-{d:02d}T09:00", title=f"day {d}") for d in range(1, 16)]
    created += [add_event(alice, cid, occurred_at=m, title=f"coarse {m}") for m in ("2021-02", "2021-03", "2021")]
    ordered = sorted(created, key=lambda e: (e["occurred_at"], e["id"]))
    for params in ({}, {"start": "2021-03-05", "end": "2021-03-12"}, {"start": "2021-02-15"}):
        expected = [e["id"] for e in ordered if _overlaps(e, params)]
        for limit in (1, 4, 7):
            asc = [e["id"] for e in all_pages(alice, cid, limit=limit, **params)]
            desc = [e["id"] for e in all_pages(alice, cid, limit=limit, order="desc", **params)]
            assert asc == expected, (params, limit)
            assert desc == expected[::-1], (params, limit)


def _overlaps(event, params):
    bounds = {
        "2021-03-05": "2021-03-05T08:00:00Z",
        "2021-03-12": "2021-03-12T08:00:00Z",
        "2021-02-15": "2021-02-15T08:00:00Z",
    }
    start, end = bounds.get(params.get("start")), bounds.get(params.get("end"))
    return (start is None or event["occurred_until"] > start) and (end is None or event["occurred_at"] < end)


def test_cursor_is_stable_while_events_are_added(alice):
    case = alice.make_case()
    cid = case["id"]
    originals = {add_event(alice, cid, occurred_at=f"2021-05-{d:02d}", title=f"d{d}")["id"] for d in range(1, 21)}
    first = timeline(alice, cid, limit=5).json()
    seen = [e["id"] for e in first["items"]]
    # Insert before the cursor (never shown now), at the cursor's own time (after it only if its id sorts later),
    # and after it (shown in order).
    add_event(alice, cid, occurred_at="2021-04-30", title="earlier")
    add_event(alice, cid, occurred_at="2021-05-25", title="later")
    cursor, later_titles = first["next_cursor"], []
    while cursor:
        page = timeline(alice, cid, limit=5, cursor=cursor).json()
        seen += [e["id"] for e in page["items"]]
        later_titles += [e["title"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 21
    assert originals <= set(seen)
    assert "earlier" not in later_titles and later_titles[-1] == "later"


def _forge(cursor: str, **change) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    if "time" in change:
        raw[1] = change["time"]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()


def test_bad_parameters_get_clear_errors(alice):
    case = alice.make_case()
    cid = case["id"]
    for i in range(3):
        add_event(alice, cid, occurred_at=f"2021-01-0{i + 1}", title=f"e{i}", kind="filing")
    cursor = timeline(alice, cid, limit=1).json()["next_cursor"]
    expectations = [
        ({"start": "yesterday"}, 422, "start"),
        ({"end": "2021-02-30"}, 422, "end"),
        ({"start": "2021-03", "end": "2021-02"}, 422, "must be after start"),
        ({"start": "2021-03", "end": "2021-03"}, 422, "must be after start"),
        ({"kind": "bribery"}, 422, "kind"),
        ({"evidence_kind": "rumour"}, 422, "evidence_kind"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"order": "sideways"}, 422, "order"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": cursor, "order": "desc"}, 400, "cursor"),
        ({"cursor": cursor, "kind": "filing"}, 400, "cursor"),
        ({"cursor": _forge(cursor, time="2021-01-01T00:00:00")}, 400, "cursor"),
        ({"cursor": _forge(cursor, time="soon")}, 400, "cursor"),
    ]
    for params, status, word in expectations:
        r = timeline(alice, cid, **params)
        assert r.status_code == status, (params, r.status_code, r.text)
        assert word in json.dumps(r.json()), (params, r.json())
    assert len(timeline(alice, cid, limit=1000).json()["items"]) == 3


def test_filters_by_kind_tag_evidence_kind_disputed_and_text(alice):
    case = alice.make_case()
    cid = case["id"]
    add_event(
        alice,
        cid,
        occurred_at="2021-03-01",
        title="Refund via PayPal",
        kind="refund_issued",
        tags=["PayPal", "100%_sure"],
    )
    add_event(
        alice, cid, occurred_at="2021-03-02", title="Review posted", kind="review_posted", tags=["paid"], disputed=True
    )
    add_event(
        alice, cid, occurred_at="2021-03-03", title="Complaint filed", kind="filing", description="Docket 1 (paypal)"
    )
    alice.upload(cid, b"chat", kind="chat_log", title="Chat", occurred_at="2021-03-04T10:00:00")
    assert titles(alice, cid, kind="filing") == ["Complaint filed"]
    assert titles(alice, cid, kind=["filing", "review_posted"]) == ["Review posted", "Complaint filed"]
    assert titles(alice, cid, kind="filing,review_posted") == ["Review posted", "Complaint filed"]
    assert titles(alice, cid, tag="paypal") == ["Refund via PayPal"]
    assert titles(alice, cid, tag="100%_sure") == ["Refund via PayPal"]
    assert titles(alice, cid, tag="100") == [] and titles(alice, cid, tag="%") == []
    assert titles(alice, cid, evidence_kind="chat_log") == ["Chat"]
    assert titles(alice, cid, disputed="true") == ["Review posted"]
    assert len(titles(alice, cid, disputed="false")) == 3
    assert titles(alice, cid, q="PAYPAL") == ["Refund via PayPal", "Complaint filed"]
    assert titles(alice, cid, q="paypal", kind="filing") == ["Complaint filed"]


def test_summary_counts_by_kind_and_month(alice):
    case = alice.make_case(**LA)
    cid = case["id"]
    add_event(alice, cid, occurred_at="2021-01-31T23:30", title="a", kind="review_posted")
    add_event(alice, cid, occurred_at="2021-01-15", title="b", kind="review_posted", disputed=True)
    add_event(alice, cid, occurred_at="2021-04", title="c", kind="refund_issued")
    add_event(alice, cid, occurred_at="2021-04-30T23:59:59", title="d", kind="filing")
    summary = alice.get(f"/api/v1/cases/{cid}/timeline/summary").json()
    assert (summary["total"], summary["disputed"]) == (4, 1)
    assert summary["by_kind"] == {"filing": 1, "refund_issued": 1, "review_posted": 2}
    assert summary["by_month"] == [
        {"month": "2021-01", "count": 2},
        {"month": "2021-02", "count": 0},
        {"month": "2021-03", "count": 0},
        {"month": "2021-04", "count": 2},
    ]
    assert (summary["first"]["title"], summary["last"]["title"]) == ("b", "d")
    filtered = alice.get(f"/api/v1/cases/{cid}/timeline/summary", params={"kind": "review_posted"}).json()
    assert filtered["total"] == 2 and [m["month"] for m in filtered["by_month"]] == ["2021-01"]
    empty = alice.get(f"/api/v1/cases/{cid}/timeline/summary", params={"start": "2030"}).json()
    assert (empty["total"], empty["by_month"], empty["first"]) == (0, [], None)
