"""Hostile values in the fields people type: each a clear 422 that names the field and what is wrong, the same on
SQLite and PostgreSQL, and nothing stored. NUL characters (PostgreSQL text cannot hold them), unpaired surrogate
escapes (no UTF-8 spelling), text over the field's limit, dates that leave the calendar in some timezone, numbers
past their column, booleans passed as numbers, and label templates that make unusable labels."""

import json

import pytest

from tests.conftest import PASSWORD
from tests.helpers import BOUNDARY, multipart_part, refused, send, upload

NUL, LONE = "a\x00b", "a\ud800b"
# What the 422 says about each kind of value (case-insensitively), besides the field's name.
SAYS = {NUL: "nul", LONE: "surrogate"}


# (method, path, body with V where the hostile value goes, the field the 422 must name)
TEXT_FIELDS = [
    ("POST", "/cases", {"case_type": "other", "title": "V"}, "title"),
    ("POST", "/cases", {"case_type": "other", "title": "T", "docket_number": "V"}, "docket_number"),
    ("POST", "/cases", {"case_type": "other", "title": "T", "court": "V"}, "court"),
    ("POST", "/cases", {"case_type": "other", "title": "T", "parties": [{"name": "V", "role": "x"}]}, "name"),
    ("PATCH", "/cases/{case}", {"title": "V"}, "title"),
    ("PATCH", "/cases/{case}", {"docket_number": "V"}, "docket_number"),
    ("PATCH", "/cases/{case}", {"court": "V"}, "court"),
    ("PATCH", "/cases/{case}", {"parties": [{"name": "P", "role": "V"}]}, "role"),
    ("POST", "/cases/{case}/legal-hold", {"reason": "V"}, "reason"),
    ("POST", "/cases/{case}/members", {"email": "V", "role": "viewer"}, "email"),
    ("PATCH", "/evidence/{evidence}", {"title": "V"}, "title"),
    ("PATCH", "/evidence/{evidence}", {"description": "V"}, "description"),
    ("PATCH", "/evidence/{evidence}", {"custodian": "V"}, "custodian"),
    ("PATCH", "/evidence/{evidence}", {"tags": ["V"]}, "tags"),
    ("PATCH", "/evidence/{evidence}", {"facts": {"order_id": "V"}}, "order_id"),
    ("PATCH", "/evidence/{evidence}", {"kind": "other", "facts": {"note": "V"}}, "note"),
    ("PATCH", "/evidence/{evidence}", {"kind": "other", "facts": {"V": "x"}}, "facts"),
    ("PATCH", "/cases/{case}/exhibits/{exhibit}", {"label": "V"}, "label"),
    ("PATCH", "/cases/{case}/exhibits/{exhibit}", {"note": "V"}, "note"),
    ("POST", "/cases/{case}/bundles", {"title": "V"}, "title"),
    ("POST", "/cases/{case}/events", {"occurred_at": "2021", "title": "V"}, "title"),
    ("POST", "/cases/{case}/events", {"occurred_at": "2021", "title": "T", "tags": ["V"]}, "tags"),
    ("PATCH", "/cases/{case}/events/{event}", {"description": "V"}, "description"),
    ("POST", "/users", {"email": "new@firm.example", "password": PASSWORD, "full_name": "V"}, "full_name"),
]


def _fill(template, value):
    if isinstance(template, dict):
        return {_fill(k, value): _fill(v, value) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, value) for v in template]
    return value if template == "V" else template


