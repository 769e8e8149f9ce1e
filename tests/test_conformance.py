"""HTTP conformance: what a client reads in the OpenAPI document is what the server does.

OPTIONS answers 204 with an `Allow` header listing every method of the path, and a 405 lists the same; a
download is served with a type the document declares; any 500 is JSON with an error id.
"""

import logging
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _concrete(path: str) -> str:
    """The path template with each parameter filled in (a UUID for ids, 1 for numbers)."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            part = "1" if part == "{number}" else str(uuid.uuid4())
        parts.append(part)
    return "/".join(parts)


def _allow(response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


def test_options_answers_every_documented_path_with_exactly_its_methods(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert len(paths) > 20
    for path, operations in paths.items():
        documented = {m.upper() for m in operations if m in METHODS} | {"OPTIONS"}
        r = client.options(_concrete(path))
        assert r.status_code == 204, (path, r.status_code, r.text)
        assert _allow(r) == documented, path
        assert r.content == b""


def test_a_method_the_path_does_not_take_gets_405_listing_all_it_takes(client, alice):
    path = f"/api/v1/evidence/{uuid.uuid4()}"
    r = alice.request("PUT", path, json={})
    assert r.status_code == 405
    assert _allow(r) == {"GET", "PATCH", "DELETE", "OPTIONS"}
    assert r.headers["content-type"] == "application/json"
    assert "PUT" in r.json()["detail"] and "PATCH" in r.json()["detail"]
    assert client.options("/api/v1/no-such-route").status_code == 404


def _matches(media_type: str, documented: str) -> bool:
    expected, got = documented.split("/"), media_type.split(";")[0].strip().split("/")
    return all(e in ("*", g) for e, g in zip(expected, got, strict=True))


def test_a_download_is_served_as_a_type_the_schema_declares_and_as_sniffed(client, alice):
    doc = client.get("/openapi.json").json()
    declared = doc["paths"]["/api/v1/evidence/{evidence_id}/content"]["get"]["responses"]["200"]["content"]
    case = alice.make_case()
    for content, sniffed in ((b"Leave a 5-star review and get a $20 refund.\n", "text/plain"), (b"\x00\x01\xff", None)):
        item = alice.upload(case["id"], content).json()
        r = alice.get(f"/api/v1/evidence/{item['id']}/content")
        assert r.status_code == 200 and r.content == content
        served = r.headers["content-type"]
        assert served == item["media_type"]  # exactly as sniffed: no charset the bytes were never checked for
        assert sniffed is None or served == sniffed
        assert any(_matches(served, documented) for documented in declared), (served, list(declared))


def test_an_unexpected_failure_is_json_with_an_error_id_that_is_logged(caplog):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    def fails():
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR, logger="casebinder.errors"):
        r = TestClient(app, raise_server_exceptions=False).get("/fails")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    error_id = r.json()["error_id"]
    assert error_id in r.json()["detail"]
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)
