"""Shared by the tests of evidence text and search: OCR switched on, and waiting for an item's text to be read."""

import time

import pytest

from api.config import get_settings

SETTLED = {"done", "failed", "skipped"}


@pytest.fixture
def ocr_on(monkeypatch, workers_with):
    """OCR on for this test (the suite runs with CASEBINDER_TEXT_OCR=false, tests/conftest.py), for the queue's
    workers too in production mode (tests/production.py)."""
    monkeypatch.setattr(get_settings(), "text_ocr", True)
    workers_with(CASEBINDER_TEXT_OCR="true")


def wait_text(actor, evidence_id: str, *, limit: float = 180) -> dict:
    """The item once its text has been read (or failed, or skipped). The limit only keeps a broken runner from
    hanging the suite: it is not a measure of speed."""
    deadline = time.monotonic() + limit
    while True:
        item = actor.get(f"/api/v1/evidence/{evidence_id}").json()
        if item.get("text_status") in SETTLED:
            return item
        assert time.monotonic() < deadline, f"text of {evidence_id} still {item.get('text_status')} after {limit} s"
        time.sleep(0.2)
