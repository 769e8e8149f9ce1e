"""The lifecycle every background job shares (bundle builds, verify runs, event imports, and any later kind).

A job is queued, then claimed by one runner (running), then ends: in `failed`, or in its kind's own word for a job
that did its work. Each kind keeps an enum of its own, because the enum is its name in the API (BundleStatus,
VerifyRunStatus, ImportJobStatus) and the word for success differs (done, succeeded); the stored strings are the
same for every kind, and so is the base the enums share.
"""

from enum import StrEnum
from typing import Self

QUEUED = "queued"
RUNNING = "running"
FAILED = "failed"
ACTIVE = (QUEUED, RUNNING)  # not ended yet: a job in either can still be failed or cancelled


class JobStatus(StrEnum):
    """The base of each kind's status enum (members: queued, running, failed and the one success)."""

    @property
    def active(self) -> bool:
        return self.value in ACTIVE

    @classmethod
    def success(cls) -> Self:
        """The member a job of this kind ends in when it did its work."""
        [member] = [m for m in cls if m.value not in (QUEUED, RUNNING, FAILED)]
        return member
