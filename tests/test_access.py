"""Per-case access: to a non-member, everything in a case answers 404, exactly as if it did not exist."""

import uuid


def test_outsider_gets_404_everywhere(alice, bob):
    case = alice.make_case()
    item = alice.upload(case["id"], b"privileged evidence").json()
    exhibit_id = item["exhibit"]["id"]
    cid, eid = case["id"], item["id"]
    alice_id = alice.get("/api/v1/auth/me").json()["id"]
    attempts = [
        ("GET", f"/api/v1/cases/{cid}", None),
        ("PATCH", f"/api/v1/cases/{cid}", {"json": {"title": "mine now"}}),
        ("GET", f"/api/v1/cases/{cid}/members", None),
        ("POST", f"/api/v1/cases/{cid}/members", {"json": {"email": bob.email, "role": "owner"}}),
        ("DELETE", f"/api/v1/cases/{cid}/members/{alice_id}", None),
        (
            "POST",
            f"/api/v1/cases/{cid}/evidence",
            {"files": {"file": ("x", b"x")}, "data": {"kind": "other", "title": "x"}},
        ),
        ("GET", f"/api/v1/cases/{cid}/exhibits", None),
        ("POST", f"/api/v1/cases/{cid}/exhibits", {"json": {"evidence_id": eid}}),
        ("GET", f"/api/v1/cases/{cid}/exhibits/{exhibit_id}", None),
        ("PATCH", f"/api/v1/cases/{cid}/exhibits/{exhibit_id}", {"json": {"position": 1}}),
        ("DELETE", f"/api/v1/cases/{cid}/exhibits/{exhibit_id}", None),
        ("GET", f"/api/v1/evidence/{eid}", None),
        ("PATCH", f"/api/v1/evidence/{eid}", {"json": {"title": "x"}}),
        ("GET", f"/api/v1/evidence/{eid}/content", None),
    ]
    missing_case = str(uuid.uuid4())
    for method, path, kw in attempts:
        r = bob.request(method, path, **(kw or {}))
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        # The same answer as for something that does not exist at all.
        ghost = bob.request(method, path.replace(cid, missing_case).replace(eid, str(uuid.uuid4())), **(kw or {}))
        assert (ghost.status_code, ghost.json()) == (404, r.json()), (method, path)
    assert [c["id"] for c in bob.get("/api/v1/cases").json()["items"]] == []
    # Nothing changed for the owner.
    assert alice.get(f"/api/v1/cases/{cid}").json()["title"] == case["title"]
    assert len(alice.get(f"/api/v1/cases/{cid}/exhibits").json()["items"]) == 1


def test_member_of_a_linked_case_can_read_the_evidence(alice, bob):
    home, shared = alice.make_case(), alice.make_case()
    item = alice.upload(home["id"], b"linked evidence").json()
    alice.post(f"/api/v1/cases/{shared['id']}/exhibits", json={"evidence_id": item["id"]})
    alice.post(f"/api/v1/cases/{shared['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert bob.get(f"/api/v1/evidence/{item['id']}").status_code == 200
    assert bob.get(f"/api/v1/evidence/{item['id']}/content").content == b"linked evidence"
    assert bob.patch(f"/api/v1/evidence/{item['id']}", json={"title": "x"}).status_code == 403
    assert bob.get(f"/api/v1/cases/{home['id']}").status_code == 404
