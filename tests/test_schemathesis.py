"""Every operation of the app's own OpenAPI schema, fed generated requests by Schemathesis: no 5xx, and every
response (status code and body) is one the schema declares.

Requests carry a real token of a user who owns a case with evidence, an exhibit, a timeline event, a member and
a built bundle; most generated ids in paths are swapped for those real ones so the handlers get past the 404.
The run is bounded: a fixed number of derandomized examples per operation (the examples and fuzzing phases;
the coverage phase, whose size grows with the schema, is left to a manual `schemathesis run`), no deadline.
Beside the generated requests, every operation gets targeted hostile ones made from the schema
(tests/hostile_cases.py: NUL, unpaired surrogates, one over every limit, huge and boolean numbers, dates that
leave the calendar, deep JSON), held to the same checks.
"""

import io
import time
import uuid
import zlib
from collections import defaultdict
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import func
from sqlmodel import select

from api.app import app as application
from api.db import session_scope
from api.services import users as user_service
from models.bundle import Bundle
from models.user import UserCreate
from tests.conftest import PASSWORD, Actor
from tests.hostile_cases import Builder

pytestmark = pytest.mark.slow

EXAMPLES = 20
# Generated requests come from this address, so their failed logins never count against other tests' limits.
CLIENT_ADDRESS = "192.0.2.99"


class _FromAddress:
    """The app as seen from CLIENT_ADDRESS. Its lifespan (the bundle worker) is run by the suite's TestClient."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan here")  # refused before any message: read as "no lifespan support"
        if scope["type"] == "http":
            scope = dict(scope, client=(CLIENT_ADDRESS, 50000))
        await self.app(scope, receive, send)


# Loaded at collection from the app object itself (describing the API needs no database); the generated
# requests run later, once the suite's fixtures have pointed the app at the test database and blob store.
schema = schemathesis.openapi.from_asgi("/openapi.json", _FromAddress(application))
schema.config.phases.update(phases=["examples", "fuzzing"])


@schemathesis.serializer("application/x-ndjson")
def _json_lines(_, value) -> bytes:
    """An import file as given (the schema describes it as text)."""
    return value if isinstance(value, bytes) else str(value).encode()


# Per operation, the status codes its generated requests got: read by the last test of this module.
STATUSES: dict[str, set[int]] = defaultdict(set)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), "navy").save(buf, "PNG")
    return buf.getvalue()


def _user(client) -> tuple[Actor, str]:
    email = f"fuzz-{uuid.uuid4().hex[:10]}@firm.example"
    with session_scope() as session:
        user = user_service.create_user(session, UserCreate(email=email, password=PASSWORD))
        token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=2))
        return Actor(client, email, token), str(user.id)


def _spare_token(email: str) -> dict:
    """A second token of the same user, for a request that revokes the token it is sent with."""
    with session_scope() as session:
        token, _ = user_service.issue_token(session, user_service.get_by_email(session, email), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def _wait_for_bundles(limit: float = 300) -> None:
    """Let queued builds finish, so that the tests after this module do not share the machine with them."""
    deadline = time.monotonic() + limit
    while True:
        with session_scope() as session:
            busy = session.exec(select(func.count()).where(Bundle.status.in_(("queued", "running")))).one()
        if not busy:
            return
        assert time.monotonic() < deadline, f"{busy} bundle build(s) still unfinished"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def world(client):
    """A user who owns a case with a real object behind every kind of id in the schema's paths."""
    owner, _ = _user(client)
    colleague, colleague_id = _user(client)
    case = owner.make_case()
    member = owner.post(f"/api/v1/cases/{case['id']}/members", json={"email": colleague.email, "role": "viewer"})
    assert member.status_code == 201, member.text
    item = owner.upload(case["id"], _png(), filename="review.png", kind="review_screenshot", title="Review").json()
    event = owner.post(f"/api/v1/cases/{case['id']}/events", json={"title": "Refund offered", "occurred_at": "2021-03"})
    assert event.status_code == 201, event.text
    bundle = owner.post(f"/api/v1/cases/{case['id']}/bundles", json={})
    assert bundle.status_code == 202, bundle.text
    _wait_for_bundles()
    yield {
        "owner": owner,
        "ids": {
            "case_id": case["id"],
            "evidence_id": item["id"],
            "exhibit_id": item["exhibit"]["id"],
            "event_id": event.json()["id"],
            "bundle_id": bundle.json()["id"],
            "user_id": colleague_id,
            "number": 1,
        },
    }
    _wait_for_bundles()  # the builds that generated requests queued