@pytest.mark.parametrize("value", [NUL, LONE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    ("method", "path", "body", "field"), TEXT_FIELDS, ids=[f"{m} {p} {f}" for m, p, _, f in TEXT_FIELDS]
)
def test_nul_and_unpaired_surrogates_are_refused_in_every_text_field(world, method, path, body, field, value):
    owner, ids = world
    refused(send(owner, method, path.format(**ids), _fill(body, value)), field, SAYS[value])


def test_text_in_query_parameters_is_checked_too(world):
    owner, ids = world
    timeline = f"/api/v1/cases/{ids['case']}/timeline"
    refused(owner.get(timeline, params={"q": NUL}), "q", "nul")
    refused(owner.get(timeline, params={"tag": NUL}), "tag", "nul")
    refused(owner.get(timeline, params={"q": "x" * 501}), "q", "500")
    refused(owner.get(f"/api/v1/cases/{ids['case']}/timeline.pdf", params={"q": NUL}), "q", "nul")


@pytest.mark.parametrize("field", ["title", "description", "custodian", "source_url", "tags", "occurred_at"])
def test_nul_in_an_upload_form_field_is_refused(world, field):
    owner, ids = world
    value = "https://example.com/" + NUL if field == "source_url" else NUL
    refused(upload(owner, ids["case"], **{field: value}), field, "nul")


@pytest.mark.parametrize("value", ['{"note": "a\\u0000b"}', '{"note": "a\\ud800b"}', '{"a\\u0000": 1}'])
def test_nul_and_surrogates_in_upload_facts_are_refused(world, value):
    owner, ids = world
    refused(upload(owner, ids["case"], facts=value), "facts")


def test_upload_and_edit_take_the_same_title_limit(world):
    """One limit for an evidence title, as the upload form and PATCH both document it in OpenAPI."""
    owner, ids = world
    schema = owner.client.get("/openapi.json").json()
    form = schema["paths"]["/api/v1/cases/{case_id}/evidence"]["post"]["requestBody"]["content"]
    limit = form["multipart/form-data"]["schema"]["properties"]["title"]["maxLength"]
    patch = schema["components"]["schemas"]["EvidenceUpdate"]["properties"]["title"]["anyOf"][0]["maxLength"]
    assert limit == patch
    refused(upload(owner, ids["case"], title="x" * (limit + 1)), "title", str(limit))
    refused(send(owner, "PATCH", f"/evidence/{ids['evidence']}", {"title": "x" * (limit + 1)}), "title", str(limit))
    assert upload(owner, ids["case"], title="x" * limit).status_code == 201
    assert send(owner, "PATCH", f"/evidence/{ids['evidence']}", {"title": "x" * limit}).status_code == 200


# 9999-12-31T23:59:59 in New York is past the last instant Python keeps in UTC; year 1 leaves the calendar
# when shown in a zone west of UTC.
FAR_DATES = ["9999-12-31T23:59:59", "9999-12-31", "0001-01-01T00:00:00Z", "0001-01-01"]


@pytest.mark.parametrize("value", FAR_DATES)
@pytest.mark.parametrize("field", ["occurred_at", "captured_at"])
def test_dates_out_of_range_are_refused_on_upload_and_edit(world, field, value):
    owner, ids = world
    refused(upload(owner, ids["case"], **{field: value}), field, "year")
    refused(send(owner, "PATCH", f"/evidence/{ids['evidence']}", {field: value}), field, "year")


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_dates_out_of_range_are_refused_in_facts(world, value):
    owner, ids = world
    body = {"kind": "email", "facts": {"sent_at": value}}
    refused(send(owner, "PATCH", f"/evidence/{ids['evidence']}", body), "sent_at", "year")


# (method, path, body with N where the number goes, field)
NUMBER_FIELDS = [
    ("POST", "/cases/{case}/bundles", {"bates_start": "N"}, "bates_start"),
    ("POST", "/cases/{case}/bundles", {"bates_digits": "N"}, "bates_digits"),
    ("POST", "/cases/{case}/bundles", {"max_volume_mb": "N"}, "max_volume_mb"),
    ("POST", "/cases/{case}/events", {"occurred_at": "2021", "title": "T", "evidence_id": "E", "page": "N"}, "page"),
    ("PATCH", "/cases/{case}/events/{event}", {"evidence_id": "E", "page": "N"}, "page"),
    ("PATCH", "/cases/{case}/exhibits/{exhibit}", {"position": "N"}, "position"),
    ("POST", "/admin/verify", {"anchors": [{"seq": "N", "hash": "0" * 64}]}, "seq"),
    ("POST", "/admin/verify-runs", {"anchors": [{"seq": "N", "hash": "0" * 64}]}, "seq"),
]


@pytest.mark.parametrize("number", [True, 2**63, 10**40], ids=["true", "2^63", "1e40"])
@pytest.mark.parametrize(
    ("method", "path", "body", "field"), NUMBER_FIELDS, ids=[f"{m} {p} {f}" for m, p, _, f in NUMBER_FIELDS]
)
def test_numbers_past_their_column_and_booleans_as_numbers_are_refused(world, method, path, body, field, number):
    owner, ids = world
    filled = json.loads(json.dumps(body).replace('"N"', json.dumps(number)).replace('"E"', json.dumps(ids["evidence"])))
    refused(send(owner, method, path.format(**ids), filled), field)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [row for row in NUMBER_FIELDS if row[3] in ("page", "position")]
)
def test_a_page_or_position_of_2_to_the_31_is_refused(world, method, path, body, field):
    """PostgreSQL keeps pages and exhibit positions in 32-bit columns."""
    owner, ids = world
    filled = json.loads(json.dumps(body).replace('"N"', str(2**31)).replace('"E"', json.dumps(ids["evidence"])))
    refused(send(owner, method, path.format(**ids), filled), field, "1000000")


