"""Production time: the 500-exhibit case (about 1,300 pages) with a tenth of its pages redacted, produced with its
redacted copies, stamped, with text files, DAT and OPT, and every document read back for what was redacted; against
a bundle build of the same exhibits in the same run. Target: a production takes at most twice the bundle's time.

The redactions are boxes drawn on random pages (seeded) and applied before the runs (their own time is printed, not
part of the ratio). OCR is off for the server, as in the bundle benchmark: no text job competes with the runs.

Run alone: `python -m bench.production` (BENCH_BUNDLE_EXHIBITS, BENCH_REPEAT).
"""

import os
import random
import shutil
import time
import uuid
from pathlib import Path

import httpx
from sqlmodel import col, select

from api.db import session_scope
from bench.bundle import corpus, seed
from bench.common import median, server, spread, wait_healthy
from bench.setup import make_workspace
from models.evidence import EvidenceItem
from models.job import QUEUED, RUNNING
from models.text import EvidenceText

SHARE = 0.10  # of the exhibits' pages redacted


def _wait(http: httpx.Client, path: str, limit: float = 3600) -> dict:
    deadline = time.monotonic() + limit
    while True:
        body = http.get(path).json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"{path} still {body['status']}"
        time.sleep(0.1)


def _texts_settled() -> None:
    while True:
        with session_scope() as session:
            busy = session.exec(select(EvidenceText.id).where(col(EvidenceText.status).in_((QUEUED, RUNNING)))).first()
        if busy is None:
            return
        time.sleep(0.5)


def _redact(http: httpx.Client, items: list[EvidenceItem]) -> tuple[int, int, int, float]:
    """A tenth of the pages redacted, one page of each chosen item, and applied. Where the detectors find something
    on a page that no other item holds (an e-mail address, a phone number), its suggestions are accepted: the
    production then looks for them in every document. An address that recurs across items would have to be redacted
    in all of them (the production refuses otherwise), so those pages get a box drawn by hand instead.
    (pages, of all, suggestions accepted, seconds to apply)."""
    rng = random.Random(11)
    pages = {item.id: max(item.page_count or 1, 1) for item in items}
    total = sum(pages.values())
    wanted = min(round(total * SHARE), len(items))
    found = {item.id: http.post(f"/api/v1/evidence/{item.id}/redactions/suggest").json()["items"] for item in items}
    holders: dict[str, set] = {}
    for item_id, suggestions in found.items():
        for s in suggestions:
            holders.setdefault(s["found"] or s["text"], set()).add(item_id)
    order = rng.sample(items, len(items))
    started = time.perf_counter()
    sets, accepted, chosen = [], 0, 0
    for item in order:
        if chosen >= wanted:
            break
        own = [s for s in found[item.id] if holders[s["found"] or s["text"]] == {item.id}]
        page = own[0]["page"] if own else None
        if page is not None and all(holders[s["found"] or s["text"]] == {item.id}
                                    for s in found[item.id] if s["page"] == page):  # fmt: skip
            for suggestion in (s for s in found[item.id] if s["page"] == page):
                r = http.patch(f"/api/v1/evidence/{item.id}/redactions/{suggestion['id']}", json={"status": "accepted"})
                assert r.status_code == 200, r.text
                accepted += 1
        else:
            x, y = round(rng.uniform(0.1, 0.5), 3), round(rng.uniform(0.1, 0.6), 3)
            body = {"page": rng.randint(1, pages[item.id]), "box": [x, y, x + 0.3, y + 0.05], "reason": "PO"}
            r = http.post(f"/api/v1/evidence/{item.id}/redactions", json=body)
            assert r.status_code == 201, r.text
        r = http.post(f"/api/v1/evidence/{item.id}/redactions/apply")
        assert r.status_code == 202, r.text
        sets.append(r.json()["id"])
        chosen += 1
    for set_id in sets:
        done = _wait(http, f"/api/v1/redaction-sets/{set_id}")
        assert done["status"] == "done", done
    return chosen, total, accepted, time.perf_counter() - started


def run(exhibits: int = 500, repeat: int = 3) -> dict:
    files = corpus(exhibits)
    root = Path("var/bench") / f"production-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    seed(ws, files)
    env = ws.env | {"CASEBINDER_TEXT_OCR": "false"}
    bundles, productions, ratios = [], [], []
    try:
        with server("api.app:app", env) as (base, _pid):
            wait_healthy(base)
            _texts_settled()
            with session_scope() as session:
                items = list(session.exec(select(EvidenceItem).order_by(col(EvidenceItem.created_at))).all())
            headers = {"Authorization": f"Bearer {ws.token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                redacted, total, accepted, apply_s = _redact(http, items)
                print(
                    f"  {redacted} of {total} pages redacted ({redacted / total:.0%}; {accepted} detector suggestions "
                    f"accepted, the rest drawn), applied in {apply_s:.1f} s",
                    flush=True,
                )
                exhibit_ids = [e["id"] for e in _exhibits(http, ws.case_id, {str(i.id) for i in items})]
                for n in range(repeat):
                    t = time.perf_counter()
                    r = http.post(f"/api/v1/cases/{ws.case_id}/bundles", json={"exhibit_ids": exhibit_ids})
                    bundle = _wait(http, f"/api/v1/bundles/{r.json()['id']}")
                    bundles.append(time.perf_counter() - t)
                    assert bundle["status"] == "done", bundle
                    t = time.perf_counter()
                    body = {"name": f"Bench {n}", "prefix": "BENCH-P", "items": [str(i.id) for i in items]}
                    r = http.post(f"/api/v1/cases/{ws.case_id}/productions", json=body)
                    assert r.status_code == 202, r.text
                    produced = _wait(http, f"/api/v1/productions/{r.json()['id']}")
                    productions.append(time.perf_counter() - t)
                    assert produced["status"] == "done", produced["error"]
                    ratios.append(productions[-1] / bundles[-1])
                    pages = sum(d["pages"] for d in produced["documents"])
                    print(
                        f"  run {n + 1}/{repeat}: bundle {bundles[-1]:.1f} s ({bundle['page_count']} pages), "
                        f"production {productions[-1]:.1f} s ({pages} pages, {produced['zip_size'] / 1e6:.0f} MB, "
                        f"{produced['check']['documents_checked']} documents read back): ratio {ratios[-1]:.2f}",
                        flush=True,
                    )
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)
    result = {"bundle_s": median(bundles), "production_s": median(productions), "ratio": median(ratios)}
    print(
        f"production {exhibits} exhibits, {SHARE:.0%} of pages redacted: median {result['production_s']:.1f} s against "
        f"a bundle of the same exhibits {result['bundle_s']:.1f} s; ratio {result['ratio']:.2f} ({spread(ratios)}; "
        "target <= 2)",
        flush=True,
    )
    return result


def _exhibits(http: httpx.Client, case_id: str, originals: set[str]) -> list[dict]:
    """The case's exhibits of the original items (the redacted copies are exhibits too, and left out)."""
    out, cursor = [], None
    while True:
        params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = http.get(f"/api/v1/cases/{case_id}/exhibits", params=params).json()
        out += [e for e in page["items"] if e["evidence_id"] in originals]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


if __name__ == "__main__":
    run(exhibits=int(os.environ.get("BENCH_BUNDLE_EXHIBITS", 500)), repeat=int(os.environ.get("BENCH_REPEAT", 3)))