# Each success of these costs a second or more of CPU (a PDF rendered, a bundle build queued): on real ids
# they run only a few times, so the run stays short.
COSTLY = {
    "GET /api/v1/evidence/{evidence_id}/custody.pdf",
    "GET /api/v1/cases/{case_id}/timeline.pdf",
    "POST /api/v1/cases/{case_id}/bundles",
    "POST /api/v1/bundles/{bundle_id}/rebuild",
}
COSTLY_ON_REAL_IDS = 3
REAL_ID_CALLS: dict[str, int] = defaultdict(int)


def _use_real_ids(case, ids: dict) -> None:
    """Swap three generated path ids in four for real ones (picked by the generated value, so reproducibly)."""
    label = case.operation.label
    if label in COSTLY and REAL_ID_CALLS[label] >= COSTLY_ON_REAL_IDS:
        return
    swapped = False
    for name, value in (case.path_parameters or {}).items():
        if name in ids and zlib.crc32(str(value).encode()) % 4:
            case.path_parameters[name] = ids[name]
            swapped = True
    REAL_ID_CALLS[label] += swapped


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_every_operation_answers_as_its_schema_says(case, world):
    _use_real_ids(case, world["ids"])
    owner = world["owner"]
    logout = case.operation.label == "DELETE /api/v1/auth/token"
    response = case.call_and_validate(
        headers=_spare_token(owner.email) if logout else owner.headers,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
    STATUSES[case.operation.label].add(response.status_code)


def test_generated_requests_reached_real_objects(world):
    """Beyond the 404: each operation on the world's objects got at least one answer about a real one."""
    if not STATUSES:
        pytest.skip("runs after the generated requests of this module")
    known = set(world["ids"])
    on_objects = {label for label in STATUSES if "{" in label}
    for label in sorted(on_objects):
        names = {part.strip("{}") for part in label.split("/") if part.startswith("{")}
        if names <= known:
            assert STATUSES[label] - {404}, f"{label}: only 404s, never reached a real object"
    assert any(200 <= s < 300 for label in on_objects for s in STATUSES[label])


def _operations() -> list:
    return [result.ok() for result in schema.get_all_operations()]


ADMIN_ONLY = ("/api/v1/admin/", "/api/v1/users")


@pytest.fixture(scope="module")
def hostile(world):
    """The hostile requests of every operation, against the world's real objects; admin routes as an admin."""
    admin, _ = _user(world["owner"].client)
    with session_scope() as session:
        user_service.get_by_email(session, admin.email).is_admin = True
    builder = Builder(application.openapi(), world["ids"])
    spec = application.openapi()["paths"]
    return {
        op.label: (
            admin if op.path.startswith(ADMIN_ONLY) else world["owner"],
            builder.operation(spec[op.path][op.method.lower()], op.path),
        )
        for op in _operations()
    }


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_hostile_values_in_every_input_answer_4xx_as_the_schema_says(operation, hostile):
    actor, cases = hostile[operation.label]
    logout = operation.label == "DELETE /api/v1/auth/token"
    for case in cases:
        body = {} if case.body is None else {"body": case.body, "media_type": case.media_type}
        request = operation.Case(path_parameters=case.path_parameters, query=case.query, **body)
        headers = _spare_token(actor.email) if logout else actor.headers
        try:
            request.call_and_validate(
                headers=headers, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
            )
        except Exception as exc:
            raise AssertionError(f"{operation.label}, {case.what}: {exc}") from exc
