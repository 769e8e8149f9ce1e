"""Work that ends with its process: a worker whose server died must not go on writing, a child doing one piece of
work can be stopped with everything it started, and a lease on a piece of work lapses when its holder dies."""

import ctypes
import fcntl
import functools
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, as the process already has it loaded (no search: that forks a process to run ldconfig)."""
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value) -> bool:
    try:
        _libc().prctl(option, value)
    except (OSError, AttributeError):
        return False
    return True


def die_with_parent(name: str | None = None) -> None:
    """First thing in a child process: ask the kernel to SIGKILL this process when its parent exits (Linux).

    A `name` (15 bytes at most) becomes what ps and top show for the process, so a build's processes can be told
    apart: they all run the same interpreter with the same command line."""
    if name:
        _prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))
    if not _prctl(PR_SET_PDEATHSIG, signal.SIGKILL):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def give_back_memory() -> None:
    """Collect garbage and hand the freed heap back to the system (glibc's malloc_trim), so a process's resident
    size drops after a big piece of work instead of staying at its peak: what is free there is reused by this
    process only, while the other processes of a build need it now."""
    gc.collect()
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return


def _in_own_group(target: Callable, inbox, prepare: Callable | None, name: str | None) -> None:
    die_with_parent(name)
    os.setpgid(0, 0)  # before it starts anything, so a stop reaches all it starts
    if prepare is not None:
        prepare()
    while True:  # one piece of work after another, until it is stopped or its parent goes
        try:
            args = inbox.recv()
            inbox.send(STARTED)
        except (EOFError, OSError):
            return
        target(*args)  # an exception ends the process: its parent sees it end without FINISHED
        give_back_memory()  # what the work left (its pools' semaphores among it) is released before it waits again
        try:
            inbox.send(FINISHED)
        except OSError:
            return


STARTED, FINISHED = "started", "finished"


class Child:
    """`target(*args)` in a spawned process that dies with this one and can be stopped, with every process it
    started, at any moment: it leads a process group of its own, and a stop kills the group.

    It is started ahead of its work: `prepare()` (imports, say) runs first, then it waits to be given its arguments,
    so a process started while the last piece of work ended has warmed up by the time the next one comes. A child
    whose work finished can be given more: starting one costs a second or more of imports."""

    def __init__(self, target: Callable, *, prepare: Callable | None = None, name: str | None = None):
        context = multiprocessing.get_context("spawn")
        inbox, self._outbox = context.Pipe()
        self._inbox = inbox
        self._started = self.finished = False
        self.given = 0  # pieces of work handed to it so far
        self.process = context.Process(target=_in_own_group, args=(target, inbox, prepare, name))

    def start(self) -> None:
        self.process.start()
        self._inbox.close()  # the child's end: once the child is gone, giving it work fails at once

    def give(self, *args) -> bool:
        """Hand the child its next arguments; False when it has died meanwhile."""
        if self.process.exitcode is not None:
            return False
        self._started = self.finished = False
        try:
            self._outbox.send(args)
        except OSError:
            return False
        self.given += 1
        return True

    def _read(self, timeout: float) -> None:
        """Take what the child has said within `timeout` seconds: that it started, or finished, its work."""
        try:
            while not self.finished and self._outbox.poll(timeout):
                message = self._outbox.recv()
                self._started = self._started or message == STARTED
                self.finished = message == FINISHED
                timeout = 0
        except (EOFError, OSError):  # the process has ended
            self.process.join(1)

    def started(self) -> bool:
        """Whether it has taken the work it was given (and so is done warming up)."""
        if not self._started:
            self._read(0)
        return self._started

    def wait(self, timeout: float) -> bool:
        """True once the work it was given has ended (within `timeout` seconds): it said it finished, or the
        process ended (crashed, or was killed) without saying so."""
        self._read(timeout)
        return self.finished or not self.process.is_alive()

    def resident_bytes(self) -> int:
        """Its memory in use now (0 when it cannot be read)."""
        try:
            return int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def close(self, grace: float = 5.0) -> None:
        """Let an idle child end by itself (its wait for work ends, and it exits as any process does), then
        `stop` whatever is left."""
        self._outbox.close()
        self.process.join(grace)
        self.stop()

    def stop(self, grace: float = 1.0) -> None:
        """SIGKILL the group and reap the child; give the processes it started up to `grace` seconds to go (their
        zombies may linger where nothing reaps orphans, hence a bound)."""
        if self.process.pid is None:
            return
        group = self.process.pid
        if self.process.exitcode is None:  # only while the child is unreaped is its pid surely still its group's
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:  # not yet leading its group (just started): then it started nothing yet
                self.process.kill()
        self.process.join()
        if not self._outbox.closed:
            self._outbox.close()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)


class Lease:
    """An exclusive lock on a file under `root`, named for one piece of work (a bundle build).

    The kernel releases it when the holding process dies, however it dies, so "is the lease held?" tells
    whether some live process on this machine is still doing the work.
    """

    def __init__(self, root: Path, name: str):
        self.path = root / f"{name}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # a checker that still opens the old file finds it unlocked: harmless
        os.close(self._fd)
        self._fd = None

    def held_elsewhere(self) -> bool:
        """True when another open lock holds it (another process, or another holder in this one)."""
        probe = Lease(self.path.parent, self.path.stem)
        if not self.path.exists():
            return False
        if probe.acquire():
            assert probe._fd is not None  # acquire() keeps the descriptor it locked
            os.close(probe._fd)  # keep the file: its holder-to-be may have it open already
            return False
        return True
