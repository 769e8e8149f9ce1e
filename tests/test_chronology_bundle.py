"""The chronology cites one bundle: the one asked for, else the case's filed bundle, else the newest done one.

Real bundles are built over HTTP (a 3-exhibit draft beside a full bundle, so the two hold different Bates numbers
for the same exhibits), and the JSON page, the CSV, the PDF (its text read back through its fonts) and the
summary are each checked to cite that one bundle's numbers and to say which bundle that is.
"""

import csv
import io
import re
import uuid

import pytest

from tests.helpers import add_member, build, events, rebuild, unique_bytes, wait_done, worker_held_off
from tests.timeline_support import add_event, pdf_text, squash

pytestmark = pytest.mark.slow

PREFIX = "CHRON"
BATES = re.compile(rf"{PREFIX}\d{{6}}")
NOT_IN_BUNDLE = "not in this bundle"


def chron_case(owner, titles=("Order confirmation", "Insert card", "Review screenshot", "Refund e-mail")):
    """A case with one small text exhibit per title, each dated (so each is a derived event), plus a manual event
    citing page 1 of the first."""
    case = owner.make_case(bates_prefix=PREFIX, docket_number="2:21-cv-04417", court="C.D. Cal.")
    items = []
    for day, title in enumerate(titles, 1):
        r = owner.upload(case["id"], unique_bytes(title), filename=f"exhibit-{day}.txt", title=title,
                         occurred_at=f"2021-03-0{day}T10:00:00")  # fmt: skip
        assert r.status_code == 201, r.text
        items.append(r.json())
    add_event(owner, case["id"], occurred_at="2021-03-09", title="Page cite", evidence_id=items[0]["id"], page=1)
    return case, items


def numbers(bundle: dict) -> set[str]:
    """Every Bates number the bundle issued."""
    first, last = (int(bundle[k].removeprefix(PREFIX)) for k in ("bates_first", "bates_last"))
    return {f"{PREFIX}{n:06d}" for n in range(first, last + 1)}


def cites(bundle: dict) -> dict[str, str]:
    """Exhibit label -> the Bates cite of its own pages (after the slip sheet) in this bundle."""
    out = {}
    for e in bundle["exhibits"]:
        first = f"{PREFIX}{int(e['bates_first'].removeprefix(PREFIX)) + e['first_content_page'] - e['start_page']:06d}"
        out[e["label"]] = first if first == e["bates_last"] else f"{first}-{e['bates_last']}"
    return out


def timeline(actor, case_id: str, suffix: str = "", **params):
    return actor.get(f"/api/v1/cases/{case_id}/timeline{suffix}", params=params)


def announced(bundle: dict, filed: bool) -> dict:
    keys = ("id", "title", "sha256", "bates_first", "bates_last")
    return {k: bundle[k] for k in keys} | {"filed": filed}


