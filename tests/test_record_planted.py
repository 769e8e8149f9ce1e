"""A generated case with planted review-for-refund chains and traps (api/records/sample.py), imported file by file
in every format through the API and analysed: the import shows the facts the generator wrote down, and the finder's
findings are set against the known answers, with precision and recall printed and required to be whole."""

from pathlib import Path

import pytest

from api.records import identity
from api.records.sample import Manifest, write_case_dataset
from tests.records_support import imported, records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, Manifest]:
    folder = tmp_path_factory.mktemp("planted")
    return folder, write_case_dataset(folder)


def _import_all(actor, case_id: str, folder: Path, manifest: Manifest) -> dict[str, dict]:
    out = {}
    for f in manifest.files:
        body = imported(
            actor, case_id, (folder / f.path).read_bytes(), role=f.role, mapping=f.mapping, name=f.name,
            filename=Path(f.path).name,
        )  # fmt: skip
        assert body["status"] == "done", body
        assert (body["rows_done"], body["rows_rejected"], body["format"]) == (f.rows, 0, f.format), (f.path, body)
        out[f.role] = body
    return out


def _analyse(actor, case_id: str, sets: dict[str, dict], **params) -> list[dict]:
    body = {"type": "review_for_refund"} | {
        f"{role[:-1]}_sets": [sets[role]["id"]] for role in ("reviews", "payments", "messages", "accounts", "orders")
    } | params  # fmt: skip
    r = actor.post(f"/api/v1/cases/{case_id}/analyses", json=body)
    assert r.status_code == 202, r.text
    while (state := actor.get(r.headers["location"]).json())["status"] not in ("done", "failed"):
        pass
    assert state["status"] == "done", state
    out, cursor = [], None
    while True:
        page = actor.get(
            f"/api/v1/analyses/{state['id']}/findings", params={"limit": 1000} | ({"cursor": cursor} if cursor else {})
        ).json()
        out += page["items"]
        if not (cursor := page["next_cursor"]):
            return out


def _key(value: str) -> str:
    """A key as the generator writes it (normalised, untyped), typed as the finder keeps it."""
    if "@" in value:
        return identity.email_key(value) or value
    if value.startswith(("http://", "https://")):
        return identity.url_key(value) or value
    if value.startswith("+"):
        return identity.phone_key(value) or value
    return identity.id_key(value) or value


def _score(found: list[dict], expected_rows: set[int], label: str) -> None:
    rows = [f["review"]["row"] for f in found]
    assert len(rows) == len(set(rows)), "one finding per review"
    hits = expected_rows & set(rows)
    precision = len(hits) / len(rows) if rows else 1.0
    recall = len(hits) / len(expected_rows) if expected_rows else 1.0
    print(f"review-for-refund [{label}]: {len(rows)} found, {len(expected_rows)} planted: "
          f"precision {precision:.3f}, recall {recall:.3f}")  # fmt: skip
    extra = [(f["review"], f["payments"], f["reasons"]) for f in found if f["review"]["row"] not in expected_rows]
    assert extra == [], "found, not planted"
    assert sorted(expected_rows - set(rows)) == [], "planted, not found"


def test_the_planted_case_imports_in_every_format_and_every_chain_is_found(alice, planted):
    folder, manifest = planted
    case = alice.make_case(timezone=manifest.timezone)
    sets = _import_all(alice, case["id"], folder, manifest)
    facts = manifest.facts
    assert facts is not None
    reviews = sets["reviews"]["id"]
    one = alice.get(f"/api/v1/record-sets/{reviews}/records/{facts.review_row}").json()
    assert one["source_line"] == facts.review_source_line and one["fields"]["review_id"] == facts.review_id
    multi = alice.get(f"/api/v1/record-sets/{reviews}/records/{facts.multiline_review_row}").json()
    assert multi["source_line"] == facts.multiline_review_source
    after = alice.get(f"/api/v1/record-sets/{reviews}/records/{facts.row_after_multiline}")
    assert after.status_code == 200
    skipped = facts.multiline_review_row + 1
    assert alice.get(f"/api/v1/record-sets/{reviews}/records/{skipped}").status_code == 404  # inside the record
    injected = alice.get(f"/api/v1/record-sets/{reviews}/records/{facts.injection_review_row}").json()
    assert injected["fields"]["title"] == facts.injection_title
    payments = sets["payments"]["id"]
    naive = manifest.file("payments").naive_time_rows
    assert naive, "the generator writes some payment times without an offset"
    for row in naive[:3]:  # read in the case's timezone, kept in UTC
        assert alice.get(f"/api/v1/record-sets/{payments}/records/{row}").json()["fields"]["paid_at"].endswith("Z")

    found = _analyse(alice, case["id"], sets)
    _score(found, {f.review_row for f in manifest.findings}, "planted case, defaults")
    by_row = {f["review"]["row"]: f for f in found}
    for planted_one in manifest.findings:
        got = by_row[planted_one.review_row]
        assert sorted(p["row"] for p in got["payments"]) == sorted(planted_one.payment_rows), planted_one
        assert (got["amount"], got["currency"]) == (planted_one.amount, planted_one.currency), planted_one
        assert got["days"] == pytest.approx(planted_one.days, abs=1e-3), planted_one
        assert {_key(k) for k in planted_one.reviewer_keys} == set(got["reviewer"]["keys"]), planted_one
        assert set(planted_one.message_rows) <= {m["row"] for m in got["messages"]}, planted_one
    for trap in manifest.traps:
        assert trap.review_row not in by_row, trap


def test_at_four_stars_the_paid_four_star_reviews_are_found_too(alice, planted):
    folder, manifest = planted
    case = alice.make_case(timezone=manifest.timezone)
    sets = _import_all(alice, case["id"], folder, manifest)
    found = _analyse(alice, case["id"], sets, min_rating=4)
    _score(found, {f.review_row for f in manifest.findings_min_rating_4}, "planted case, min_rating 4")


def test_an_extract_of_a_planted_sellers_payments_is_evidence(alice, planted):
    folder, manifest = planted
    case = alice.make_case(timezone=manifest.timezone)
    f = manifest.file("payments")
    body = imported(alice, case["id"], (folder / f.path).read_bytes(), role=f.role, mapping=f.mapping, name=f.name)
    first = manifest.findings[0]
    payer = records(alice, body["id"], txn_id=first.txn_ids[0])[0]["fields"]["payer"]
    wanted = records(alice, body["id"], payer=payer)
    made = alice.post(
        f"/api/v1/record-sets/{body['id']}/extracts", json={"filter": {"payer": payer}, "title": "Seller's payments"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["rows"] == len(wanted) >= 1