@pytest.mark.parametrize(
    ("template", "says"),
    [("{n:>200}", "100"), ("{n:>99999999}", "100"), ("PX-{n:c}", "character"), ("{n:{n}}", "{n}"), ("{m}", "{n}")],
)
def test_label_templates_that_make_unusable_labels_are_refused(world, template, says):
    owner, ids = world
    body = {"case_type": "other", "title": "T", "exhibit_label_template": template}
    refused(send(owner, "POST", "/cases", body), "exhibit_label_template", says)
    refused(
        send(owner, "PATCH", f"/cases/{ids['case']}", {"exhibit_label_template": template}), "exhibit_label_template"
    )
    assert upload(owner, ids["case"]).status_code == 201  # the case's uploads still work


def test_a_multipart_boundary_past_the_parsers_limit_is_refused(world):
    owner, ids = world
    boundary = BOUNDARY * 20  # 300 characters
    body = multipart_part(b"kind", b"other").replace(BOUNDARY, boundary) + b"--" + boundary + b"--\r\n"
    r = owner.post(
        f"/api/v1/cases/{ids['case']}/evidence",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    refused(r, "boundary", "256")


# Not capped by a schema: OAuth2's login form is read and never stored as sent (an odd or overlong email is the
# same audited 401 as a wrong password, tests/test_login_limits.py); an import is a streamed file, held to the
# limits its description gives, line by line.
UNCAPPED = {"POST /api/v1/auth/token", "POST /api/v1/cases/{case_id}/events:import"}


def _uncapped(schema: dict, node: dict, where: str) -> list[str]:
    """Every text, list or free-form object in a request schema that states no maximum size."""
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in node:
        return [w for alt in node["anyOf"] for w in _uncapped(schema, alt, where)]
    kind, found = node.get("type"), []
    if kind == "string" and "enum" not in node and node.get("format") not in ("uuid", "date", "date-time", "binary"):
        found += [] if "maxLength" in node else [where]
    elif kind == "array":
        found += ([] if "maxItems" in node else [where]) + _uncapped(schema, node.get("items", {}), f"{where}[]")
    elif kind == "object":
        found += [] if "properties" in node or "maxProperties" in node else [where]
        found += [w for k, v in node.get("properties", {}).items() for w in _uncapped(schema, v, f"{where}.{k}")]
    return found


def test_every_text_field_a_user_sends_has_a_documented_limit(client):
    schema = client.get("/openapi.json").json()
    missing = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            label = f"{method.upper()} {path}"
            if label in UNCAPPED:
                continue
            for param in op.get("parameters", []):
                missing += _uncapped(schema, param["schema"], f"{label} ?{param['name']}")
            for media, body in op.get("requestBody", {}).get("content", {}).items():
                missing += _uncapped(schema, body["schema"], f"{label} ({media})")
    assert missing == []


@pytest.mark.parametrize(
    ("create", "update"), [("CaseCreate", "CaseUpdate"), ("EventCreate", "EventUpdate"), ("upload", "EvidenceUpdate")]
)
def test_create_and_update_take_the_same_limits(client, create, update):
    schema = client.get("/openapi.json").json()
    if create == "upload":
        form = schema["paths"]["/api/v1/cases/{case_id}/evidence"]["post"]["requestBody"]["content"]
        created = form["multipart/form-data"]["schema"]["properties"]
    else:
        created = schema["components"]["schemas"][create]["properties"]
    updated = schema["components"]["schemas"][update]["properties"]

    def limits(prop: dict) -> tuple:
        text = next((p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"), prop)
        return text.get("maxLength"), text.get("maxItems"), (text.get("items") or {}).get("maxLength")

    # The upload sends dates, tags and facts as text, where PATCH takes them as JSON values.
    as_text = {"occurred_at", "captured_at", "tags", "facts"} if create == "upload" else set()
    shared = set(created) & set(updated) - as_text
    assert len(shared) >= 4
    assert {name: limits(created[name]) for name in shared} == {name: limits(updated[name]) for name in shared}


def test_blank_query_parameters_still_mean_no_filter(world):
    owner, ids = world
    for path, params in [
        ("timeline", {"start": "", "end": "", "q": "", "tag": ""}),
        ("audit", {"start": "", "end": ""}),
    ]:
        r = owner.get(f"/api/v1/cases/{ids['case']}/{path}", params=params)
        assert r.status_code == 200, r.text
        assert r.json()["items"]


def test_upload_fields_keep_being_read_as_before(world):
    """Blank optional fields count as not sent; the kind may come with spaces around it."""
    owner, ids = world
    r = upload(owner, ids["case"], kind=" other ", occurred_at=" ", facts="", tags="", custodian="  ")
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["occurred_at"], r.json()["custodian"]) == ("other", None, None)
