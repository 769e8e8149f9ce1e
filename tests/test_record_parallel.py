"""A large JSON file read by several reader processes gives the very records, refusals and progress one reader
gives: the same file imported both ways and compared record by record."""

import json
import random

import pytest

from api.config import get_settings
from tests.records_support import imported, records

pytestmark = pytest.mark.slow

MAPPING = {
    "_id": "message_id",
    "_source.thread": "thread_id",
    "_source.sent": "sent_at",
    "_source.msg.text": "text",
    "_source.seller": "seller",
    "_source.reviewer.id": "reviewer_id",
    "_source.reviewer.email": "contact_email",
}
TEXTS = [
    "Full refund after your 5-star review", "五星好评返现", "ריבאונד מלא", "استرداد كامل", "पूरा पैसा वापस",
    "คืนเงินเต็มจำนวน", "별점 5점 환불", '=HYPERLINK("http://evil.example")', "<script>alert(1)</script>",
]  # fmt: skip


def _leak(count: int) -> tuple[bytes, dict[int, str]]:
    """About 9 MB of Elasticsearch hits (three reader blocks), with the bad lines a leak holds among them: not
    JSON, a NUL, a 3 MB line, Windows-1252 bytes, a blank line, a hit without its time; a BOM first and no line
    end last. Returns the file and what is wrong at each bad line."""
    rng = random.Random(5)
    lines: list[bytes] = []
    bad: dict[int, str] = {}
    for n in range(1, count + 1):
        source = {
            "thread": f"T{rng.randrange(2000)}",
            "sent": f"2021-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T0{rng.randrange(10)}:15:00"
            f"+0{rng.randrange(9)}:00",
            "msg": {"text": rng.choice(TEXTS) + " " + "x" * rng.randrange(200, 400)},
            "seller": f"S{rng.randrange(40)}",
            "reviewer": {"id": f"A{rng.randrange(5000)}", "email": f" Person{rng.randrange(5000)}@Mail.Example "},
        }
        lines.append(json.dumps({"_index": "leak", "_id": f"m{n}", "_source": source}, ensure_ascii=False).encode())
    for row, (line, why) in {
        7: (b"this is not json {", "not JSON"),
        6_000: (b'{"_id": "x", "_source": {"msg": {"text": "nul \\u0000"}}}', "NUL"),
        9_500: (json.dumps({"_id": "big", "_source": {"msg": {"text": "y" * 3_000_000}}}).encode(), "bytes long"),
        12_000: (b"", None),
        15_000: (json.dumps({"_id": "late", "_source": {"seller": "S1"}}).encode(), "sent_at"),
    }.items():
        lines[row - 1] = line
        if why:
            bad[row] = why
    lines[13_000] = '{"_id": "cp", "_source": {"sent": 1614852000000, "msg": {"text": "Zoë"}}}'.encode("cp1252")
    return b"\xef\xbb\xbf" + b"\n".join(lines), bad


def _import(alice, monkeypatch, workers_with, case_id: str, content: bytes, *, parallel: bool) -> dict:
    least = 0 if parallel else 10**12
    monkeypatch.setattr(get_settings(), "records_max_line_bytes", 4096)
    monkeypatch.setattr(get_settings(), "records_parallel_min_bytes", least)
    monkeypatch.setattr(get_settings(), "records_import_processes", 2)
    workers_with(
        CASEBINDER_RECORDS_MAX_LINE_BYTES="4096",
        CASEBINDER_RECORDS_PARALLEL_MIN_BYTES=str(least),
        CASEBINDER_RECORDS_IMPORT_PROCESSES="2",
    )
    return imported(alice, case_id, content, role="messages", mapping=MAPPING, filename="leak.json")


def test_reader_processes_store_what_one_reader_stores(alice, monkeypatch, workers_with):
    case = alice.make_case(timezone="America/New_York")
    content, bad = _leak(18_000)
    alone = _import(alice, monkeypatch, workers_with, case["id"], content, parallel=False)
    side_by_side = _import(alice, monkeypatch, workers_with, case["id"], content, parallel=True)
    for body in (alone, side_by_side):
        assert body["status"] == "done", body
        assert body["rows_done"] == 18_000 - 1 - len(bad) and body["rows_rejected"] == len(bad)
        assert [e["line"] for e in body["errors"]] == sorted(bad)
        for error, why in zip(body["errors"], [bad[row] for row in sorted(bad)], strict=True):
            assert why in error["message"], error
        assert body["rows_total"] == body["rows_done"] + body["rows_rejected"]
    assert side_by_side["errors"] == alone["errors"]

    def stored(body: dict) -> list[tuple]:
        return [
            (r["row"], r["fields"], r["source_line"], r["decoded_as"]) for r in records(alice, body["id"], limit=500)
        ]

    one, other = stored(alone), stored(side_by_side)
    assert one == other and len(one) == alone["rows_done"]
    first = one[0]
    assert first[0] == 1 and not first[2].startswith("\ufeff")  # the BOM is not part of the first line
    cp = next(r for r in one if r[0] == 13_001)
    assert cp[1]["text"] == "Zoë" and cp[3] == "windows-1252"
    last = one[-1]
    assert last[0] == 18_000 and last[1]["message_id"] == "m18000"  # the last line, without a line end
    # Lookups use the set's own indexes, whichever way it was read.
    by_thread = records(alice, side_by_side["id"], thread_id="T7")
    assert by_thread and {r["fields"]["thread_id"] for r in by_thread} == {"T7"}
    assert records(alice, side_by_side["id"], contact_email="PERSON7@mail.example") == records(
        alice, alone["id"], contact_email="person7@MAIL.example"
    )


def test_too_many_refused_lines_stop_the_readers_and_keep_nothing(alice, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "records_max_rejected", 50)
    workers_with(CASEBINDER_RECORDS_MAX_REJECTED="50")
    case = alice.make_case()
    content, _ = _leak(18_000)
    lines = content.split(b"\n")
    for row in range(10_000, 18_000, 100):  # 80 bad lines, all in the later blocks
        lines[row - 1] = b"[1, 2, 3]"
    body = _import(alice, monkeypatch, workers_with, case["id"], b"\n".join(lines), parallel=True)
    assert body["status"] == "failed", body
    assert "more than 50 lines were refused" in body["message"]
    assert body["rows_done"] == 0 and records(alice, body["id"]) == []
