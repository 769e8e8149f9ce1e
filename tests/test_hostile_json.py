"""JSON a client can write but nothing should store: nested thousands deep, integers past Python's 4,300-digit
conversion limit, NaN and Infinity. Each is a clear 422 naming where it is, in a request body, in the upload's
`facts` field, in a JSON Lines import and in a cursor, on SQLite and PostgreSQL alike; and the command line
refuses out-of-range values with a message instead of a traceback."""

import base64

import pytest

from tests.helpers import refused, run_cli, send, upload
from tests.timeline_support import import_file

DEEP = "[" * 5000 + "]" * 5000  # RecursionError in json.loads
NESTED = "[" * 200 + "]" * 200  # parses, but is no fact anyone records
HUGE_INT = "9" * 5000  # past sys.get_int_max_str_digits()
WIDE_INT = "9" * 40  # parses, fits no column

HOSTILE_VALUES = {
    "deep": (DEEP, "nested"),
    "nested": (NESTED, "nested"),
    "huge int": (HUGE_INT, "digits"),
    "wide int": (WIDE_INT, "number"),
    "nan": ("NaN", "nan"),
    "infinity": ("-Infinity", "infinity"),
    "overflowing float": ("1e999", "number"),
}
CASES = list(HOSTILE_VALUES.values())
IDS = list(HOSTILE_VALUES)


@pytest.mark.parametrize(("value", "says"), CASES, ids=IDS)
def test_hostile_json_in_a_request_body_is_a_422_naming_where_it_is(world, value, says):  # noqa: F811
    owner, ids = world
    body = f'{{"kind": "other", "facts": {{"size": {value}}}}}'.encode()
    refused(send(owner, "PATCH", f"/evidence/{ids['evidence']}", body), "size", says)
    case_body = f'{{"case_type": "other", "title": "T", "parties": [{{"name": "N", "role": {value}}}]}}'.encode()
    refused(send(owner, "POST", "/cases", case_body), "role", says)


@pytest.mark.parametrize(("value", "says"), CASES, ids=IDS)
def test_hostile_json_in_the_upload_facts_field_is_a_422(world, value, says):  # noqa: F811
    owner, ids = world
    refused(upload(owner, ids["case"], facts=f'{{"size": {value}}}'), "facts", says)


@pytest.mark.parametrize(("value", "says"), CASES, ids=IDS)
def test_hostile_json_in_a_json_lines_import_is_a_422_with_its_row(world, value, says):  # noqa: F811
    owner, ids = world
    lines = f'{{"occurred_at": "2021", "title": "fine"}}\n{{"occurred_at": "2021", "title": {value}}}\n'.encode()
    r = import_file(owner, ids["case"], lines, "application/x-ndjson")
    assert r.status_code == 422, r.text[:300]
    [error] = r.json()["detail"]["errors"]
    assert error["row"] == 2 and says in error["message"].lower(), error


@pytest.mark.parametrize("text", ["a\\u0000b", "a\\ud800b"], ids=["nul", "surrogate"])
def test_nul_and_surrogate_escapes_in_a_json_lines_import_are_refused(world, text):  # noqa: F811
    owner, ids = world
    lines = f'{{"occurred_at": "2021", "title": "{text}"}}\n'.encode()
    r = import_file(owner, ids["case"], lines, "application/x-ndjson")
    assert r.status_code == 422, r.text[:300]
    assert [(e["row"], e["column"]) for e in r.json()["detail"]["errors"]] == [(1, "title")]


@pytest.mark.parametrize(
    "payload",
    ["[" * 300 + "]" * 300, f'["exhibits", {WIDE_INT}, "00000000-0000-0000-0000-000000000000"]'],
    ids=["nested", "wide int"],
)
def test_a_forged_cursor_is_a_400(world, payload):  # noqa: F811
    owner, ids = world
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    r = owner.get(f"/api/v1/cases/{ids['case']}/exhibits", params={"cursor": cursor})
    assert r.status_code == 400, r.text[:300]
    assert "cursor" in r.json()["detail"]


def test_a_cursor_longer_than_any_the_api_hands_out_is_a_422(world):  # noqa: F811
    owner, ids = world
    cursor = base64.urlsafe_b64encode(f'["exhibits", {HUGE_INT}, "x"]'.encode()).decode()
    refused(owner.get(f"/api/v1/cases/{ids['case']}/exhibits", params={"cursor": cursor}), "cursor", "1000")


def test_the_command_line_refuses_values_out_of_range_with_a_message(client):
    email = "cli-range@firm.example"  # refused before any account is looked up
    days = run_cli("token", "create", email, "--days", "99999999")
    assert days.returncode == 2 and "Traceback" not in days.stderr and "--days" in days.stderr, days.stderr
    name = run_cli("token", "create", email, "--name", "x" * 101)
    assert name.returncode == 2 and "Traceback" not in name.stderr and "--name" in name.stderr, name.stderr
    full_name = run_cli(
        "user", "create", "cli-range-2@firm.example", "--password", "a long password", "--name", "a\tb" * 101
    )
    assert full_name.returncode == 1 and "full_name" in full_name.stderr, full_name.stderr
    anchor = run_cli("verify", "--anchor", f"{2**63}:{'0' * 64}")
    assert anchor.returncode == 2 and "Traceback" not in anchor.stderr and "anchor" in anchor.stderr, anchor.stderr


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", b"\xff\xfe not UTF-8"), (None, b"\xff"), ("application/octet-stream", b"\x00\xc3")],
    ids=["text/plain", "no content type", "octet-stream"],
)
def test_bytes_that_are_not_text_sent_to_a_json_route_get_a_422(alice, content_type, body):
    """FastAPI hands such a body to validation as bytes; the 422 that says so must not fail to echo them."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = alice.request("POST", "/api/v1/cases", content=body, headers=headers)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"][0]["loc"] == ["body"]
