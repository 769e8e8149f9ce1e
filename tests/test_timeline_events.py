"""Timeline events: manual ones edited by hand, derived ones kept in step with their exhibit, access rules."""

import json
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from api.db import session_scope
from models.common import utcnow
from models.user import ApiToken, User
from tests.timeline_support import add_event, import_file, timeline, titles

LA = {"timezone": "America/Los_Angeles"}


def test_manual_event_keeps_the_precision_it_was_written_with(alice):
    case = alice.make_case(**LA)
    event = add_event(alice, case["id"], occurred_at="2021-03", title="Campaign starts", kind="other", tags=["a", "a "])
    assert (event["precision"], event["date_display"], event["source"]) == ("month", "March 2021", "manual")
    assert event["occurred_at"] == "2021-03-01T08:00:00Z" and event["occurred_until"] == "2021-04-01T07:00:00Z"
    assert event["occurred_at_local"] == "2021-03-01T00:00:00-08:00" and event["tags"] == ["a"]
    base = f"/api/v1/cases/{case['id']}/events/{event['id']}"

    r = alice.patch(base, json={"title": "Campaign starts (per deposition)", "disputed": True, "tags": ["depo"]})
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["disputed"], r.json()["tags"]) == (
        "Campaign starts (per deposition)",
        True,
        ["depo"],
    )
    coarser = alice.patch(base, json={"precision": "year"}).json()
    assert (coarser["date_display"], coarser["occurred_at_local"]) == ("2021", "2021-01-01T00:00:00-08:00")
    finer = alice.patch(base, json={"precision": "day"})
    assert finer.status_code == 422 and "only year precision" in finer.json()["detail"]
    exact = alice.patch(base, json={"occurred_at": "2021-03-04T17:30:05", "precision": None}).json()
    assert (exact["precision"], exact["date_display"]) == ("second", "March 4, 2021, 5:30:05 PM PST")
    truncated = alice.patch(base, json={"occurred_at": "2021-03-04T23:30:00-08:00", "precision": "day"}).json()
    assert (truncated["date_display"], truncated["occurred_at"]) == ("March 4, 2021", "2021-03-04T08:00:00Z")

    assert alice.get(base).json()["title"] == "Campaign starts (per deposition)"
    assert alice.delete(base).status_code == 204
    assert alice.get(base).status_code == 404


def test_bad_events_are_refused_with_the_field_named(alice, bob):
    case = alice.make_case()
    url = f"/api/v1/cases/{case['id']}/events"
    bobs_item = bob.upload(bob.make_case()["id"], b"bob's evidence").json()
    cases = [
        ({"occurred_at": "March 4th", "title": "x"}, "is not a date"),
        ({"occurred_at": "2021-02-30", "title": "x"}, "is not a date"),
        ({"occurred_at": "2021-03", "precision": "day", "title": "x"}, "only month precision"),
        ({"occurred_at": "2021", "title": "x", "kind": "bribe"}, "kind"),
        ({"occurred_at": "2021", "title": "   "}, "title is required"),
        ({"occurred_at": "2021", "title": "nul \x00 byte"}, "NUL"),
        ({"occurred_at": "2021", "title": "x", "page": 3}, "page needs evidence_id"),
        ({"occurred_at": "2021", "title": "x", "evidence_id": bobs_item["id"]}, "no evidence"),
        ({"occurred_at": "0999", "title": "x"}, "outside the years"),
    ]
    for body, expected in cases:
        r = alice.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert expected in json.dumps(r.json()), (body, r.json())
    assert titles(alice, case["id"]) == []
    # An edit that cites evidence that does not exist anywhere is refused the same way, and changes nothing.
    event = alice.post(url, json={"occurred_at": "2021", "title": "Call"}).json()
    for missing in (str(uuid.uuid4()), bobs_item["id"]):
        r = alice.patch(f"{url}/{event['id']}", json={"evidence_id": missing, "description": "cited"})
        assert r.status_code == 422 and "no evidence" in r.json()["detail"], r.text
    assert alice.get(f"{url}/{event['id']}").json()["description"] is None


