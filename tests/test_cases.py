"""Cases and membership: creation, validation, roles, and the last-owner rule."""

import pytest


def test_create_case_makes_the_creator_owner(alice):
    case = alice.make_case(
        title="FTC v. ReviewClub",
        docket_number="1:24-cv-01234",
        court="D.D.C.",
        case_type="ftc_consumer_reviews_rule",
        bates_prefix="FTC",
        timezone="America/New_York",
        parties=[{"name": "ReviewClub LLC", "role": "defendant"}],
    )
    assert case["role"] == "owner" and case["exhibit_label_template"] == "PX-{n:03d}"
    assert case["parties"] == [{"name": "ReviewClub LLC", "role": "defendant"}]
    members = alice.get(f"/api/v1/cases/{case['id']}/members").json()["items"]
    assert [(m["email"], m["role"]) for m in members] == [(alice.email, "owner")]


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("case_type", "fraud", "case_type"),
        ("timezone", "Mars/Olympus_Mons", "timezone"),
        ("exhibit_label_template", "PX-{x}", "exhibit_label_template"),
        ("exhibit_label_template", "PX-001", "{n}"),
        ("bates_prefix", "ACME 01/", "bates_prefix"),
        ("title", "", "title"),
    ],
)
def test_bad_case_fields_get_a_422_naming_the_field(alice, field, value, needle):
    r = alice.post("/api/v1/cases", json={"title": "x", "case_type": "lanham_act", field: value})
    assert r.status_code == 422
    assert needle in str(r.json()["detail"])


def test_list_shows_only_my_cases_with_cursor_pagination(alice, bob):
    mine = [alice.make_case(title=f"Case {i}")["id"] for i in range(3)]
    bob.make_case(title="Bob's case")
    seen, cursor = [], None
    while True:
        r = alice.get("/api/v1/cases", params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200
        seen += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == mine
    assert alice.get("/api/v1/cases", params={"cursor": "garbage!"}).status_code == 400
    assert alice.get("/api/v1/cases", params={"limit": 0}).status_code == 422


def test_patch_changes_only_what_was_sent(alice):
    case = alice.make_case(court="N.D. Cal.")
    r = alice.patch(f"/api/v1/cases/{case['id']}", json={"docket_number": "3:21-cv-1"})
    assert r.status_code == 200
    assert r.json()["docket_number"] == "3:21-cv-1" and r.json()["court"] == "N.D. Cal."
    assert alice.patch(f"/api/v1/cases/{case['id']}", json={"title": None}).status_code == 422
    assert alice.patch(f"/api/v1/cases/{case['id']}", json={"timezone": "Nowhere/Else"}).status_code == 422


def test_roles_viewer_reads_editor_writes_owner_manages(alice, make_user):
    case = alice.make_case()
    viewer, editor = make_user(), make_user()
    base = f"/api/v1/cases/{case['id']}"
    assert alice.post(f"{base}/members", json={"email": viewer.email, "role": "viewer"}).status_code == 201
    assert alice.post(f"{base}/members", json={"email": editor.email, "role": "editor"}).status_code == 201

    assert viewer.get(base).json()["role"] == "viewer"
    assert viewer.patch(base, json={"court": "x"}).status_code == 403
    assert viewer.upload(case["id"], b"viewer bytes").status_code == 403
    assert editor.patch(base, json={"court": "C.D. Cal."}).status_code == 200
    assert editor.upload(case["id"], b"editor bytes").status_code == 201
    assert editor.post(f"{base}/members", json={"email": viewer.email, "role": "owner"}).status_code == 403

    # Re-posting a member changes their role.
    r = alice.post(f"{base}/members", json={"email": viewer.email, "role": "editor"})
    assert r.status_code == 200 and r.json()["role"] == "editor"


def test_member_removal_and_the_last_owner(alice, make_user):
    case = alice.make_case()
    other = make_user()
    base = f"/api/v1/cases/{case['id']}/members"
    alice_id = alice.get("/api/v1/auth/me").json()["id"]
    other_id = other.get("/api/v1/auth/me").json()["id"]
    assert alice.delete(f"{base}/{alice_id}").status_code == 409  # the only owner
    assert alice.post(base, json={"email": alice.email, "role": "viewer"}).status_code == 409
    assert alice.post(base, json={"email": "ghost@firm.example", "role": "viewer"}).status_code == 404
    assert alice.post(base, json={"email": other.email, "role": "superuser"}).status_code == 422
    alice.post(base, json={"email": other.email, "role": "viewer"})
    assert other.delete(f"{base}/{alice_id}").status_code == 403  # viewers remove only themselves
    assert other.delete(f"{base}/{other_id}").status_code == 204  # leaving is allowed
    assert other.get(f"/api/v1/cases/{case['id']}").status_code == 404