def check_outputs(actor, case_id: str, bundle: dict, *, filed: bool = False, **params) -> None:
    """The page, CSV, PDF and summary (with `params`) all cite `bundle` alone, and say so."""
    expected, held = cites(bundle), numbers(bundle)

    page = timeline(actor, case_id, **params)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["cited_bundle"] == announced(bundle, filed)
    cited = [e["citation"] for e in body["items"] if e["citation"]]
    assert len(cited) == 5
    for citation in cited:
        label = citation["exhibit_label"]
        if citation["page"] == 1:  # its first content page
            assert citation["bates"] == (expected[label].split("-")[0] if label in expected else None)
        else:
            assert citation["bates"] == expected.get(label), citation
        assert citation["bates"] is None or set(citation["bates"].split("-")) <= held

    export = timeline(actor, case_id, format="csv", **params)
    assert export.status_code == 200, export.text
    assert export.headers["x-cited-bundle"] == bundle["id"]
    assert export.headers["x-cited-bundle-sha256"] == bundle["sha256"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    by_event = {e["id"]: e for e in body["items"]}
    assert len(rows) == len(by_event)
    for row in rows:
        assert (row["bates"] or None) == (by_event[row["event_id"]]["citation"] or {}).get("bates")
        assert row["bates_bundle_id"] == (bundle["id"] if row["bates"] else "")

    pdf = timeline(actor, case_id, ".pdf", **params)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["x-cited-bundle"] == bundle["id"]
    pages = [squash(text) for text in pdf_text(pdf.content)]
    first = pages[0]
    # The first page names the bundle: its title, id, Bates range and SHA-256 (whole, as one string).
    assert f"“{bundle['title']}”" in first and bundle["id"] in first and bundle["sha256"] in first, first
    assert f"{bundle['bates_first']} to {bundle['bates_last']}" in first
    assert ("the bundle filed in this case" in first) == filed
    printed = set(BATES.findall(" ".join(pages)))
    assert printed and printed <= held, printed - held
    for label, cite in expected.items():
        assert cite.replace("-", "– ") in " ".join(pages) or cite in " ".join(pages), (label, cite)
    # An exhibit the bundle lacks is cited by label, marked so (entries), and marked so in the list of exhibits.
    missing = {c["exhibit_label"] for c in cited} - expected.keys()
    assert (f"; {NOT_IN_BUNDLE}" in " ".join(pages)) == bool(missing)
    for label in missing:
        assert f"{label}; {NOT_IN_BUNDLE}" in " ".join(pages) and f"{label} {NOT_IN_BUNDLE}" in " ".join(pages)

    summary = timeline(actor, case_id, "/summary", **params)
    assert summary.status_code == 200, summary.text
    assert summary.json()["cited_bundle"] == announced(bundle, filed)
    for end in ("first", "last"):
        citation = summary.json()[end]["citation"]
        assert citation["bates"] is None or set(citation["bates"].split("-")) <= held


def mark(actor, case_id: str, bundle_id: str):
    return actor.request("PUT", f"/api/v1/cases/{case_id}/filed-bundle", json={"bundle_id": bundle_id})


def test_each_output_cites_only_the_chosen_bundle(alice, make_user):
    case, items = chron_case(alice)
    cid = case["id"]
    full = build(alice, cid, title="Plaintiff's Trial Exhibits")
    draft_ids = [i["exhibit"]["id"] for i in items[1:]]
    draft = build(alice, cid, title="Draft for review", exhibit_ids=draft_ids)
    assert not numbers(full) & numbers(draft)  # the same exhibits, other numbers
    assert items[0]["exhibit"]["label"] not in cites(draft)

    # Default: no filed bundle, so the newest done one, the draft, and PX-001 is not in it.
    check_outputs(alice, cid, draft)
    check_outputs(alice, cid, full, bundle_id=full["id"])
    check_outputs(alice, cid, draft, bundle_id=draft["id"])

    # An editor marks the full bundle filed: it becomes the default, and the case says so.
    editor = make_user()
    add_member(alice, cid, editor, "editor")
    marked = mark(editor, cid, full["id"])
    assert marked.status_code == 200, marked.text
    assert marked.json()["filed_bundle_id"] == full["id"]
    assert alice.get(f"/api/v1/cases/{cid}").json()["filed_bundle_id"] == full["id"]
    check_outputs(alice, cid, full, filed=True)
    check_outputs(alice, cid, draft, bundle_id=draft["id"])  # still citable when asked for
    (event,) = events("filed_bundle.set", case_id=uuid.UUID(cid))
    assert event.actor_email == editor.email and event.object_id == full["id"]
    assert event.details["sha256"] == full["sha256"] and event.details["previous_bundle_id"] is None
    assert event.details["bates"] == [full["bates_first"], full["bates_last"]]
    assert mark(editor, cid, full["id"]).status_code == 200  # again: nothing changes, nothing recorded
    assert len(events("filed_bundle.set", case_id=uuid.UUID(cid))) == 1

    # A listing read page by page keeps the bundle of its first page, whatever is filed meanwhile.
    first_page = timeline(alice, cid, limit=2).json()
    assert first_page["cited_bundle"]["id"] == full["id"] and first_page["next_cursor"]
    cleared = alice.delete(f"/api/v1/cases/{cid}/filed-bundle")
    assert cleared.status_code == 200 and cleared.json()["filed_bundle_id"] is None
    following = timeline(alice, cid, limit=2, cursor=first_page["next_cursor"])
    assert following.status_code == 200 and following.json()["cited_bundle"]["id"] == full["id"]
    assert timeline(alice, cid, limit=2).json()["cited_bundle"]["id"] == draft["id"]  # a fresh listing: the default
    other = timeline(alice, cid, limit=2, cursor=first_page["next_cursor"], bundle_id=draft["id"])
    assert other.status_code == 400 and full["id"] in other.json()["detail"], other.text
    same = timeline(alice, cid, limit=2, cursor=first_page["next_cursor"], bundle_id=full["id"])
    assert same.status_code == 200 and same.json()["items"] == following.json()["items"]

    (clear_event,) = events("filed_bundle.clear", case_id=uuid.UUID(cid))
    assert clear_event.actor_email == alice.email and clear_event.object_id == full["id"]
    again = alice.delete(f"/api/v1/cases/{cid}/filed-bundle")
    assert again.status_code == 409 and "no filed bundle" in again.json()["detail"]
    check_outputs(alice, cid, draft)

    # The exports record which bundle they cited.
    exports = [e.details for e in events("timeline.export", case_id=uuid.UUID(cid))]
    assert {(d["format"], d["bundle_id"]) for d in exports} == {
        (fmt, b["id"]) for fmt in ("csv", "pdf") for b in (full, draft)
    }
    assert all(d["bundle_sha256"] == (full if d["bundle_id"] == full["id"] else draft)["sha256"] for d in exports)


def test_a_case_without_a_done_bundle_cites_none_and_says_so(alice):
    case, _ = chron_case(alice, titles=("Order confirmation",))
    body = timeline(alice, case["id"]).json()
    assert body["cited_bundle"] is None and all(e["citation"]["bates"] is None for e in body["items"])
    export = timeline(alice, case["id"], format="csv")
    assert export.headers["x-cited-bundle"] == "none"
    assert all(row["bates_bundle_id"] == "" for row in csv.DictReader(io.StringIO(export.text)))
    first = squash(pdf_text(timeline(alice, case["id"], ".pdf").content)[0])
    assert "no bundle of the exhibits has been built for this case" in first and NOT_IN_BUNDLE not in first
    assert timeline(alice, case["id"], "/summary").json()["cited_bundle"] is None


def test_only_a_done_bundle_of_the_case_is_cited_or_filed(alice, bob, make_user):
    case, items = chron_case(alice, titles=("Order confirmation", "Insert card"))
    cid = case["id"]
    filed = build(alice, cid, title="As filed")
    assert mark(alice, cid, filed["id"]).status_code == 200

    # A rebuild of the filed bundle is made beside it: what was filed stays, and stays the default.
    beside = rebuild(alice, filed)
    assert beside["id"] != filed["id"] and beside["rebuilt_from"] == filed["id"]
    beside = wait_done(alice, beside["id"])
    assert beside["status"] == "done"
    (rebuilt,) = events("bundle.rebuild", object_id=beside["id"])
    assert rebuilt.details["why"] == "filed bundle"
    assert alice.get(f"/api/v1/bundles/{filed['id']}").json()["sha256"] == filed["sha256"]
    assert timeline(alice, cid).json()["cited_bundle"] == announced(filed, True)

    # Not done: being rebuilt (in place, as it is not the filed one), or failed.
    with worker_held_off(beside["id"]):
        assert rebuild(alice, beside)["status"] == "queued"
        for suffix in ("", ".pdf", "/summary"):
            r = timeline(alice, cid, suffix, bundle_id=beside["id"])
            assert r.status_code == 409 and "being rebuilt" in r.json()["detail"], (suffix, r.text)
        r = mark(alice, cid, beside["id"])
        assert r.status_code == 409 and "being rebuilt" in r.json()["detail"], r.text
    assert wait_done(alice, beside["id"])["status"] == "done"
    failed = _cancelled_bundle(alice, cid)
    for r in (timeline(alice, cid, bundle_id=failed["id"]), mark(alice, cid, failed["id"])):
        assert r.status_code == 409 and "failed, not done" in r.json()["detail"], r.text
    assert alice.get(f"/api/v1/cases/{cid}").json()["filed_bundle_id"] == filed["id"]  # nothing changed

    # Another case's bundle, even one the caller can see, is not found, exactly like one that does not exist.
    elsewhere, _ = chron_case(alice, titles=("Unrelated",))
    foreign = build(alice, elsewhere["id"])
    for bundle_id in (foreign["id"], str(uuid.uuid4())):
        for suffix in ("", ".pdf", "/summary"):
            r = timeline(alice, cid, suffix, bundle_id=bundle_id)
            assert (r.status_code, r.json()["detail"]) == (404, "bundle not found"), (suffix, r.text)
        assert timeline(alice, cid, format="csv", bundle_id=bundle_id).status_code == 404
        r = mark(alice, cid, bundle_id)
        assert (r.status_code, r.json()["detail"]) == (404, "bundle not found")
    assert timeline(alice, cid, bundle_id="draft").status_code == 422

    # Viewers may read the chronology but not mark or clear; non-members get 404.
    viewer = make_user()
    add_member(alice, cid, viewer, "viewer")
    assert timeline(viewer, cid, bundle_id=beside["id"]).status_code == 200
    assert mark(viewer, cid, beside["id"]).status_code == 403
    assert viewer.delete(f"/api/v1/cases/{cid}/filed-bundle").status_code == 403
    assert mark(bob, cid, beside["id"]).status_code == 404
    assert bob.delete(f"/api/v1/cases/{cid}/filed-bundle").status_code == 404
    assert alice.get(f"/api/v1/cases/{cid}").json()["filed_bundle_id"] == filed["id"]
    assert len(events("filed_bundle.set", case_id=uuid.UUID(cid))) == 1


def _cancelled_bundle(actor, case_id: str, attempts: int = 5) -> dict:
    """A bundle that never built: queued, then cancelled before its build ends (tried again on the rare run where
    the build wins the race)."""
    for _ in range(attempts):
        r = actor.post(f"/api/v1/cases/{case_id}/bundles", json={"title": "Cancelled"})
        assert r.status_code == 202, r.text
        if actor.post(f"/api/v1/bundles/{r.json()['id']}/cancel").status_code == 200:
            failed = actor.get(f"/api/v1/bundles/{r.json()['id']}").json()
            assert failed["status"] == "failed", failed
            return failed
        wait_done(actor, r.json()["id"])
    pytest.fail("every build finished before it could be cancelled")
