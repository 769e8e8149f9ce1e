"""The access matrix, generated from the app's own OpenAPI route table so that a new route cannot be missed.

For every operation under /api/v1 whose path names a case, evidence item, exhibit, bundle or event, called
with the ids of real objects owned by alice:
- a user who is not a member of the case gets 404, the same answer as for ids that do not exist;
- a viewer of the case gets 403 on every write, and can read (no 403, 404 or 5xx) on every GET.

FastAPI solves a route's dependencies (the case_for role checks) before it validates the request body, but a
check made inside the handler (PATCH /evidence/{id}, POST /bundles/{id}/rebuild) only runs once the body is
valid. So every request carries a minimal valid body built from the operation's schema: a 422 can never stand
in for the access answer. test_why_bodies_must_be_valid shows both orders.
"""

import uuid

import pytest

from tests.conftest import new_actor
from tests.helpers import build
from tests.records_support import imported
from tests.redaction_support import wait_ended
from tests.text_support import wait_text

pytestmark = pytest.mark.slow

PREFIX = "/api/v1"
OBJECT_IDS = (
    "case_id", "evidence_id", "exhibit_id", "bundle_id", "event_id", "import_id", "record_set_id", "analysis_id",
    "redaction_set_id", "production_id",
)  # fmt: skip
# Operations that name no case object: what they may do is tested in test_auth.py and test_cases.py.
CASELESS = {
    ("POST", "/api/v1/auth/token"),
    ("DELETE", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases"),
    ("POST", "/api/v1/admin/purge"),
    ("POST", "/api/v1/admin/verify"),
    ("POST", "/api/v1/admin/verify-runs"),  # admins only: tests/test_verify_runs.py
    ("GET", "/api/v1/admin/verify-runs"),
    ("GET", "/api/v1/admin/verify-runs/{run_id}"),
    ("POST", "/api/v1/admin/users/{user_id}/unlock"),  # admins only: tests/test_login_limits.py
    ("GET", "/api/v1/admin/users"),  # admins only: tests/test_web_admin.py
    ("POST", "/api/v1/admin/users/{user_id}/disable"),
    ("POST", "/api/v1/admin/users/{user_id}/enable"),
    ("GET", "/api/v1/search"),  # only the caller's cases, and 404 for another's: tests/test_search.py
}
METHODS = {"get", "post", "put", "patch", "delete"}
# Values for required query parameters (DELETE /evidence/{id} needs a reason).
QUERY_VALUES = {"reason": "access-matrix"}
# Reads for owners only: a viewer gets 403 on them, as on a write.
OWNER_READS = {("GET", "/api/v1/cases/{case_id}/audit"), ("GET", "/api/v1/cases/{case_id}/export")}


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, op)
        for path, ops in schema["paths"].items()
        if path.startswith(PREFIX + "/")
        for method, op in ops.items()
        if method in METHODS
    ]


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        if key in node:
            node = next((n for n in node[key] if n.get("type") != "null"), node[key][0])
            return resolve(schema, node)
    return node


