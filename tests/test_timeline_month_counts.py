"""The month counts the database keeps for each case's chronology (timeline_month_counts): in step with every way
events change, and the summary's months read from them agree with the events listed, in any timezone."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from api.db import session_scope
from models.timeline import TimelineEvent, TimelineMonthCount
from tests.timeline_support import add_event, all_pages, import_file

HOUR = timedelta(hours=1)


def _slots(at: datetime) -> list[str]:
    """The slots an event starting at `at` counts in, worked out here from the definition."""
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    after = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    if at - start < 14 * HOUR:
        return ["all", f"+{(at - start) // HOUR:02d}"]
    if after - at <= 12 * HOUR:
        return ["all", f"-{-((at - after) // HOUR):02d}"]
    return ["all"]


def _kept_and_expected(case_id: str) -> tuple[Counter, Counter]:
    case = uuid.UUID(case_id)
    with session_scope() as session:
        kept = session.exec(select(TimelineMonthCount).where(col(TimelineMonthCount.case_id) == case)).all()
        events = session.exec(select(TimelineEvent).where(col(TimelineEvent.case_id) == case)).all()
        have = Counter({(r.slot, r.month, r.kind, r.disputed): r.events for r in kept})
        want: Counter = Counter()
        for e in events:
            at = e.occurred_at.astimezone(UTC)
            for slot in _slots(at):
                want[(slot, f"{at.year:04d}-{at.month:02d}", e.kind, e.disputed)] += 1
    return have, want


# Written with their offsets, so they fall where they say whatever the case's timezone: on and around the hours
# a month's edge keeps, and on the local month starts of the zones below.
EDGES = [
    "2021-03-01T00:00:00Z",
    "2021-03-01T00:29:59Z",
    "2021-03-01T05:30:00Z",
    "2021-03-01T07:59:59Z",
    "2021-03-01T08:00:00Z",
    "2021-03-01T13:59:59Z",
    "2021-03-01T14:00:00Z",
    "2021-03-15T12:00:00Z",
    "2021-03-31T11:59:59Z",
    "2021-03-31T12:00:00Z",
    "2021-03-31T18:29:59Z",
    "2021-03-31T18:30:00Z",
    "2021-03-31T23:59:59Z",
    "2021-04-01T00:00:00Z",
    "2021-06-30T10:00:00Z",
    "2021-07-01T07:00:00Z",
    "2021-12-31T12:00:00Z",
    "2022-01-01T00:00:00Z",
    "2022-01-01T13:00:00Z",
]
KINDS = ["review_posted", "order_placed", "refund_issued"]


def _seed(actor, case_id: str) -> None:
    for n, when in enumerate(EDGES):
        add_event(actor, case_id, occurred_at=when, title=f"edge {n}", kind=KINDS[n % 3], disputed=n % 4 == 0)
    # Fuzzy dates: a span in the case's timezone, counted at its local start.
    for n, when in enumerate(["2021", "2021-03", "2021-04", "2021-06-30", "2022-01"]):
        add_event(actor, case_id, occurred_at=when, title=f"fuzzy {n}", kind=KINDS[n % 3], tags=["t"])


def test_the_counts_follow_every_change_to_the_events(alice):
    case = alice.make_case(timezone="America/Los_Angeles")
    _seed(alice, case["id"])
    have, want = _kept_and_expected(case["id"])
    assert have == want and want[("all", "2021-03", "review_posted", True)] >= 1

    events = {e["title"]: e for e in all_pages(alice, case["id"])}
    base = f"/api/v1/cases/{case['id']}/events"
    assert alice.patch(f"{base}/{events['edge 0']['id']}", json={"occurred_at": "2021-05-31T23:00:00Z"}).is_success
    assert alice.patch(f"{base}/{events['edge 1']['id']}", json={"kind": "filing", "disputed": True}).is_success
    assert alice.patch(f"{base}/{events['edge 2']['id']}", json={"title": "only the title"}).is_success
    assert alice.delete(f"{base}/{events['edge 3']['id']}").status_code == 204
    body = "occurred_at,title,kind,disputed\n2021-03-01T02:00:00Z,imported,other,true\n2021-08,imported,other,\n"
    assert import_file(alice, case["id"], body.encode()).status_code == 201
    # A derived event: the evidence's date makes it, and its exhibit's removal takes it away.
    item = alice.upload(case["id"], b"review", kind="review_screenshot", occurred_at="2021-03-31T23:30:00Z").json()
    have, want = _kept_and_expected(case["id"])
    assert have == want and want[("-01", "2021-03", "review_posted", False)] >= 1
    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}").status_code == 204
    have, want = _kept_and_expected(case["id"])
    assert have == want
    # A count that reaches zero leaves no row behind.
    for event in all_pages(alice, case["id"]):
        assert alice.delete(f"{base}/{event['id']}").status_code == 204
    assert _kept_and_expected(case["id"]) == (Counter(), Counter())


def _summary(actor, case_id: str, **params) -> dict:
    r = actor.get(f"/api/v1/cases/{case_id}/timeline/summary", params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    "zone", ["America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"]
)
def test_summary_months_agree_with_the_events_listed(alice, zone):
    case = alice.make_case(timezone=zone)
    _seed(alice, case["id"])
    for params in [
        {},
        {"kind": "review_posted"},
        {"kind": ["order_placed", "refund_issued"], "disputed": "false"},
        {"disputed": "true"},
        {"start": "2021-03", "end": "2021-07"},
        {"start": "2021-03-01T05:17:00Z", "end": "2021-12-31T18:00:00Z"},
        {"start": "2021-03-31T12:30:00Z", "kind": "review_posted"},
        {"end": "2021-04"},
        {"tag": "t"},
    ]:
        events = all_pages(actor=alice, case_id=case["id"], **params)
        summary = _summary(alice, case["id"], **params)
        by_month = {m["month"]: m["count"] for m in summary["by_month"] if m["count"]}
        assert by_month == Counter(e["occurred_at_local"][:7] for e in events), (zone, params)
        assert summary["total"] == len(events)
        assert summary["disputed"] == sum(e["disputed"] for e in events)
        assert summary["by_kind"] == dict(sorted(Counter(e["kind"] for e in events).items())), (zone, params)
