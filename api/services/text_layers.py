"""What a bundle build takes from the evidence text: the OCR text layers of its exhibits' pages, written to files
for the build's converter process, and which exhibits' text is still to be read.

The layers are the ones stored when the text was read (models/text.py EvidenceTextPage.layer), never OCR run again
for a build: a rebuild lays the same bytes, so it comes out byte-identical."""

import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from models.job import QUEUED, RUNNING
from models.text import EvidenceText, EvidenceTextPage

# Items whose layers are asked for in one query: few enough for any database's limit on bound parameters.
BATCH = 500
ROWS_HELD = 20  # layer rows held in memory at once while they are written out (a layer is a few KB)


def write_files(session: Session, evidence_ids: Iterable[uuid.UUID], directory: Path) -> int:
    """Write the items' text layers as `<directory>/<evidence id>/<0-based page>.pdf` (api/bundle/text_layer.py
    reads them), a few rows at a time: a case of 10,000 pictures never has its layers in memory at once. How many
    were written."""
    ids = sorted(set(evidence_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        query = (
            select(EvidenceTextPage.evidence_id, EvidenceTextPage.page, EvidenceTextPage.layer)
            .where(
                col(EvidenceTextPage.evidence_id).in_(ids[start : start + BATCH]),
                col(EvidenceTextPage.layer).is_not(None),
            )
            .execution_options(yield_per=ROWS_HELD)
        )
        for evidence_id, page, layer in session.exec(query):
            if not layer:
                continue
            folder = directory / str(evidence_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{page - 1}.pdf").write_bytes(layer)
            written += 1
    return written


def pending(session: Session, evidence_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The items whose text is queued or being read: their pictures get a text layer in a build after that."""
    ids = sorted(set(evidence_ids))
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), BATCH):
        found.update(
            session.exec(
                select(EvidenceText.id).where(
                    col(EvidenceText.id).in_(ids[start : start + BATCH]),
                    col(EvidenceText.status).in_((QUEUED, RUNNING)),
                )
            ).all()
        )
    return found