def _review(alice, case_id, content=b"review screenshot", **facts):
    facts = {"rating": 5, "reviewer_name": "Noah Smith", "asin": "B08PCF32ER"} | facts
    r = alice.upload(
        case_id,
        content,
        filename="review.png",
        kind="review_screenshot",
        title="Review screenshot",
        occurred_at="2021-03-04T17:30:00",
        description="Five stars, posted two days after the refund.",
        tags="review,paid",
        facts=json.dumps(facts),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_derived_event_follows_its_evidence_and_exhibit(alice):
    case = alice.make_case(**LA)
    item = _review(alice, case["id"])
    [event] = timeline(alice, case["id"]).json()["items"]
    assert event["title"] == "5-star review by Noah Smith on B08PCF32ER"
    assert (event["kind"], event["source"], event["precision"]) == ("review_posted", "derived", "minute")
    assert event["occurred_at_local"] == "2021-03-04T17:30:00-08:00" and event["tags"] == ["review", "paid"]
    assert event["citation"] == {"exhibit_label": "PX-001", "evidence_id": item["id"], "page": None, "bates": None}
    event_url = f"/api/v1/cases/{case['id']}/events/{event['id']}"

    # Only `disputed` can be set on a derived event; the rest comes from the evidence.
    assert alice.patch(event_url, json={"title": "mine"}).status_code == 409
    assert alice.delete(event_url).status_code == 409
    assert alice.patch(event_url, json={"disputed": True}).json()["disputed"] is True

    r = alice.patch(
        f"/api/v1/evidence/{item['id']}",
        json={"occurred_at": "2021-03-06T09:15:00", "facts": {"rating": 4, "reviewer_name": "Noah S."}},
    )
    assert r.status_code == 200, r.text
    [event] = timeline(alice, case["id"]).json()["items"]
    assert event["title"] == "4-star review by Noah S." and event["occurred_at_local"] == "2021-03-06T09:15:00-08:00"
    assert event["disputed"] is True  # the team's judgement survives the evidence edit

    alice.patch(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}", json={"label": "PX-100"})
    assert timeline(alice, case["id"]).json()["items"][0]["citation"]["exhibit_label"] == "PX-100"

    assert alice.patch(f"/api/v1/evidence/{item['id']}", json={"occurred_at": None}).status_code == 200
    assert titles(alice, case["id"]) == []
    alice.patch(f"/api/v1/evidence/{item['id']}", json={"occurred_at": "2021-03-07"})
    [event] = timeline(alice, case["id"]).json()["items"]
    assert (event["precision"], event["date_display"]) == ("day", "March 7, 2021")  # a bare date stays a day

    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}").status_code == 204
    assert titles(alice, case["id"]) == []
    assert alice.upload(case["id"], b"no date on this one").status_code == 201
    assert titles(alice, case["id"]) == []


def test_derived_titles_come_from_the_facts(alice):
    case = alice.make_case()
    uploads = [
        ("refund_record", {"amount": "42.1", "currency": "USD", "payee": "Noah Smith", "processor": "PayPal"}),
        (
            "product_insert_card",
            {
                "incentive_amount": "50",
                "currency": "USD",
                "brand": "Velkora",
                "product": "Earbuds",
                "offer_text": "Leave a 5-star review, get $50 back",
            },
        ),
        ("order_record", {"order_id": "111-222", "buyer": "Noah Smith", "asin": "B08PCF32ER", "amount": "19.99"}),
        (
            "email",
            {"sender": "Deals <deals@velkora.example>", "recipients": ["noah@mail.example"], "subject": "Refund"},
        ),
        ("chat_log", {"platform": "WhatsApp", "participants": ["Velkora Store", "Noah Smith"], "message_count": 12}),
        ("listing_snapshot", {"asin": "B08PCF32ER", "marketplace": "marketplace.example", "average_rating": "4.9"}),
        ("other", {}),
    ]
    for i, (kind, facts) in enumerate(uploads):
        r = alice.upload(
            case["id"],
            f"file {i}".encode(),
            kind=kind,
            title=f"Title {kind}",
            occurred_at=f"2021-03-0{i + 1}T10:00:00",
            facts=json.dumps(facts),
        )
        assert r.status_code == 201, r.text
    assert titles(alice, case["id"]) == [
        "Refund of $42.10 to Noah Smith via PayPal",
        "Insert card offering $50.00 for a 5-star review (Velkora Earbuds)",
        "Order 111-222 placed by Noah Smith for B08PCF32ER ($19.99)",
        "Email from Deals to noah@mail.example: “Refund”",
        "Chat on WhatsApp between Velkora Store and Noah Smith (12 messages)",
        "Listing of B08PCF32ER on marketplace.example: 4.9 stars",
        "Title other",
    ]
    kinds = [e["kind"] for e in timeline(alice, case["id"]).json()["items"]]
    assert kinds == [
        "refund_issued",
        "insert_card_received",
        "order_placed",
        "message_sent",
        "message_sent",
        "listing_changed",
        "other",
    ]


