"""How the text reader runs Tesseract: at the configured niceness and on one thread."""

import os
import stat

import pytest

from api.text.extract import TextLimits
from api.text.reader import Reader

pytestmark = pytest.mark.slow


def test_the_reader_runs_tesseract_at_its_niceness_once_and_on_one_thread(corpus, tmp_path, monkeypatch):
    """Through a `tesseract` earlier on the PATH that notes how it was started, then runs the real one."""
    log = tmp_path / "started.log"
    wrapper = tmp_path / "bin" / "tesseract"
    wrapper.parent.mkdir()
    real = "/usr/bin/tesseract"
    wrapper.write_text(f'#!/bin/sh\necho "$(nice) ${{OMP_THREAD_LIMIT:-unset}} $*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    review = next(f for f in corpus if f.kind == "review_screenshot")
    reader = Reader()
    try:
        found = reader.read(review.path, "image/png", "review.png", TextLimits(language="eng", nice=5), timeout=120)
    finally:
        reader.close()
    assert found.status == "done" and review.facts["reviewer_name"] in found.pages[0].text
    [ocr_run] = [line for line in log.read_text().splitlines() if "hocr" in line]
    niceness, threads, _ = ocr_run.split(" ", 2)
    assert int(niceness) == min(19, os.nice(0) + 5) and threads == "1"
