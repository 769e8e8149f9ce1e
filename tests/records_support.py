"""Record sets through the HTTP API: upload one, wait for its import, read every page of its records."""

import json
import time


def send_set(actor, case_id: str, content: bytes, *, role: str, mapping: dict, name: str = "Records",
             filename: str = "records.csv", **fields):  # fmt: skip
    data = {"name": name, "role": role, "mapping": json.dumps(mapping)} | fields
    return actor.post(f"/api/v1/cases/{case_id}/record-sets", files={"file": (filename, content)}, data=data)


def wait_imported(actor, record_set_id: str, *, seconds: float = 180) -> dict:
    """Poll until the import ends (a wait for a background job, not a performance limit)."""
    deadline = time.monotonic() + seconds
    while True:
        body = actor.get(f"/api/v1/record-sets/{record_set_id}").json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def imported(actor, case_id: str, content: bytes, **kw) -> dict:
    r = send_set(actor, case_id, content, **kw)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/v1/record-sets/{r.json()['id']}"
    return wait_imported(actor, r.json()["id"])


def records(actor, record_set_id: str, **params) -> list[dict]:
    """Every record matching the filter, through every page."""
    out, cursor = [], None
    while True:
        page = actor.get(
            f"/api/v1/record-sets/{record_set_id}/records", params=params | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        body = page.json()
        out += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return out
