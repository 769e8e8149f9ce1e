"""Long request bodies (uploads, imports): how they are received, whatever they carry.

A body can take minutes to arrive, so nothing scarce is held while it does: the route's access check gives its
database connection back before the first byte is read (`receiving_body`, which `api.deps.case_for_upload` and the
web app's uploader hold), a body that stops
arriving is dropped after `upload_stall_timeout_seconds` (408), and each user has at most
`max_concurrent_uploads_per_user` bodies in flight in this server process (429).
"""

import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio
from sqlmodel import Session
from starlette.requests import Request

from api.config import get_settings
from api.db import release_connection
from api.errors import RequestTimeout, TooManyRequests

# What a client over the cap is told to wait before trying again: long enough for a small upload to finish.
RETRY_AFTER_SECONDS = 10


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The body as it arrives; 408 once nothing has arrived for the stall timeout."""
    stall = get_settings().upload_stall_timeout_seconds
    chunks = request.stream()
    while True:
        try:
            with anyio.fail_after(stall):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout(
                f"the upload stopped arriving: nothing was received for {stall:g} seconds, so it was dropped and "
                "nothing was stored. Check the connection and send the file again."
            ) from None
        if chunk:
            yield chunk


class UploadSlots:
    """How many bodies each user is sending right now, in this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: Counter[uuid.UUID] = Counter()

    @contextmanager
    def hold(self, user_id: uuid.UUID) -> Iterator[None]:
        """One of the user's slots for the life of the block; 429 when they are all taken."""
        cap = get_settings().max_concurrent_uploads_per_user
        with self._lock:
            if self._held[user_id] >= cap:
                raise TooManyRequests(
                    f"you already have {cap} uploads in progress, the most one account may send at once: "
                    "wait for one of them to finish, then send this one again",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._held[user_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[user_id] -= 1
                if self._held[user_id] <= 0:
                    del self._held[user_id]


upload_slots = UploadSlots()


@contextmanager
def receiving_body(session: Session, user_id: uuid.UUID) -> Iterator[None]:
    """For the life of the block, while a long body arrives: the session's connection is back in the pool (it is
    checked out again when the session next queries, to record what arrived) and one of the user's upload slots
    is held (429 when none is free)."""
    release_connection(session)
    with upload_slots.hold(user_id):
        yield
