"""Custody report PDF: one item with many recorded accesses, the report built and rendered in this process.

Figures for each event count: building the report (the database side) and rendering the PDF, wall and CPU
time, as medians of repeated runs with their spread (CPU time is the steadier figure on a shared machine), the
page count and the process's peak RSS. The renderer, not the database, is the cost: the event table takes
WeasyPrint 0.1-0.2 s of CPU per page.
"""

import io
import resource
import shutil
import time
import uuid
from pathlib import Path

import pikepdf

from api.db import session_scope
from api.deps import get_blob_store
from api.services import audit
from api.services import evidence as evidence_service
from api.services.custody import pdf as custody_pdf
from api.services.custody import report as custody
from bench.common import median, spread
from bench.setup import make_workspace
from models.case import Case
from models.evidence import EvidenceItem, EvidenceKind
from models.user import User


def _seed(case_id: str) -> tuple:
    """An uploaded item (its id and its uploader's)."""
    source = Path("var/bench/custody-receipt.txt")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"Refund receipt, order 113-4471\n" * 200)
    with session_scope() as session:
        case = session.get(Case, uuid.UUID(case_id))
        user = session.get(User, case.created_by)
        meta = evidence_service.EvidenceMeta(kind=EvidenceKind.refund_record, title="Refund receipt, order 113-4471")
        item, _, _ = evidence_service.ingest_file(
            session, get_blob_store(), case=case, actor=user, path=source, meta=meta
        )
        return item.id, user.id


def _add_views(ids: tuple, count: int) -> None:
    """Views of the item from one address, as a busy item's trail has them."""
    token = audit.ORIGIN.set(audit.Origin(ip="203.0.113.7", user_agent="Mozilla/5.0 (bench)"))
    try:
        for start in range(0, count, 500):
            with session_scope() as session:
                item, user = session.get(EvidenceItem, ids[0]), session.get(User, ids[1])
                for _ in range(min(500, count - start)):
                    evidence_service.record_access(session, "evidence.view", item, user)
    finally:
        audit.ORIGIN.reset(token)


def _once(ids: tuple) -> tuple[float, float, float, bytes]:
    with session_scope() as session:
        item, user = session.get(EvidenceItem, ids[0]), session.get(User, ids[1])
        started = time.perf_counter()
        report = custody.build(session, get_blob_store(), item, user, max_events=custody.MAX_PDF_EVENTS)
        built = time.perf_counter()
        cpu = time.process_time()
        pdf = custody_pdf.render_pdf(report)
    return built - started, time.perf_counter() - built, time.process_time() - cpu, pdf


def run(counts=(20, 300, 1000), repeat: int = 3) -> None:
    root = Path("var/bench/custody")
    shutil.rmtree(root, ignore_errors=True)
    workspace = make_workspace(root)
    try:
        ids, seeded = _seed(workspace.case_id), 2  # the upload and the exhibit link
        for count in counts:
            _add_views(ids, count - seeded)
            seeded = count
            runs = [_once(ids) for _ in range(repeat)]
            with pikepdf.open(io.BytesIO(runs[-1][3])) as pdf:
                pages = len(pdf.pages)
            build, wall, cpu = ([r[i] for r in runs] for i in range(3))
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"custody PDF, {count:5,} events, {pages:3} pages: build {median(build) * 1000:.0f} ms; "
                f"render {median(wall):.2f} s wall ({spread(wall)}), {median(cpu):.2f} s CPU ({spread(cpu)}); "
                f"peak RSS so far {rss:.0f} MB",
                flush=True,
            )
    finally:
        workspace.drop()