def test_linking_evidence_into_another_case_derives_an_event_there(alice):
    home, other = alice.make_case(), alice.make_case(**LA, exhibit_label_template="JX-{n}")
    item = _review(alice, home["id"])
    r = alice.post(f"/api/v1/cases/{other['id']}/exhibits", json={"evidence_id": item["id"]})
    assert r.status_code == 201
    [there] = timeline(alice, other["id"]).json()["items"]
    assert there["citation"]["exhibit_label"] == "JX-1" and there["case_id"] == other["id"]
    # One edit of the evidence updates its event in every case it is an exhibit of.
    alice.patch(f"/api/v1/evidence/{item['id']}", json={"facts": {"rating": 1, "reviewer_name": "Mia"}})
    assert titles(alice, home["id"]) == titles(alice, other["id"]) == ["1-star review by Mia"]


def test_non_members_get_404_and_viewers_cannot_write(alice, bob, make_user):
    case = alice.make_case()
    cid = case["id"]
    event = add_event(alice, cid)
    eid = event["id"]
    attempts = [
        ("GET", f"/api/v1/cases/{cid}/timeline", {}),
        ("GET", f"/api/v1/cases/{cid}/timeline", {"params": {"format": "csv"}}),
        ("GET", f"/api/v1/cases/{cid}/timeline.pdf", {}),
        ("GET", f"/api/v1/cases/{cid}/timeline/summary", {}),
        ("GET", f"/api/v1/cases/{cid}/events/{eid}", {}),
        ("POST", f"/api/v1/cases/{cid}/events", {"json": {"occurred_at": "2021", "title": "x"}}),
        ("PATCH", f"/api/v1/cases/{cid}/events/{eid}", {"json": {"title": "x"}}),
        ("DELETE", f"/api/v1/cases/{cid}/events/{eid}", {}),
        ("POST", f"/api/v1/cases/{cid}/events:import", {"content": b"occurred_at,title\n2021,x\n"}),
    ]
    missing = str(uuid.uuid4())
    for method, path, kw in attempts:
        r = bob.request(method, path, **kw)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        ghost = bob.request(method, path.replace(cid, missing), **kw)
        assert (ghost.status_code, ghost.json()) == (404, r.json()), (method, path)
    # A member of the case, but not this event's case, gets 404 for the event too.
    bobs = bob.make_case()
    assert bob.get(f"/api/v1/cases/{bobs['id']}/events/{eid}").status_code == 404

    viewer = make_user()
    alice.post(f"/api/v1/cases/{cid}/members", json={"email": viewer.email, "role": "viewer"})
    for method, path, kw in attempts:
        r = viewer.request(method, path, **kw)
        assert r.status_code == (200 if method == "GET" else 403), (method, path, r.status_code, r.text)
    assert import_file(viewer, cid, b"occurred_at,title\n2021,x\n").status_code == 403
    assert titles(alice, cid) == ["An event"]


