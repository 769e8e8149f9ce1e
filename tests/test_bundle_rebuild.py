"""Rebuilding a bundle never takes away a PDF that was built: under a legal hold the rebuild is a new bundle
beside the filed one; outside a hold a bundle keeps serving its last good build while it is rebuilt, keeps it
if the rebuild fails, and a superseded volume nothing else names leaves the store once the new one is recorded."""

import io
import uuid
import zipfile
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import MetaData

from api import migrate
from api.db import make_engine
from models.common import UTCDateTime
from tests.helpers import (
    REASON,
    add_member,
    blob,
    build,
    download,
    events,
    hold,
    rebuild,
    unique_bytes,
    wait_done,
    worker_held_off,
)
from tests.server_process import fresh_database

pytestmark = pytest.mark.slow


def text_case(owner, *titles: str, **fields) -> tuple[dict, list[dict]]:
    """A case with one small text exhibit per title (text pages build fast)."""
    case = owner.make_case(bates_prefix="RB", **fields)
    items = []
    for title in titles:
        r = owner.upload(case["id"], unique_bytes(title), filename=f"{title}.txt", title=title)
        assert r.status_code == 201, r.text
        items.append(r.json())
    return case, items


def exported_files(owner, case: dict) -> set[str]:
    r = owner.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        return set(zf.namelist())


