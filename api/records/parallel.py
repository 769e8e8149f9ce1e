"""A large JSON Lines or Elasticsearch file read into records by several processes at once.

One process reads the file (inflating it if it is a gzip) and cuts it into blocks of whole lines
(`reading.line_blocks`); reader processes each take a block, parse and convert its lines and write its records in a
transaction of their own, and say what came of it. Threads would not do: parsing is Python's work, and a writer
thread beside it only takes turns with it for the interpreter lock, so reading and writing ran one after the other.
On PostgreSQL the readers' COPYs run side by side; on SQLite, which writes one transaction at a time, they take
turns writing (a lock of their own, not SQLite's busy wait, which sleeps) while the others parse.

The outcomes come back in any order and are handed on in the file's order, so refused lines are listed by line.
"""

import multiprocessing
import queue
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from api import lifelines
from api.collecting import fewer_collections
from api.records import load, reading
from api.records.fields import Converter, Mapping
from models.record_set import RecordFormat, RecordRole

WAIT_SECONDS = 1.0  # between looks at whether a reader died while the outcomes are awaited
GIVEN_EACH = 2  # blocks given to a reader and not yet done: one it reads, one waiting for it


@dataclass(frozen=True)
class Spec:
    """What every reader needs to read the blocks of one record set's file."""

    record_set_id: uuid.UUID
    database_url: str
    mapping: dict[str, str]
    role: RecordRole
    fmt: RecordFormat
    timezone: str
    date_order: str | None
    phone_region: str
    max_line_bytes: int
    errors_kept: int


@dataclass
class Outcome:
    """What became of a block: its records stored, its lines refused (the first `errors_kept` with their reasons),
    or the reader's failure."""

    seq: int
    done: int = 0
    refused: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None


class ReaderFailed(RuntimeError):
    """A reader process failed (its database refused a write, say) or died: the import fails with this."""


def read_block(
    block: reading.Block, spec: Spec, converter: Converter, make: load.RowMaker
) -> tuple[list[tuple], int, list[dict[str, Any]]]:
    """A block's rows to write, its refused lines' count, and the first of them with their reasons."""
    refused = 0
    errors: list[dict[str, Any]] = []

    def refuse(line: int, problem: str) -> None:
        nonlocal refused
        refused += 1
        if len(errors) < spec.errors_kept:
            errors.append({"line": line, "message": problem[:500]})

    records = reading.json_records(
        (block.data,), spec.fmt, max_line_bytes=spec.max_line_bytes, first_row=block.first_row,
        at_start=block.at_start,
    )  # fmt: skip
    rows = list(load.made_rows(records, converter, make, refuse))
    return rows, refused, errors


def _serve(spec: Spec, inbox: Any, outbox: Any, turn: Any) -> None:
    """A reader process: blocks from `inbox` until None, each written in a transaction of its own (holding `turn`
    while it writes, on SQLite), an Outcome of each to `outbox`."""
    lifelines.die_with_parent("records-reader")
    from api.db import make_engine  # the settings are this process's own: read once it runs

    seq = 0
    try:
        engine = make_engine(spec.database_url)
        converter = Converter(
            Mapping.of(spec.mapping, spec.role, spec.fmt),
            timezone=spec.timezone,
            phone_region=spec.phone_region,
            date_order=spec.date_order,
        )
        make = load.RowMaker(spec.record_set_id, engine.dialect.name, spec.role)
        # A block's lines make tens of thousands of dicts that live until it is written: collected at the default
        # pace, they took a tenth of a reader's time.
        with engine.connect() as connection, load.unhurried(connection), fewer_collections():
            while (item := inbox.get()) is not None:
                seq, block = item
                rows, refused, errors = read_block(block, spec, converter, make)
                if rows:
                    with turn if turn is not None else nullcontext():
                        with connection.begin():
                            load.insert(connection, rows)
                outbox.put(Outcome(seq, len(rows), refused, errors))
        engine.dispose()
    except BaseException as exc:  # noqa: BLE001 - said to the reading process, which fails the import with it
        outbox.put(Outcome(seq, failure=f"{type(exc).__name__}: {str(exc)[:500]}"))


class Readers:
    """The reader processes of one import: `give` them the file's blocks, then `drain` what is left; both yield
    the outcomes in the file's order. Used as a context manager: on the way out, the readers end (and are killed if
    the import failed, so that none writes after it)."""

    def __init__(self, spec: Spec, processes: int):
        context = multiprocessing.get_context("spawn")
        self._outbox = context.Queue()
        # Held as long as the readers live: a lock no one holds on to is gone before a reader takes it up.
        self._turn = turn = context.Lock() if spec.database_url.startswith("sqlite") else None
        self._inboxes = [context.Queue() for _ in range(processes)]
        self._processes = [
            context.Process(target=_serve, args=(spec, inbox, self._outbox, turn), name="records-reader", daemon=True)
            for inbox in self._inboxes
        ]
        self._given: list[list[int]] = [[] for _ in range(processes)]  # blocks each reader has and has not done
        self._ready: dict[int, Outcome] = {}  # outcomes come back in any order
        self._next = 1  # the outcome handed on next
        self._seq = 0

    def __enter__(self) -> "Readers":
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            for inbox in self._inboxes:
                inbox.put(None)
            for process in self._processes:
                process.join(30)
        for process in self._processes:
            if process.is_alive():
                process.kill()
            process.join()
        for box in (*self._inboxes, self._outbox):
            box.cancel_join_thread()
            box.close()

    def give(self, item: reading.Block | reading.SourceRecord) -> Iterator[Outcome]:
        """Hand a block to the least busy reader (a line refused while cutting the blocks is an outcome at once),
        waiting while every reader has its fill; yields the outcomes ready in order meanwhile."""
        self._seq += 1
        if isinstance(item, reading.SourceRecord):
            problem = item.problem or "the line cannot be read"
            self._ready[self._seq] = Outcome(self._seq, 0, 1, [{"line": item.row, "message": problem}])
            yield from self._in_order()
            return
        while min(len(given) for given in self._given) >= GIVEN_EACH:
            yield from self._take()
        reader = min(range(len(self._given)), key=lambda n: len(self._given[n]))
        self._given[reader].append(self._seq)
        self._inboxes[reader].put((self._seq, item))
        yield from self._in_order()

    def drain(self) -> Iterator[Outcome]:
        while any(self._given):
            yield from self._take()
        yield from self._in_order()

    def _take(self) -> Iterator[Outcome]:
        """Wait for the next outcome (looking every WAIT_SECONDS whether a reader died) and yield what is ready."""
        while True:
            try:
                outcome: Outcome = self._outbox.get(timeout=WAIT_SECONDS)
                break
            except queue.Empty:
                dead = [p for p, given in zip(self._processes, self._given, strict=True) if given and not p.is_alive()]
                if dead:
                    code = dead[0].exitcode
                    raise ReaderFailed(f"a reader process ended (exit code {code}) in the middle of its work") from None
        if outcome.failure is not None:
            raise ReaderFailed(outcome.failure)
        for given in self._given:
            if outcome.seq in given:
                given.remove(outcome.seq)
        self._ready[outcome.seq] = outcome
        yield from self._in_order()

    def _in_order(self) -> Iterator[Outcome]:
        while self._next in self._ready:
            yield self._ready.pop(self._next)
            self._next += 1
