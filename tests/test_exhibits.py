"""Exhibit labels: assigned once, never reused, never renumbered; concurrent links stay distinct."""

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import live_client, staged_files


def _labels(actor, case_id):
    return [(e["label"], e["position"]) for e in actor.get(f"/api/v1/cases/{case_id}/exhibits").json()["items"]]


def test_labels_are_never_reused_or_renumbered(alice):
    case = alice.make_case()
    ids = [alice.upload(case["id"], f"exhibit {i}".encode()).json()["exhibit"]["id"] for i in range(4)]
    base = f"/api/v1/cases/{case['id']}/exhibits"
    assert _labels(alice, case["id"]) == [("PX-001", 1), ("PX-002", 2), ("PX-003", 3), ("PX-004", 4)]

    assert alice.delete(f"{base}/{ids[1]}").status_code == 204
    assert _labels(alice, case["id"]) == [("PX-001", 1), ("PX-003", 2), ("PX-004", 3)]

    fifth = alice.upload(case["id"], b"exhibit 5").json()
    assert fifth["exhibit"]["label"] == "PX-005"  # PX-002 is gone for good

    r = alice.patch(f"{base}/{ids[3]}", json={"position": 1})
    assert r.status_code == 200 and r.json()["label"] == "PX-004"
    assert _labels(alice, case["id"]) == [("PX-004", 1), ("PX-001", 2), ("PX-003", 3), ("PX-005", 4)]
    alice.patch(f"{base}/{ids[3]}", json={"position": 99})  # past the end means last
    assert _labels(alice, case["id"]) == [("PX-001", 1), ("PX-003", 2), ("PX-005", 3), ("PX-004", 4)]


def test_custom_template_relabel_designation_and_conflicts(alice):
    case = alice.make_case(exhibit_label_template="DX {n}")
    a = alice.upload(case["id"], b"first").json()["exhibit"]
    b = alice.upload(case["id"], b"second").json()["exhibit"]
    assert (a["label"], b["label"]) == ("DX 1", "DX 2")
    base = f"/api/v1/cases/{case['id']}/exhibits"
    assert alice.patch(f"{base}/{b['id']}", json={"label": "DX 1"}).status_code == 409
    r = alice.patch(
        f"{base}/{b['id']}", json={"label": "DX 3", "designation": "attorneys_eyes_only", "note": "<b>AEO</b>"}
    )
    assert r.status_code == 200
    assert (r.json()["label"], r.json()["designation"], r.json()["note"]) == (
        "DX 3",
        "attorneys_eyes_only",
        "<b>AEO</b>",
    )
    # The counter skips a label someone already took by hand.
    assert alice.upload(case["id"], b"third").json()["exhibit"]["label"] == "DX 4"
    assert alice.patch(f"{base}/{b['id']}", json={"designation": "secret"}).status_code == 422
    assert alice.patch(f"{base}/{b['id']}", json={"position": 0}).status_code == 422


def test_link_existing_evidence_into_another_case(alice, bob):
    source, target = alice.make_case(), alice.make_case(exhibit_label_template="JX-{n:02d}")
    item = alice.upload(source["id"], b"refund receipt").json()
    r = alice.post(f"/api/v1/cases/{target['id']}/exhibits", json={"evidence_id": item["id"]})
    assert r.status_code == 201, r.text
    assert (r.json()["label"], r.json()["position"], r.json()["evidence_id"]) == ("JX-01", 1, item["id"])
    assert alice.post(f"/api/v1/cases/{target['id']}/exhibits", json={"evidence_id": item["id"]}).status_code == 409
    # The bytes are now in the target case too, so re-uploading them there is a duplicate.
    again = alice.upload(target["id"], b"refund receipt")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    # Bob cannot link evidence he cannot see, even into his own case.
    bobs = bob.make_case()
    assert bob.post(f"/api/v1/cases/{bobs['id']}/exhibits", json={"evidence_id": item["id"]}).status_code == 404


def test_unlinked_evidence_stays_with_its_original(alice):
    case = alice.make_case()
    item = alice.upload(case["id"], b"keep me").json()
    alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}")
    r = alice.get(f"/api/v1/evidence/{item['id']}")
    assert r.status_code == 200 and r.json()["exhibit"] is None
    assert alice.get(f"/api/v1/evidence/{item['id']}/content").content == b"keep me"


def test_exhibit_list_pages_with_a_cursor(alice):
    case = alice.make_case()
    for i in range(7):
        alice.upload(case["id"], f"page test {i}".encode())
    labels, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = alice.get(f"/api/v1/cases/{case['id']}/exhibits", params=params).json()
        labels += [e["label"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert labels == [f"PX-{i:03d}" for i in range(1, 8)]
    bad = alice.get(f"/api/v1/cases/{case['id']}/exhibits", params={"cursor": "eyJub3QiOiJ0aGlzIn0"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def test_twenty_concurrent_links_get_twenty_distinct_labels(alice, live_server):
    sources = [alice.make_case() for _ in range(2)]
    items = [alice.upload(sources[i % 2]["id"], f"concurrent {i}".encode()).json()["id"] for i in range(20)]
    target = alice.make_case()

    def link(evidence_id):
        with live_client(live_server, alice) as http:
            return http.post(f"/api/v1/cases/{target['id']}/exhibits", json={"evidence_id": evidence_id})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(link, items))
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    labels = sorted(r.json()["label"] for r in responses)
    assert labels == [f"PX-{n:03d}" for n in range(1, 21)]
    positions = sorted(p for _, p in _labels(alice, target["id"]))
    assert positions == list(range(1, 21))


def test_concurrent_uploads_to_one_case_get_distinct_labels(alice, live_server, settings, monkeypatch):
    monkeypatch.setattr(settings, "max_concurrent_uploads_per_user", 10)  # one account sends all ten at once
    case = alice.make_case()

    def upload(i):
        with live_client(live_server, alice) as http:
            return http.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": (f"f{i}.txt", f"parallel upload {i}".encode())},
                data={"kind": "other", "title": f"Upload {i}"},
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(upload, range(10)))
    assert [r.status_code for r in responses] == [201] * 10
    assert sorted(r.json()["exhibit"]["label"] for r in responses) == [f"PX-{n:03d}" for n in range(1, 11)]


def test_concurrent_uploads_of_the_same_bytes_make_one_item(alice, live_server, blob_root, settings, monkeypatch):
    monkeypatch.setattr(settings, "max_concurrent_uploads_per_user", 8)  # one account sends all eight at once
    case = alice.make_case()

    def upload(i):
        with live_client(live_server, alice) as http:
            return http.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": ("same.txt", b"the same refund receipt, sent by eight paralegals")},
                data={"kind": "refund_record", "title": f"Copy {i}"},
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(upload, range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert [r.json()["duplicate"] for r in responses].count(False) == 1
    assert len(alice.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]) == 1
    assert staged_files(blob_root) == []