def listed(actor, case: dict) -> dict[str, dict]:
    return {b["id"]: b for b in actor.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"]}


def test_a_rebuild_under_hold_is_a_new_bundle_beside_the_filed_one(alice, make_user, blob_root):
    case, _ = text_case(alice, "Chat log", "Refund record")
    editor = make_user()
    add_member(alice, case["id"], editor, "editor")
    filed = build(alice, case["id"], title="Trial Exhibits")
    filed_pdf = download(alice, filed)
    assert hold(alice, case["id"]).status_code == 200

    queued = rebuild(editor, filed)
    assert queued["id"] != filed["id"] and queued["rebuilt_from"] == filed["id"]
    assert queued["params"] == filed["params"] and queued["title"] == filed["title"]
    again = wait_done(editor, queued["id"])
    assert again["status"] == "done", again
    # The same document: same Bates numbers, same bytes.
    assert (again["bates_first"], again["bates_last"]) == (filed["bates_first"], filed["bates_last"])
    assert again["sha256"] == filed["sha256"]

    kept = alice.get(f"/api/v1/bundles/{filed['id']}").json()
    assert kept["status"] == "done" and kept["rebuilt_from"] is None
    assert (kept["sha256"], kept["volumes"], kept["finished_at"]) == (
        filed["sha256"],
        filed["volumes"],
        filed["finished_at"],
    )
    assert download(alice, kept) == filed_pdf and blob(blob_root, filed["sha256"]).is_file()
    assert set(listed(alice, case)) == {filed["id"], again["id"]}
    (event,) = events("bundle.rebuild", object_id=again["id"])
    assert event.actor_email == editor.email
    assert event.details["rebuilt_from"] == filed["id"] and event.details["why"] == "legal hold"
    assert event.details["hold"]["reason"] == REASON
    assert events("bundle.rebuild", object_id=filed["id"]) == []


def test_a_hold_set_while_a_rebuild_waits_keeps_the_filed_build(alice, blob_root):
    case, items = text_case(alice, "Order record")
    filed = build(alice, case["id"])
    filed_pdf = download(alice, filed)
    retitled = alice.patch(f"/api/v1/evidence/{items[0]['id']}", json={"title": "Order record, corrected"})
    assert retitled.status_code == 200

    with worker_held_off(filed["id"]):
        queued = rebuild(alice, filed)
        assert queued["id"] == filed["id"] and queued["status"] == "queued"  # no hold yet: rebuilt in place
        assert hold(alice, case["id"]).status_code == 200
    kept = wait_done(alice, filed["id"])
    beside = wait_done(alice, next(i for i in listed(alice, case) if i != filed["id"]))

    assert kept["status"] == "done" and kept["sha256"] == filed["sha256"] and kept["volumes"] == filed["volumes"]
    assert download(alice, kept) == filed_pdf and blob(blob_root, filed["sha256"]).is_file()
    assert beside["status"] == "done" and beside["rebuilt_from"] == filed["id"]
    assert beside["sha256"] != filed["sha256"]  # the corrected title is in the new one
    assert (beside["bates_first"], beside["bates_last"]) == (filed["bates_first"], filed["bates_last"])
    (event,) = events("bundle.rebuild", object_id=beside["id"])
    assert event.details["rebuilt_from"] == filed["id"] and event.details["hold"]["reason"] == REASON


def test_a_bundle_serves_its_build_while_rebuilt_and_drops_the_superseded_volume(alice, blob_root):
    case, items = text_case(alice, "Listing snapshot")
    first = build(alice, case["id"])
    first_pdf = download(alice, first)
    assert alice.patch(f"/api/v1/evidence/{items[0]['id']}", json={"title": "Listing, 2021-03-04"}).status_code == 200

    with worker_held_off(first["id"]):
        queued = rebuild(alice, first)
        assert queued["status"] == "queued" and queued["sha256"] == first["sha256"]
        assert download(alice, queued) == first_pdf  # still the last good build until the new one is recorded
    again = wait_done(alice, first["id"])
    assert again["status"] == "done" and again["id"] == first["id"] and again["error"] is None
    assert again["sha256"] != first["sha256"] and again["bates_first"] == first["bates_first"]
    assert download(alice, again) != first_pdf
    # Nothing names the superseded volume any more: it is not left behind as an orphan.
    assert not blob(blob_root, first["sha256"]).exists()
    assert blob(blob_root, again["sha256"]).is_file()


def test_a_failed_rebuild_keeps_the_bundle_and_its_pdf(alice):
    case, items = text_case(alice, "Insert card", "E-mail")
    filed = build(alice, case["id"], title="Exhibits as filed")
    filed_pdf = download(alice, filed)
    # One exhibit leaves the case: the stored parameters can no longer be built.
    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{items[1]['exhibit']['id']}").status_code == 204

    rebuild(alice, filed)
    after = wait_done(alice, filed["id"])
    assert after["status"] == "done", after
    assert "rebuild failed" in after["error"] and "no longer in the case" in after["error"]
    assert (after["sha256"], after["volumes"], after["exhibits"]) == (
        filed["sha256"],
        filed["volumes"],
        filed["exhibits"],
    )
    assert download(alice, after) == filed_pdf
    assert f"bundles/{filed['id']}/volume-1.pdf" in exported_files(alice, case)
    (failed,) = events("bundle.failed", object_id=filed["id"])
    assert failed.details["kept_sha256"] == filed["sha256"] and "no longer in the case" in failed.details["error"]

    # A later bundle continues after the Bates numbers this one issued.
    later = build(alice, case["id"])
    assert later["bates_first"] == f"RB{int(filed['bates_last'].removeprefix('RB')) + 1:06d}"


def test_a_bundle_left_failed_by_an_earlier_failed_rebuild_gets_its_build_back(tmp_path):
    """Before this version a failed rebuild left the filed build on a `failed` row, no longer served: the
    migration puts such rows back to done, and leaves a bundle that never built failed."""
    url, drop = fresh_database(tmp_path)
    engine = make_engine(url)
    old = MetaData()  # the columns rows need at revision 0006
    now = datetime.now(UTC)
    users = sa.Table("users", old, *_columns("id", "email", "password_hash", "is_admin", "is_active", "created_at"))
    cases = sa.Table(
        "cases",
        old,
        *_columns("id", "title", "case_type", "exhibit_label_template", "timezone", "parties"),
        *_columns("next_exhibit_number", "created_by", "created_at", "updated_at"),
    )
    bundles = sa.Table(
        "bundles",
        old,
        *_columns("id", "case_id", "title", "params", "bates_prefix", "status", "error", "progress_done"),
        *_columns("progress_total", "sha256", "volumes", "validation", "created_by", "created_at"),
    )
    user, case = {"id": uuid.uuid4()}, {"id": uuid.uuid4()}
    bundle = {"case_id": case["id"], "title": "Exhibits", "params": {}, "bates_prefix": "RB", "status": "failed"}
    bundle |= {"progress_done": 0, "progress_total": 1, "volumes": [], "validation": {}}
    bundle |= {"created_by": user["id"], "created_at": now}
    filed = bundle | {"id": uuid.uuid4(), "sha256": "ab" * 32, "error": "ValueError: exhibits no longer in the case"}
    never = bundle | {"id": uuid.uuid4(), "sha256": None, "error": "the build was interrupted"}
    try:
        migrate.downgrade(url, "0006")
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    user
                    | {"email": "old@firm.example", "password_hash": "x", "is_admin": False, "is_active": True}
                    | {"created_at": now}
                )
            )
            conn.execute(
                cases.insert().values(
                    case
                    | {"title": "Old", "case_type": "other", "exhibit_label_template": "PX-{n:03d}", "timezone": "UTC"}
                    | {"parties": [], "next_exhibit_number": 1, "created_by": user["id"]}
                    | {"created_at": now, "updated_at": now}
                )
            )
            conn.execute(bundles.insert(), [filed, never])
        migrate.upgrade(url)
        with engine.connect() as conn:
            got = {row.id: (row.status, row.error) for row in conn.execute(sa.select(bundles))}
    finally:
        engine.dispose()
        drop()
    kept = "the rebuild failed, so the bundle keeps its previous build: " + filed["error"]
    assert got == {filed["id"]: ("done", kept), never["id"]: ("failed", never["error"])}


def _columns(*names: str) -> list[sa.Column]:
    types = {"id": sa.Uuid, "case_id": sa.Uuid, "created_by": sa.Uuid, "parties": sa.JSON, "params": sa.JSON}
    types |= {"volumes": sa.JSON, "validation": sa.JSON, "is_admin": sa.Boolean, "is_active": sa.Boolean}
    types |= {"next_exhibit_number": sa.Integer, "progress_done": sa.Integer, "progress_total": sa.Integer}
    types |= {"created_at": UTCDateTime, "updated_at": UTCDateTime}
    return [sa.Column(name, types.get(name, sa.Text)(), primary_key=name == "id") for name in names]
