"""The job layer's contract: every kind of background job keeps the lifecycle and the status words it stores and
shows in the API, whatever it calls success."""

import pytest

from api.services import bundles, jobs, verify_runs
from api.services.timeline import import_jobs
from models.bundle import Bundle, BundleStatus
from models.import_job import ImportJob, ImportJobStatus
from models.job import JobStatus
from models.verify import VerifyRun, VerifyRunStatus

pytestmark = pytest.mark.once  # no database: run on one leg of `make test`

KINDS = [
    (bundles.QUEUE, Bundle, BundleStatus, ["queued", "running", "done", "failed"]),
    (verify_runs.QUEUE, VerifyRun, VerifyRunStatus, ["queued", "running", "done", "failed"]),
    (import_jobs.QUEUE, ImportJob, ImportJobStatus, ["queued", "running", "succeeded", "failed"]),
]


@pytest.mark.parametrize(("queue", "model", "status", "words"), KINDS, ids=lambda k: getattr(k, "__name__", None))
def test_each_kind_keeps_its_words_on_the_shared_lifecycle(queue: jobs.Queue, model, status, words):
    assert queue.model is model and queue.status is status
    assert issubclass(status, JobStatus)
    assert [member.value for member in status] == words
    assert status.success().value == words[2]
    assert [member.active for member in status] == [True, True, False, False]
    assert queue.interrupted and hasattr(model, queue.reason)
