"""Error codes: every refusal a client may want to act on carries a stable `code` beside its `detail`, and the
OpenAPI document lists, per route and status, the codes that route can answer with.

The requests go over real HTTP to the app served by uvicorn: the code is in the body a client reads.
"""

import uuid

import pytest

from api.errors import DomainError
from tests.conftest import live_client

CONFLICT_CODES = {
    "already_member",
    "bates_clash",
    "bundle_has_volumes",
    "bundle_not_done",
    "bundle_not_finished",
    "case_already_on_hold",
    "case_not_on_hold",
    "case_on_hold",
    "email_taken",
    "event_derived",
    "evidence_already_exhibit",
    "evidence_still_cited",
    "exhibit_label_taken",
    "exhibit_still_cited",
    "last_owner",
    "no_filed_bundle",
    "nothing_to_cancel",
    "own_account",
    "record_set_importing",
    "redaction_box_taken",
    "redaction_stale",
    "redactions_being_applied",
    "redactions_not_applied",
    "stored_file_missing",
    "text_being_read",
}


@pytest.fixture
def http(live_server, alice):
    with live_client(live_server, alice) as client:
        yield client


def _refused(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    assert set(body) == {"detail", "code"}
    return body["detail"]


def test_membership_and_hold_conflicts_carry_their_codes(http, alice, bob):
    case = alice.make_case()
    cid = case["id"]
    me = alice.get("/api/v1/auth/me").json()["id"]
    detail = _refused(http.delete(f"/api/v1/cases/{cid}/members/{me}"), 409, "last_owner")
    assert detail == "a case needs at least one owner: add another owner before removing this one"
    demote = http.post(f"/api/v1/cases/{cid}/members", json={"email": alice.email, "role": "editor"})
    _refused(demote, 409, "last_owner")

    item = alice.upload(cid, b"held evidence").json()
    _refused(http.delete(f"/api/v1/cases/{cid}/legal-hold"), 409, "case_not_on_hold")
    assert http.post(f"/api/v1/cases/{cid}/legal-hold", json={"reason": "litigation pending"}).status_code == 200
    _refused(http.post(f"/api/v1/cases/{cid}/legal-hold", json={"reason": "again"}), 409, "case_already_on_hold")
    detail = _refused(http.delete(f"/api/v1/cases/{cid}/exhibits/{item['exhibit']['id']}"), 409, "case_on_hold")
    assert detail.startswith(f"cannot unlink exhibit {item['exhibit']['label']}: ")
    _refused(http.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "duplicate"}), 409, "case_on_hold")


def test_exhibit_evidence_and_event_conflicts_carry_their_codes(http, alice):
    case = alice.make_case()
    cid = case["id"]
    first = alice.upload(cid, b"first").json()
    second = alice.upload(cid, b"second").json()
    relabel = http.patch(f"/api/v1/cases/{cid}/exhibits/{second['exhibit']['id']}", json={"label": "PX-001"})
    assert (
        _refused(relabel, 409, "exhibit_label_taken") == "label PX-001 is already used by another exhibit in this case"
    )
    _refused(
        http.post(f"/api/v1/cases/{cid}/exhibits", json={"evidence_id": first["id"]}), 409, "evidence_already_exhibit"
    )

    cited = http.post(
        f"/api/v1/cases/{cid}/events", json={"occurred_at": "2021-03", "title": "Refund", "evidence_id": first["id"]}
    )
    assert cited.status_code == 201, cited.text
    detail = _refused(
        http.delete(f"/api/v1/evidence/{first['id']}", params={"reason": "dup"}), 409, "evidence_still_cited"
    )
    assert f"evidence {first['id']} is still cited" in detail

    dated = alice.upload(cid, b"dated", occurred_at="2021-03-04").json()
    derived = next(e for e in http.get(f"/api/v1/cases/{cid}/timeline").json()["items"] if e["source"] == "derived")
    assert derived["citation"]["evidence_id"] == dated["id"]
    event_url = f"/api/v1/cases/{cid}/events/{derived['id']}"
    _refused(http.patch(event_url, json={"title": "mine"}), 409, "event_derived")
    _refused(http.delete(event_url), 409, "event_derived")

    _refused(http.delete(f"/api/v1/cases/{cid}/filed-bundle"), 409, "no_filed_bundle")


