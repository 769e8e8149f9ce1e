"""The sample record sets (api/records/sample.py): the same seed writes the same bytes; rows are physical lines where
records start; the manifest's findings and traps are what the finder's rules make of the files, checked here by a
small reference finder that reads the files as an import would (by the manifest's mappings)."""

import csv
import gzip
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.records.sample import (
    Manifest,
    SampleFile,
    read_manifest,
    write_case_dataset,
    write_leak_dump,
    write_scale_dataset,
)

pytestmark = pytest.mark.once  # no database: run on one leg of `make test`

SCALE = {"reviews": 6000, "payments": 5000, "messages": 3000, "accounts": 1500, "orders": 2000, "chains": 60}


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def _dig(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def _rows(directory: Path, file: SampleFile) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(row, the record as the file holds it, its canonical fields by the mapping), rows as physical lines."""
    path = directory / file.path
    if file.format == "csv":
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
        header = next(reader)
        start = reader.line_num + 1
        for cells in reader:
            raw = dict(zip(header, cells, strict=True))
            yield start, raw, {canonical: raw[column] for column, canonical in file.mapping.items()}
            start = reader.line_num + 1
        return
    for row, line in enumerate(path.read_bytes().split(b"\n")[:-1], 1):
        record = json.loads(line)
        yield row, record, {canonical: _dig(record, source) for source, canonical in file.mapping.items()}


def _table(directory: Path, manifest: Manifest, role: str) -> dict[int, dict[str, Any]]:
    return {row: fields for row, _, fields in _rows(directory, manifest.file(role))}


def _key(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    return text.lower() if "@" in text else text


class _Identities:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def link(self, *values: Any) -> None:
        keys = [k for k in map(_key, values) if k]
        for key in keys:
            self.find(key)
        for other in keys[1:]:
            self.parent[self.find(other)] = self.find(keys[0])

    def members(self, key: str) -> set[str]:
        root = self.find(key)
        return {k for k in self.parent if self.find(k) == root}


def _instant(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _reference(directory: Path, manifest: Manifest, min_rating: int) -> tuple[set[tuple[int, int]], _Identities]:
    """The finder's rules as the brief states them: (review row, payment row) of every finding."""
    ids = _Identities()
    tables = {f.role: _table(directory, manifest, f.role) for f in manifest.files}
    for account in tables["accounts"].values():
        ids.link(*(account[f] for f in ("account_id", "email", "paypal_email", "phone", "profile_url")))
    for review in tables["reviews"].values():
        ids.link(review["reviewer_id"])
    for message in tables["messages"].values():
        ids.link(message["reviewer_id"], message["contact_email"])
    for payment in tables["payments"].values():
        ids.link(payment["payee_email"])
    for order in tables.get("orders", {}).values():
        ids.link(order["buyer_id"])
    zone = ZoneInfo(manifest.timezone)
    paid_to: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for row, payment in tables["payments"].items():
        paid_to[ids.find(_key(payment["payee_email"]) or "")].append((row, payment))
    explained = {
        (ids.find(order["buyer_id"]), order["product_id"])
        for order in tables.get("orders", {}).values()
        if order["status"].lower() in ("returned", "cancelled")
    }
    before = timedelta(days=manifest.window_days_before)
    after = timedelta(days=manifest.window_days_after)
    found = set()
    for row, review in tables["reviews"].items():
        if int(review["rating"]) < min_rating:
            continue
        reviewer = ids.find(review["reviewer_id"])
        seller = ids.find(review["seller"])
        reviewed = _instant(review["reviewed_at"], zone)
        for payment_row, payment in paid_to.get(reviewer, []):
            if payment["type"].strip().lower() not in ("payment", "refund"):
                continue
            sellers_side = ids.find(_key(payment["payer"]) or "") == seller or review["product_id"] in payment["memo"]
            if not sellers_side or (reviewer, review["product_id"]) in explained:
                continue
            if -before <= _instant(payment["paid_at"], zone) - reviewed <= after:
                found.add((row, payment_row))
    return found, ids


def _listed(findings: list) -> set[tuple[int, int]]:
    return {(f.review_row, row) for f in findings for row in f.payment_rows}


# --- Determinism -------------------------------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    first = write_case_dataset(tmp_path / "a")
    write_case_dataset(tmp_path / "b")
    write_case_dataset(tmp_path / "c", seed=15)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert set(_digests(tmp_path / "a").values()).isdisjoint(_digests(tmp_path / "c").values())
    assert read_manifest(tmp_path / "a") == first

    write_scale_dataset(tmp_path / "s1", **SCALE)
    write_scale_dataset(tmp_path / "s2", **SCALE)
    assert _digests(tmp_path / "s1") == _digests(tmp_path / "s2")

    for name in ("one", "two"):
        write_leak_dump(tmp_path / "leak" / f"{name}.ndjson.gz", 3000, seed=3, compress=True)
    digests = _digests(tmp_path / "leak")
    assert digests["one.ndjson.gz"] == digests["two.ndjson.gz"]


# --- The case dataset --------------------------------------------------------------------------------------------


def test_case_files_roles_formats_and_row_counts(tmp_path):
    manifest = write_case_dataset(tmp_path)
    assert {f.role: f.format for f in manifest.files} == {
        "accounts": "es",
        "reviews": "csv",
        "payments": "csv",
        "messages": "es",
        "orders": "jsonl",
    }
    assert manifest.timezone == "America/New_York"
    assert 2000 < sum(f.rows for f in manifest.files) < 5000
    assert manifest.facts is not None
    for file in manifest.files:
        assert len(list(_rows(tmp_path, file))) == file.rows == manifest.facts.accepted_rows[file.role]
        data = (tmp_path / file.path).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (file.encoding == "utf-8-sig")
        if file.format != "csv":
            for line in data.split(b"\n")[:-1]:
                record = json.loads(line)
                assert isinstance(record, dict)
                if file.format == "es":
                    assert {"_index", "_id", "_source"} <= record.keys()


def test_csv_rows_are_the_physical_lines_where_records_start(tmp_path):
    manifest = write_case_dataset(tmp_path)
    facts = manifest.facts
    assert facts is not None
    reviews = manifest.file("reviews")
    text = (tmp_path / reviews.path).read_bytes().decode("utf-8-sig")
    physical = text.split("\n")
    assert physical[0].startswith("marketplace,review_id,customer_id")
    rows = [row for row, _, _ in _rows(tmp_path, reviews)]
    assert rows[0] == 2 and rows == sorted(rows)
    by_row = {row: (raw, fields) for row, raw, fields in _rows(tmp_path, reviews)}
    for row, (raw, _) in by_row.items():  # every record starts at its row's physical line
        assert physical[row - 1].startswith(f"{raw['marketplace']},{raw['review_id']},")

    raw, fields = by_row[facts.multiline_review_row]
    assert raw["review_id"] == facts.multiline_review_id and "\n" in fields["text"] and "," in fields["text"]
    assert facts.multiline_review_lines == fields["text"].count("\n") + 1 == 2
    assert facts.row_after_multiline == facts.multiline_review_row + 2 and facts.row_after_multiline in by_row
    assert facts.multiline_review_row + 1 not in by_row
    lines = physical[facts.multiline_review_row - 1 : facts.row_after_multiline - 1]
    assert "\n".join(lines).removesuffix("\r") == facts.multiline_review_source

    assert physical[facts.review_row - 1].removesuffix("\r") == facts.review_source_line
    assert by_row[facts.review_row][0]["review_id"] == facts.review_id
    assert by_row[facts.injection_review_row][1]["title"] == facts.injection_title == '=HYPERLINK("http://x","y")'

    texts = " ".join(fields["text"] for _, fields in by_row.values())
    for letter in ("质", "ة", "ש", "ा", "ี", "요", "é"):  # CJK, Arabic, Hebrew, Devanagari, Thai, Korean, Latin
        assert letter in texts
    lengths = sorted(len(fields["text"].encode()) for _, fields in by_row.values())
    assert lengths[0] <= 2 and lengths[-1] > 2000


def test_payments_csv_amounts_types_and_times(tmp_path):
    manifest = write_case_dataset(tmp_path)
    payments = manifest.file("payments")
    zone = ZoneInfo(manifest.timezone)
    raw_rows = {row: raw for row, raw, _ in _rows(tmp_path, payments)}
    assert {raw["Type"] for raw in raw_rows.values()} >= {"Payment", "REFUND", "reversal"}
    assert any("," in raw["Gross"] for raw in raw_rows.values())  # "1,250.00"
    naive = set(payments.naive_time_rows)
    assert 0 < len(naive) < len(raw_rows)
    for row, raw in raw_rows.items():
        moment = datetime.fromisoformat(raw["Date"])
        assert (moment.tzinfo is None) == (row in naive) == (raw["Time Zone"] == "")
        Decimal(raw["Gross"].replace(",", ""))  # exact decimals
    for finding in manifest.findings:
        (row,) = finding.payment_rows
        raw = raw_rows[row]
        assert Decimal(raw["Gross"].replace(",", "")) == Decimal(finding.amount)
        assert (raw["Currency"], raw["Transaction ID"]) == (finding.currency, finding.txn_ids[0])
        assert raw["Type"].lower() in ("payment", "refund")
        paid = _instant(raw["Date"], zone)
        assert paid == datetime.fromisoformat(finding.paid_at)
        assert (paid - datetime.fromisoformat(finding.reviewed_at)).total_seconds() == finding.seconds
    # The window's edges, both inside: 60 days after (with an offset) and 3 days before (a local time).
    edges = {f.days: f for f in manifest.findings if f.days in (60.0, -3.0)}
    assert edges.keys() == {60.0, -3.0}
    assert edges[-3.0].payment_rows[0] in naive and edges[60.0].payment_rows[0] not in naive
    assert any(f.amount == "1250.00" for f in manifest.findings)


def test_every_finding_is_a_five_star_review_paid_from_the_sellers_side(tmp_path):
    manifest = write_case_dataset(tmp_path)
    reviews = _table(tmp_path, manifest, "reviews")
    payments = _table(tmp_path, manifest, "payments")
    messages = _table(tmp_path, manifest, "messages")
    assert 25 <= len(manifest.findings) <= 35
    assert {f.payee_link for f in manifest.findings} == {"accounts", "message", "accounts+message"}
    assert {f.payer_link for f in manifest.findings} == {"paypal", "memo"}
    for finding in manifest.findings:
        review = reviews[finding.review_row]
        assert review["rating"] == "5" and review["review_id"] == finding.review_id
        assert (review["reviewer_id"], review["seller"], review["product_id"]) == (
            finding.reviewer_id,
            finding.seller,
            finding.product_id,
        )
        assert payments[finding.payment_rows[0]]["payee_email"].strip().lower() in finding.reviewer_keys
        assert finding.message_rows and set(finding.message_rows) <= set(finding.thread_message_rows)
        for row in finding.message_rows:
            assert messages[row]["reviewer_id"] == finding.reviewer_id
            assert messages[row]["product_id"] == finding.product_id


def test_the_manifest_is_what_the_rules_find(tmp_path):
    manifest = write_case_dataset(tmp_path)
    found, ids = _reference(tmp_path, manifest, 5)
    assert found == _listed(manifest.findings)
    for finding in manifest.findings:
        assert ids.members(finding.reviewer_id) == set(finding.reviewer_keys)
    for trap in manifest.traps:
        assert ids.members(trap.reviewer_id) == set(trap.reviewer_keys)
    found_at_4, _ = _reference(tmp_path, manifest, 4)
    assert found_at_4 == _listed(manifest.findings_min_rating_4)
    assert len(manifest.findings_min_rating_4) == len(manifest.findings) + 1


def test_traps_are_consistent(tmp_path):
    manifest = write_case_dataset(tmp_path)
    tables = {f.role: _table(tmp_path, manifest, f.role) for f in manifest.files}
    accounts = {fields["account_id"]: fields for fields in tables["accounts"].values()}
    kinds = [trap.kind for trap in manifest.traps]
    assert sorted(set(kinds)) == sorted(
        [
            "name_collision",
            "returned_order",
            "cancelled_order",
            "reversal",
            "outside_window",
            "below_min_rating",
            "unrelated_payer",
        ]
    )
    finding_rows = {f.review_row for f in manifest.findings}
    for trap in manifest.traps:
        review = tables["reviews"][trap.review_row]
        assert trap.review_row not in finding_rows and review["review_id"] == trap.review_id
        assert trap.review_row in trap.rows["reviews"]
        payments = [tables["payments"][row] for row in trap.rows.get("payments", [])]
        if trap.kind == "name_collision":
            other_row = next(row for row in trap.rows["reviews"] if row != trap.review_row)
            other = tables["reviews"][other_row]
            assert other_row in finding_rows and review["reviewer_name"] == other["reviewer_name"]
            assert review["reviewer_id"] != other["reviewer_id"] and review["product_id"] == other["product_id"]
            assert trap.other_reviewer_keys and not set(trap.reviewer_keys) & set(trap.other_reviewer_keys)
            assert payments[0]["payee"] == review["reviewer_name"]  # the payment names the shared name
        elif trap.kind in ("returned_order", "cancelled_order"):
            (order,) = (tables["orders"][row] for row in trap.rows["orders"])
            assert order["status"] == trap.kind.split("_")[0]
            assert order["buyer_id"] in trap.reviewer_keys and order["product_id"] == review["product_id"]
        elif trap.kind == "reversal":
            assert payments[0]["type"].lower() == "reversal"
        elif trap.kind == "outside_window":
            paid = _instant(payments[0]["paid_at"], ZoneInfo(manifest.timezone))
            days = (paid - _instant(review["reviewed_at"], ZoneInfo(manifest.timezone))) / timedelta(days=1)
            assert days > 60 or days < -3
        elif trap.kind == "below_min_rating":
            assert review["rating"] == "4" and trap.finding_at_min_rating_4
            assert trap.review_row in {f.review_row for f in manifest.findings_min_rating_4}
        elif trap.kind == "unrelated_payer":
            seller = accounts[trap.seller]
            assert payments[0]["payer"].lower() not in {seller["email"], seller["paypal_email"]}
            assert trap.product_id not in payments[0]["memo"]
        if trap.kind != "name_collision" and trap.kind != "unrelated_payer":
            assert payments[0]["payer"] == accounts[trap.seller]["paypal_email"]


# --- The leak dump and the scale dataset -------------------------------------------------------------------------


def test_leak_dump_is_about_500_bytes_a_record_of_es_hits(tmp_path):
    dump = write_leak_dump(tmp_path / "leak.ndjson", 4000, seed=1)
    data = (tmp_path / "leak.ndjson").read_bytes()
    assert dump.records == 4000 and dump.bytes == dump.uncompressed_bytes == len(data)
    assert 450 <= dump.bytes / dump.records <= 600
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 4001
    lengths = []
    other_scripts = 0
    for line in lines[:-1]:
        hit = json.loads(line)
        assert isinstance(hit, dict) and hit["_id"] and isinstance(hit["_source"], dict)
        source = hit["_source"]
        assert {"seller", "reviewer", "product", "message"} <= source.keys()
        assert {"profile_id", "name", "email", "paypal"} == source["reviewer"].keys()
        assert {"asin", "title", "url"} == source["product"].keys()
        assert _dig(hit, "_source.message.sent_at") and _dig(hit, "_source.reviewer.profile_id")
        text = source["message"]["text"]
        lengths.append(len(line))
        other_scripts += any("\u0590" <= c <= "\u0e7f" or "\u3040" <= c <= "\ud7af" for c in text)
    assert min(lengths) < 450 and max(lengths) > 1500
    assert 0.1 < other_scripts / len(lengths) < 0.4
    assert dump.role == "messages" and dump.mapping["_source.reviewer.email"] == "contact_email"

    packed = write_leak_dump(tmp_path / "leak.ndjson.gz", 4000, seed=1, compress=True)
    assert packed.compressed and packed.bytes < packed.uncompressed_bytes == dump.bytes
    assert gzip.decompress((tmp_path / "leak.ndjson.gz").read_bytes()) == data


def test_scale_dataset_rows_findings_and_traps(tmp_path):
    manifest = write_scale_dataset(tmp_path, **SCALE)
    counts = {f.role: f.rows for f in manifest.files}
    assert counts == {role: SCALE[role] for role in ("reviews", "payments", "messages", "accounts", "orders")}
    for file in manifest.files:
        assert sum(1 for _ in _rows(tmp_path, file)) == file.rows
    assert len(manifest.findings) == SCALE["chains"]
    assert {t.kind for t in manifest.traps} == {
        "name_collision",
        "returned_order",
        "cancelled_order",
        "reversal",
        "outside_window",
        "below_min_rating",
        "unrelated_payer",
    }
    found, ids = _reference(tmp_path, manifest, 5)
    assert found == _listed(manifest.findings)
    for finding in manifest.findings:
        assert ids.members(finding.reviewer_id) == set(finding.reviewer_keys)
    for trap in manifest.traps:
        assert ids.members(trap.reviewer_id) == set(trap.reviewer_keys)
    found_at_4, _ = _reference(tmp_path, manifest, 4)
    assert found_at_4 == _listed(manifest.findings_min_rating_4)
    reviews = _table(tmp_path, manifest, "reviews")
    payments = _table(tmp_path, manifest, "payments")
    for finding in manifest.findings:
        assert reviews[finding.review_row]["review_id"] == finding.review_id
        assert payments[finding.payment_rows[0]]["txn_id"] == finding.txn_ids[0]
        assert payments[finding.payment_rows[0]]["amount"] == finding.amount
    naive = manifest.file("payments").naive_time_rows
    assert naive and all(datetime.fromisoformat(payments[row]["paid_at"]).tzinfo is None for row in naive)


def test_scale_dataset_without_orders(tmp_path):
    manifest = write_scale_dataset(tmp_path, reviews=800, payments=500, messages=300, accounts=300, chains=10)
    assert "orders" not in {f.role for f in manifest.files} and not (tmp_path / "orders.jsonl").exists()
    assert {t.kind for t in manifest.traps}.isdisjoint({"returned_order", "cancelled_order"})
    found, _ = _reference(tmp_path, manifest, 5)
    assert found == _listed(manifest.findings) and len(found) == 10
