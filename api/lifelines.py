"""Work that ends with its process: a worker whose server died must not go on writing, and a lease on a
piece of work lapses when its holder dies."""

import ctypes
import ctypes.util
import fcntl
import os
import signal
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """ProcessPoolExecutor initializer: ask the kernel to SIGKILL this process when its parent exits (Linux)."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


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
            os.close(probe._fd)  # keep the file: its holder-to-be may have it open already
            return False
        return True