def test_other_errors_carry_a_code_and_keep_their_detail(http, make_user):
    admin = make_user(admin=True)
    with live_client(str(http.base_url), admin) as as_admin:
        taken = as_admin.post("/api/v1/users", json={"email": admin.email, "password": "a long passphrase 1"})
    assert _refused(taken, 409, "email_taken") == f"a user with email {admin.email} already exists"

    # FastAPI's own validation answer keeps its list of problems and gains the code.
    invalid = http.post("/api/v1/cases", json={})
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert ["body", "title"] in [e["loc"] for e in invalid.json()["detail"]]
    case = http.post("/api/v1/cases", json={"title": "Codes", "case_type": "lanham_act"}).json()
    event = http.post(f"/api/v1/cases/{case['id']}/events", json={"occurred_at": "2021", "title": "t"}).json()
    cleared = http.patch(f"/api/v1/cases/{case['id']}/events/{event['id']}", json={"title": None})
    assert _refused(cleared, 422, "validation_error") == "title cannot be cleared"

    unsupported = http.post(
        f"/api/v1/cases/{case['id']}/events:import", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    _refused(unsupported, 415, "unsupported_media_type")

    # Statuses that say it all keep the body clients compare whole.
    assert http.get(f"/api/v1/cases/{uuid.uuid4()}").json() == {"detail": "case not found"}


def _codes(doc: dict, path: str, method: str, status: str) -> set[str]:
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    refs = [s["$ref"] for s in schema.get("oneOf", [schema])]
    models = [doc["components"]["schemas"][ref.rsplit("/", 1)[-1]] for ref in refs]
    return {m["properties"]["code"]["const"] for m in models}


def test_openapi_lists_the_codes_each_route_can_answer_with(http):
    doc = http.get("/openapi.json").json()
    expected = {
        ("/api/v1/cases/{case_id}/members/{user_id}", "delete"): {"last_owner"},
        ("/api/v1/cases/{case_id}/members", "post"): {"last_owner"},
        ("/api/v1/evidence/{evidence_id}", "delete"): {"case_on_hold", "evidence_still_cited"},
        ("/api/v1/cases/{case_id}/exhibits/{exhibit_id}", "delete"): {"case_on_hold", "exhibit_still_cited"},
        ("/api/v1/cases/{case_id}/exhibits/{exhibit_id}", "patch"): {"exhibit_label_taken"},
        ("/api/v1/cases/{case_id}/exhibits", "post"): {"evidence_already_exhibit"},
        ("/api/v1/cases/{case_id}/events/{event_id}", "delete"): {"event_derived", "case_on_hold"},
        ("/api/v1/cases/{case_id}/legal-hold", "post"): {"case_already_on_hold"},
        ("/api/v1/cases/{case_id}/legal-hold", "delete"): {"case_not_on_hold"},
        ("/api/v1/cases/{case_id}/filed-bundle", "delete"): {"no_filed_bundle"},
        ("/api/v1/cases/{case_id}/timeline", "get"): {"bundle_not_done"},
        ("/api/v1/bundles/{bundle_id}/pdf", "get"): {"bundle_not_done", "bundle_has_volumes"},
        ("/api/v1/bundles/{bundle_id}/rebuild", "post"): {"bundle_not_finished"},
        ("/api/v1/bundles/{bundle_id}/cancel", "post"): {"nothing_to_cancel"},
        ("/api/v1/cases/{case_id}/export", "get"): {"stored_file_missing", "bundle_not_finished"},
        ("/api/v1/users", "post"): {"email_taken"},
        ("/api/v1/admin/users/{user_id}/disable", "post"): {"own_account"},
    }
    for (path, method), codes in expected.items():
        assert _codes(doc, path, method, "409") == codes, (method, path)
    assert _codes(doc, "/api/v1/cases/{case_id}/events/{event_id}", "patch", "422") == {"validation_error"}
    assert _codes(doc, "/api/v1/cases/{case_id}/evidence", "post", "413") == {"payload_too_large"}
    # A status whose routes list several codes says which field tells them apart.
    delete = doc["paths"]["/api/v1/evidence/{evidence_id}"]["delete"]["responses"]["409"]
    assert delete["content"]["application/json"]["schema"]["discriminator"]["propertyName"] == "code"
    # Every 409 the document lists is described by its codes.
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if "409" in op.get("responses", {}):
                assert _codes(doc, path, method, "409") <= CONFLICT_CODES, (method, path)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_each_code_names_one_kind_of_error():
    import api.app  # noqa: F401 - every service module, and so every error class, is loaded

    coded = [c for c in _subclasses(DomainError) if c.code is not None]
    codes = [c.code for c in coded]
    assert len(codes) == len(set(codes)), sorted(codes)
    assert {c.code for c in coded if c.status_code == 409} == CONFLICT_CODES
