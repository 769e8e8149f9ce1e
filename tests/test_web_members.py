"""The case page's Members and Activity tabs, through the web app as people use it: owners add members by email,
change roles and remove people (the last owner stays); other members only read the list; the Activity tab shows
the case's audit trail to its owners, in words, filtered and in pages."""

import re
import uuid
from datetime import date, timedelta

from tests.conftest import PASSWORD

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> מרים 山田 محمد'


def members_of(actor, case_id: str) -> dict[str, str]:
    """email -> role, as the API says."""
    r = actor.get(f"/api/v1/cases/{case_id}/members")
    assert r.status_code == 200, r.text
    return {m["email"]: m["role"] for m in r.json()["items"]}


def user_id(actor, case_id: str, email: str) -> str:
    items = actor.get(f"/api/v1/cases/{case_id}/members").json()["items"]
    return next(m["user_id"] for m in items if m["email"] == email)


def named_user(make_user, full_name: str):
    """A user with a full name, made by an administrator through the API."""
    admin = make_user(admin=True)
    email = f"named-{uuid.uuid4().hex[:10]}@firm.example"
    r = admin.post("/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": full_name})
    assert r.status_code == 201, r.text
    return email


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_an_owner_adds_a_member_by_email_and_they_then_see_the_case(alice, bob, browsers):
    case = alice.make_case(title=f"Members {HOSTILE}")
    owner, newcomer = browsers(alice), browsers(bob)
    assert newcomer.get(f"/cases/{case['id']}").status_code == 404

    page = owner.get(f"/cases/{case['id']}/members")
    assert page.status_code == 200 and alice.email in page.text and "Add a member" in page.text
    assert_escaped(page.text)
    r = owner.post(f"/cases/{case['id']}/members", {"email": bob.email.upper(), "role": "editor"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case['id']}/members?done=added"
    shown = owner.get(r.headers["location"])
    assert "Member added." in shown.text and bob.email in shown.text
    assert members_of(alice, case["id"]) == {alice.email: "owner", bob.email: "editor"}

    assert newcomer.get(f"/cases/{case['id']}").status_code == 200
    assert case["id"] in newcomer.get("/").text


def test_adding_refuses_in_words_an_unknown_email_and_a_member(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    owner = browsers(alice)

    unknown = owner.post(f"/cases/{case['id']}/members", {"email": "nobody@firm.example", "role": "viewer"})
    assert unknown.status_code == 422
    assert "No user with email nobody@firm.example; an administrator must create the account first." in unknown.text
    assert 'value="nobody@firm.example"' in unknown.text and 'aria-invalid="true"' in unknown.text

    again = owner.post(f"/cases/{case['id']}/members", {"email": bob.email, "role": "owner"})
    assert again.status_code == 409
    assert (
        f"This case already has {bob.email} as a member (viewer): change their role in the list instead." in again.text
    )
    assert members_of(alice, case["id"])[bob.email] == "viewer"  # the add form never changes a role

    blank = owner.post(f"/cases/{case['id']}/members", {"email": "", "role": "pope"})
    assert blank.status_code == 422 and "This field is required" in blank.text


def test_htmx_add_answers_with_the_list_and_a_status_line(alice, bob, browsers):
    case = alice.make_case()
    r = browsers(alice).htmx("POST", f"/cases/{case['id']}/members", data={"email": bob.email, "role": "viewer"})
    assert r.status_code == 200 and "<html" not in r.text
    assert f'data-member="{bob.email}"' in r.text
    assert re.search(r'<div id="status" hx-swap-oob="innerHTML">Added [^<]+ as viewer\.</div>', r.text)


def test_an_owner_changes_a_role(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    owner = browsers(alice)
    bob_id = user_id(alice, case["id"], bob.email)

    r = owner.post(f"/cases/{case['id']}/members/{bob_id}/role", {"role": "editor"})
    assert r.status_code == 303 and members_of(alice, case["id"])[bob.email] == "editor"

    r = owner.htmx("POST", f"/cases/{case['id']}/members/{bob_id}/role", data={"role": "owner"})
    assert r.status_code == 200 and "Role changed to owner." in r.text
    row = re.search(rf'<tr id="member-{bob_id}".*?</tr>', r.text, re.S)
    assert row and '<option value="owner" selected>' in row.group(0)
    assert members_of(alice, case["id"])[bob.email] == "owner"

    bad = owner.post(f"/cases/{case['id']}/members/{bob_id}/role", {"role": "admin"})
    assert bad.status_code == 422 and "Choose a role" in bad.text


def test_the_last_owner_is_kept_and_the_page_says_why(alice, browsers):
    case = alice.make_case()
    owner = browsers(alice)
    me = user_id(alice, case["id"], alice.email)

    demote = owner.post(f"/cases/{case['id']}/members/{me}/role", {"role": "viewer"})
    assert demote.status_code == 409
    assert "A case needs at least one owner: add another owner before demoting this one." in demote.text
    leave = owner.post(f"/cases/{case['id']}/members/{me}/remove", {"confirmed": "yes"})
    assert leave.status_code == 409
    assert "A case needs at least one owner: add another owner before removing this one." in leave.text
    assert members_of(alice, case["id"]) == {alice.email: "owner"}


def test_removing_asks_first_then_removes(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    owner, member = browsers(alice), browsers(bob)
    bob_id = user_id(alice, case["id"], bob.email)

    ask = owner.post(f"/cases/{case['id']}/members/{bob_id}/remove")
    assert ask.status_code == 200 and "from this case?" in ask.text and 'name="confirmed" value="yes"' in ask.text
    assert bob.email in members_of(alice, case["id"])

    done = owner.post(f"/cases/{case['id']}/members/{bob_id}/remove", {"confirmed": "yes"})
    assert done.status_code == 303 and "Member removed." in owner.get(done.headers["location"]).text
    assert bob.email not in members_of(alice, case["id"])
    assert member.get(f"/cases/{case['id']}/members").status_code == 404


def test_an_owner_who_steps_down_or_leaves_is_sent_where_they_still_belong(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "owner"})
    owner = browsers(alice)
    me = user_id(alice, case["id"], alice.email)

    r = owner.htmx("POST", f"/cases/{case['id']}/members/{me}/role", data={"role": "editor"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == f"/cases/{case['id']}/members?done=role"
    page = owner.get(r.headers["HX-Redirect"])
    assert "Role changed." in page.text and "Add a member" not in page.text  # the page as an editor sees it
    assert members_of(bob, case["id"])[alice.email] == "editor"

    bob.post(f"/api/v1/cases/{case['id']}/members", json={"email": alice.email, "role": "owner"})  # an owner again
    r = owner.post(f"/cases/{case['id']}/members/{me}/remove", {"confirmed": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert alice.email not in members_of(bob, case["id"]) and case["id"] not in owner.get("/").text


def test_other_members_see_the_list_only_and_forcing_a_change_is_refused(alice, bob, make_user, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    stranger = make_user()
    editor = browsers(bob)
    alice_id = user_id(alice, case["id"], alice.email)

    page = editor.get(f"/cases/{case['id']}/members")
    assert page.status_code == 200 and alice.email in page.text and bob.email in page.text
    assert "Add a member" not in page.text and "/role" not in page.text and "/remove" not in page.text
    base = f"/cases/{case['id']}/members"
    forced = [
        editor.post(base, {"email": stranger.email, "role": "owner"}),
        editor.post(f"{base}/{alice_id}/role", {"role": "viewer"}),
        editor.post(f"{base}/{alice_id}/remove", {"confirmed": "yes"}),
    ]
    assert [r.status_code for r in forced] == [403, 403, 403]
    assert "this needs the owner role in the case; you are editor" in forced[0].text.lower()
    assert members_of(alice, case["id"]) == {alice.email: "owner", bob.email: "editor"}
    assert browsers(stranger).get(base).status_code == 404


def test_a_form_without_its_csrf_token_is_refused(alice, bob, browsers):
    case = alice.make_case()
    r = browsers(alice).post(f"/cases/{case['id']}/members", {"email": bob.email, "role": "viewer"}, csrf=False)
    assert r.status_code == 403 and "reload the page" in r.text
    assert bob.email not in members_of(alice, case["id"])


def test_names_and_titles_are_escaped_on_the_members_tab(alice, make_user, browsers):
    email = named_user(make_user, HOSTILE)
    case = alice.make_case(title=HOSTILE)
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": email, "role": "viewer"})
    page = browsers(alice).get(f"/cases/{case['id']}/members")
    assert page.status_code == 200 and email in page.text
    assert_escaped(page.text)
    assert "מרים 山田 محمد" in page.text


# The Activity tab

EVENT_ROW = re.compile(r'<tr id="event-(\d+)" data-action="([^"]+)">(.*?)</tr>', re.S)


def events(html: str) -> list[tuple[int, str, str]]:
    return [(int(seq), action, body) for seq, action, body in EVENT_ROW.findall(html)]


def test_activity_shows_an_upload_with_who_did_it_and_what(alice, bob, browsers):
    case = alice.make_case(title=HOSTILE)
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    item = alice.upload(case["id"], uuid.uuid4().bytes, "refund.csv", title=f"Refund {HOSTILE}").json()
    page = browsers(alice).get(f"/cases/{case['id']}/activity")
    assert page.status_code == 200
    assert_escaped(page.text)
    rows = events(page.text)
    assert [seq for seq, _, _ in rows] == sorted((seq for seq, _, _ in rows), reverse=True)  # newest first
    upload = next(body for _, action, body in rows if action == "evidence.upload")
    assert "uploaded evidence" in upload and alice.email in upload
    assert f'href="/evidence/{item["id"]}?case={case["id"]}"' in upload
    assert "refund.csv" in upload  # its details, summarised
    added = next(body for _, action, body in rows if action == "member.add")
    assert "added a member" in added and bob.email in added


def test_activity_filters_by_action_person_and_dates(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    alice.upload(case["id"], uuid.uuid4().bytes, "a.bin")
    bob.upload(case["id"], uuid.uuid4().bytes, "b.bin")
    owner = browsers(alice)
    url = f"/cases/{case['id']}/activity"

    uploads = events(owner.get(url, params={"action": "evidence.upload"}).text)
    assert len(uploads) == 2 and {action for _, action, _ in uploads} == {"evidence.upload"}
    exhibits = events(owner.get(url, params={"action": "exhibit."}).text)
    assert len(exhibits) == 2 and {action for _, action, _ in exhibits} == {"exhibit.link"}
    bobs = events(owner.get(url, params={"person": bob.email.upper()}).text)
    assert bobs and all(bob.email in body and alice.email not in body for _, _, body in bobs)
    both = events(owner.get(url, params={"action": "evidence.upload", "person": bob.email}).text)
    assert len(both) == 1

    today = date.today()
    assert len(events(owner.get(url, params={"from": (today - timedelta(days=1)).isoformat()}).text)) >= 6
    before = owner.get(url, params={"to": (today - timedelta(days=2)).isoformat()})
    assert events(before.text) == [] and "Nothing matches" in before.text
    bad = owner.get(url, params={"from": "last tuesday"})
    assert bad.status_code == 422 and "is not an ISO 8601 date" in bad.text

    fragment = owner.htmx("GET", url, params={"action": "evidence.upload"}, headers={"HX-Target": "activity-results"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and len(events(fragment.text)) == 2


def test_activity_pages_with_a_cursor(alice, browsers):
    case = alice.make_case()
    for n in range(55):
        r = alice.patch(f"/api/v1/cases/{case['id']}", json={"court": f"Court {n}"})
        assert r.status_code == 200, r.text
    owner = browsers(alice)
    first = owner.get(f"/cases/{case['id']}/activity", params={"action": "case.update"})
    page_one = events(first.text)
    assert len(page_one) == 50 and all("changed the case details" in body for _, _, body in page_one)
    link = re.search(r'href="(/cases/[^"]+/activity\?[^"]*cursor=[^"]+)">Older activity', first.text)
    assert link
    second = owner.get(link.group(1).replace("&amp;", "&"))
    page_two = events(second.text)
    assert len(page_two) == 5 and "Older activity" not in second.text
    seqs = [seq for seq, _, _ in page_one + page_two]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 55
    assert {action for _, action, _ in page_two} == {"case.update"}  # the filter went along with the cursor
    api = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "case.update", "limit": 1000}).json()
    assert sorted(seqs) == [event["seq"] for event in api["items"]]


def test_activity_is_for_owners_as_in_the_api(alice, bob, browsers):
    case = alice.make_case()
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    r = browsers(bob).get(f"/cases/{case['id']}/activity")
    assert r.status_code == 403 and "Only the case's owners see its activity" in r.text and not events(r.text)
    assert bob.get(f"/api/v1/cases/{case['id']}/audit").status_code == 403


def test_deleted_evidence_is_named_but_not_linked(alice, browsers):
    case = alice.make_case()
    item = alice.upload(case["id"], uuid.uuid4().bytes, "gone.bin", title="Gone soon").json()
    exhibit = item["exhibit"]["id"]
    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{exhibit}").status_code == 204
    r = alice.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "uploaded by mistake"})
    assert r.status_code == 204, r.text
    page = browsers(alice).get(f"/cases/{case['id']}/activity")
    rows = events(page.text)
    deleted = next(body for _, action, body in rows if action == "evidence.delete")
    assert "deleted evidence" in deleted and "Gone soon" in deleted and 'badge gone">deleted' in deleted
    assert f"/evidence/{item['id']}" not in page.text
    unlinked = next(body for _, action, body in rows if action == "exhibit.unlink")
    assert "removed an exhibit" in unlinked and 'badge gone">removed' in unlinked