def test_case_routes_refuse_tokens_before_looking_at_the_case(alice, make_user):
    """The token, its user and the membership are read together; the answers stay those of separate checks."""
    case = alice.make_case()
    url = f"/api/v1/cases/{case['id']}/timeline"
    garbage = {"Authorization": "Bearer cb_not-a-real-token"}
    assert alice.get(url).status_code == 200
    for path in (url, "/api/v1/cases/not-a-uuid/timeline", f"/api/v1/cases/{uuid.uuid4()}/timeline"):
        r = alice.client.get(path, headers=garbage)
        assert (r.status_code, r.json()) == (401, {"detail": "invalid, expired or revoked token"}), path
        r = alice.client.get(path)
        assert (r.status_code, r.json()) == (401, {"detail": "missing bearer token"}), path
        assert r.headers["www-authenticate"] == "Bearer"
    assert alice.get("/api/v1/cases/not-a-uuid/timeline").status_code == 422
    r = alice.get(f"/api/v1/cases/{uuid.uuid4()}/timeline")
    assert (r.status_code, r.json()) == (404, {"detail": "case not found"})

    viewer = make_user()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": viewer.email, "role": "viewer"})
    r = viewer.post(f"/api/v1/cases/{case['id']}/events", json={"occurred_at": "2021", "title": "x"})
    assert (r.status_code, r.json()) == (403, {"detail": "this needs the editor role in the case; you are viewer"})

    with session_scope() as session:
        user = session.exec(select(User).where(User.email == viewer.email)).one()
        user.is_active = False
    assert viewer.get(url).status_code == 401
    with session_scope() as session:
        session.exec(select(User).where(User.email == viewer.email)).one().is_active = True
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == select(User.id).where(User.email == viewer.email).scalar_subquery())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert viewer.get(url).status_code == 401
    assert alice.delete("/api/v1/auth/token").status_code == 204  # revoked
    assert alice.get(url).status_code == 401


def test_every_change_to_the_chronology_is_in_the_audit_trail(alice, bob):
    """Who added, changed (disputed included), deleted or imported which facts, with what they said before."""
    case = alice.make_case(timezone="America/Los_Angeles")
    cid = case["id"]
    alice.post(f"/api/v1/cases/{cid}/members", json={"email": bob.email, "role": "editor"})

    def trail(prefix: str) -> list[dict]:
        r = alice.get(f"/api/v1/cases/{cid}/audit", params={"action": prefix})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    event = add_event(alice, cid, occurred_at="2021-03", title="Insert cards packed", kind="insert_card_received")
    r = bob.patch(f"/api/v1/cases/{cid}/events/{event['id']}", json={"disputed": True, "title": "Cards packed"})
    assert r.status_code == 200, r.text
    assert bob.patch(f"/api/v1/cases/{cid}/events/{event['id']}", json={"disputed": True}).status_code == 200
    assert import_file(bob, cid, b"occurred_at,title\n2021-04,Imported one\n2021-05,Imported two\n").status_code == 201
    assert bob.delete(f"/api/v1/cases/{cid}/events/{event['id']}").status_code == 204

    created, updated, deleted = trail("event.")
    assert [e["action"] for e in (created, updated, deleted)] == ["event.create", "event.update", "event.delete"]
    assert {e["object_id"] for e in (created, updated, deleted)} == {event["id"]}
    assert (created["actor_email"], updated["actor_email"], deleted["actor_email"]) == (
        alice.email,
        bob.email,
        bob.email,
    )
    assert created["details"]["title"] == "Insert cards packed" and created["details"]["precision"] == "month"
    assert created["details"]["occurred_at"] == "2021-03-01T08:00:00+00:00" and created["details"]["source"] == "manual"
    # Only what changed; the second PATCH changed nothing and recorded nothing.
    assert updated["details"] == {
        "before": {"title": "Insert cards packed", "disputed": False},
        "after": {"title": "Cards packed", "disputed": True},
    }
    assert deleted["details"]["title"] == "Cards packed" and deleted["details"]["disputed"] is True
    [imported] = trail("events.import")
    assert (imported["actor_email"], imported["details"]) == (bob.email, {"imported": 2, "format": "csv"})
    # A refused import records nothing.
    assert import_file(bob, cid, b"occurred_at,title\nnot a date,x\n").status_code == 422
    assert len(trail("events.import")) == 1