def minimal(schema: dict, node: dict, ids: dict):
    """The smallest value the schema accepts: required properties only, each the simplest valid value."""
    node = resolve(schema, node)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type", "object")
    if kind == "object":
        props = node.get("properties", {})
        return {name: minimal(schema, props[name], ids) for name in node.get("required", [])}
    if kind == "array":
        return [minimal(schema, node["items"], ids) for _ in range(node.get("minItems", 0))]
    if kind == "integer" or kind == "number":
        return max(node.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    fmt = node.get("format")
    if fmt == "uuid":
        return ids["evidence_id"]
    if fmt == "email":
        return "matrix@firm.example"
    if fmt == "binary":
        return b"matrix"
    if fmt == "date-time":
        return "2021-03-04T12:00:00Z"
    return "2021-03-04"  # also a valid date, for fields like occurred_at


def request_kwargs(schema: dict, op: dict, ids: dict) -> dict:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": minimal(schema, content["application/json"]["schema"], ids)}
    if "multipart/form-data" in content:
        body = minimal(schema, content["multipart/form-data"]["schema"], ids)
        files = {k: ("matrix.txt", v) for k, v in body.items() if isinstance(v, bytes)}
        return {"files": files, "data": {k: v for k, v in body.items() if k not in files}}
    if "text/csv" in content:
        return {"content": b"occurred_at,title\n2021-03-04,Matrix import\n", "headers": {"Content-Type": "text/csv"}}
    assert not content, f"no body generator for {list(content)}: add one here"
    return {}


def fill(path: str, op: dict, values: dict) -> str:
    query = []
    for param in op.get("parameters", []):
        if param["in"] == "path":
            assert param["name"] in values, f"{path}: no value for path parameter {param['name']}: add one here"
            path = path.replace("{" + param["name"] + "}", str(values[param["name"]]))
        elif param.get("required"):
            known = param["in"] == "query" and param["name"] in QUERY_VALUES
            assert known, f"{path}: required {param['in']} parameter {param['name']}: add a value to QUERY_VALUES"
            query.append(f"{param['name']}={QUERY_VALUES[param['name']]}")
    return path + ("?" + "&".join(query) if query else "")


@pytest.fixture(scope="module")
def world(corpus, client):
    """Alice's case with evidence, an exhibit, a built bundle and a manual event; a viewer; the schema; Alice.
    Built once for the module (it takes a bundle, a redaction and a production): every request the tests make of
    it is one that must be refused, and the viewers' test checks that nothing changed."""
    alice = new_actor(client)
    case = alice.make_case(bates_prefix="MTRX")
    pdf = next(f for f in corpus if f.path.suffix == ".pdf")
    item = alice.upload(case["id"], pdf.path.read_bytes(), filename=pdf.path.name, kind=pdf.kind, title=pdf.title)
    assert item.status_code == 201, item.text
    item = item.json()
    bundle = build(alice, case["id"])
    event = alice.post(f"/api/v1/cases/{case['id']}/events", json={"occurred_at": "2021-03-04", "title": "Call"})
    assert event.status_code == 201, event.text
    job = alice.post(
        f"/api/v1/cases/{case['id']}/events:import",
        content=b"occurred_at,title\n2021-03-05,Imported call\n",
        headers={"Content-Type": "text/csv", "Prefer": "respond-async"},
    )
    assert job.status_code == 202, job.text
    reviews = imported(
        alice,
        case["id"],
        b'{"by": "A1", "stars": 5, "at": "2021-03-04"}\n',
        role="reviews",
        mapping={"by": "reviewer_id", "stars": "rating", "at": "reviewed_at"},
        filename="r.jsonl",
    )
    payments = imported(alice, case["id"], b'{"to": "a@x.example", "gross": "5", "at": "2021-03-05"}\n',
                        role="payments", mapping={"to": "payee_email", "gross": "amount", "at": "paid_at"},
                        filename="p.jsonl")  # fmt: skip
    analysis = alice.post(
        f"/api/v1/cases/{case['id']}/analyses",
        json={"type": "review_for_refund", "review_sets": [reviews["id"]], "payment_sets": [payments["id"]]},
    )
    assert analysis.status_code == 202, analysis.text
    wait_text(alice, item["id"])  # a box is drawn on a page the item is known to have
    box = alice.post(
        f"/api/v1/evidence/{item['id']}/redactions", json={"page": 1, "box": [0.1, 0.1, 0.3, 0.2], "reason": "PO"}
    )
    assert box.status_code == 201, box.text
    redaction_set = alice.post(f"/api/v1/evidence/{item['id']}/redactions/apply")
    assert redaction_set.status_code == 202, redaction_set.text
    production = alice.post(
        f"/api/v1/cases/{case['id']}/productions",
        json={"name": "Matrix", "prefix": "MTRX-P", "items": [item["id"]], "redacted": False},
    )
    assert production.status_code == 202, production.text
    # Both jobs run to their end here: one still writing files in the store during a later module's test would be
    # seen by the tests that watch the store settle.
    wait_ended(alice, f"/api/v1/redaction-sets/{redaction_set.json()['id']}")
    wait_ended(alice, f"/api/v1/productions/{production.json()['id']}")
    viewer = new_actor(client)
    added = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": viewer.email, "role": "viewer"})
    assert added.status_code == 201, added.text
    ids = {
        "case_id": case["id"],
        "evidence_id": item["id"],
        "exhibit_id": item["exhibit"]["id"],
        "bundle_id": bundle["id"],
        "event_id": event.json()["id"],
        "import_id": job.json()["id"],
        # Another member (the owner): a viewer may remove only themself, so this is a write they may not make.
        "user_id": alice.get("/api/v1/auth/me").json()["id"],
        "number": 1,
        "page": 1,
        "record_set_id": reviews["id"],
        "row": 1,
        "analysis_id": analysis.json()["id"],
        "redaction_id": box.json()["id"],
        "redaction_set_id": redaction_set.json()["id"],
        "production_id": production.json()["id"],
    }
    schema = client.get("/openapi.json").json()
    return schema, ids, viewer, alice


def scoped(schema: dict) -> list[tuple[str, str, dict]]:
    found, unscoped = [], []
    for method, path, op in operations(schema):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        if names & set(OBJECT_IDS):
            found.append((method, path, op))
        elif (method, path) not in CASELESS:
            unscoped.append((method, path))
    assert unscoped == [], "routes without a case object id: add them to CASELESS or test their access here"
    return found


def test_non_members_get_404_everywhere_as_for_missing_ids(world, bob):
    schema, ids, _, _ = world
    ghosts = {name: uuid.uuid4() for name in OBJECT_IDS} | {
        "user_id": ids["user_id"], "number": 1, "page": 1, "row": 1, "redaction_id": uuid.uuid4(),
    }  # fmt: skip
    checked = 0
    for method, path, op in scoped(schema):
        kwargs = request_kwargs(schema, op, ids)
        real = bob.request(method, fill(path, op, ids), **kwargs)
        assert real.status_code == 404, (method, path, real.status_code, real.text)
        ghost = bob.request(method, fill(path, op, ghosts), **request_kwargs(schema, op, ids))
        assert (ghost.status_code, ghost.json()) == (404, real.json()), (method, path)
        checked += 1
    assert checked >= 25  # the table really was read


def test_viewers_read_but_get_403_on_every_write(world):
    schema, ids, viewer, alice = world
    for method, path, op in scoped(schema):
        r = viewer.request(method, fill(path, op, ids), **request_kwargs(schema, op, ids))
        if method == "GET" and (method, path) not in OWNER_READS:
            assert r.status_code not in (403, 404) and r.status_code < 500, (method, path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (method, path, r.status_code, r.text)
    # Nothing was changed or removed on the way.
    case = alice.get(f"/api/v1/cases/{ids['case_id']}").json()
    assert case["title"] == "Acme Audio v. Mpow Direct"
    # The evidence, its redacted copy and the 2 record sets' originals.
    assert len(alice.get(f"/api/v1/cases/{ids['case_id']}/exhibits").json()["items"]) == 4
    assert alice.get(f"/api/v1/cases/{ids['case_id']}/events/{ids['event_id']}").status_code == 200
    members = alice.get(f"/api/v1/cases/{ids['case_id']}/members").json()["items"]
    assert sorted(m["role"] for m in members) == ["owner", "viewer"]


def test_why_bodies_must_be_valid(world, bob):
    """A role check in a dependency answers before body validation; one inside the handler answers after it."""
    _, ids, viewer, _ = world
    events = f"/api/v1/cases/{ids['case_id']}/events"
    assert bob.post(events, json={}).status_code == 404
    assert viewer.post(events, json={}).status_code == 403
    evidence = f"/api/v1/evidence/{ids['evidence_id']}"
    assert bob.patch(evidence, json={"title": ""}).status_code == 422  # validated before the check
    assert bob.patch(evidence, json={}).status_code == 404


def test_every_admin_route_refuses_members_who_are_not_admins(world, bob):
    """Case owners included: administration is a property of the account, not of a role in a case."""
    schema, _, viewer, alice = world
    admin_routes = [(m, p) for m, p, _ in operations(schema) if p.startswith("/api/v1/admin/")]
    assert admin_routes, "no admin routes found"
    for method, path in admin_routes:
        for actor in (alice, bob, viewer):
            r = actor.request(method, path)
            assert r.status_code == 403 and "administrator" in r.json()["detail"], (method, path, r.text)
