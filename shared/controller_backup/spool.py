"""A temporary file that hashes what is written to it: bounded memory for any archive size.

Exports and restores pass through one of these instead of memory (docs/design.md, invariant 7). The
hash is computed as bytes arrive, and so are the archive checks (a `Walk` handed to the spool), so
a 256 MiB export is written once and read again only to be sent. A download that restarts
(`seek(0)` then `truncate()`) restarts the hash and the walk with it.

A spool has a real path (`path`) so a local store on the same filesystem can adopt the file by a
hard link instead of copying it again; `HashingSink` hashes a stream that needs no keeping.

Leftovers: a process killed with SIGKILL (a function's timeout, an OOM kill) never closes its spool,
and a 256 MiB export left in /tmp each time fills a warm function's disk. So every spool file is
named `SPOOL_PREFIX<pid>-<random>` and holds an exclusive `flock` for as long as its owner has it
open; the kernel drops that lock when the owner dies, however it dies. Creating a spool first
removes the spool files in its directory whose lock is free: their owners are provably gone (a
reused pid cannot fool a lock, and nothing else in the directory is touched). A process never
probes its own open spools, so this holds where locks belong to the process (flock over NFS).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import IO, Any, BinaryIO, Protocol, Self, cast

_CHUNK = 1024 * 1024
#: every spool file's name starts so; the pid after it is for people, the lock is what counts
SPOOL_PREFIX = ".controller-backup-spool-"

log = logging.getLogger("controller_backup.spool")

#: (device, inode) of this process's open spools. A sweep never opens these: where locks belong
#: to the process rather than the open file (flock emulated over NFS), its own lock would not stop
#: it, and closing its probe would drop the owner's lock.
_OWN: set[tuple[int, int]] = set()
_OWN_LOCK = threading.Lock()


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def spool_directory(directory: str | None = None) -> str:
    """Where spools go: `directory`, else BACKUP_SPOOL_DIR, else the system's temporary folder."""
    return directory or os.environ.get("BACKUP_SPOOL_DIR") or tempfile.gettempdir()


def _try_lock(fd: int) -> bool:
    """Take `fd`'s exclusive lock without waiting; False while another open file holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale_spools(directory: str) -> list[str]:
    """Delete the spool files in `directory` that no live process holds; return their names.

    A spool's lock is free only once its owner closed it or died. Files that cannot be opened or
    locked (another user's, a filesystem without locks) are left alone: only provably dead ones go.
    """
    removed: list[str] = []
    try:
        entries = [entry for entry in os.scandir(directory) if entry.name.startswith(SPOOL_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        with contextlib.suppress(OSError):
            with _OWN_LOCK:
                if _identity(os.lstat(entry.path)) in _OWN:
                    continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                # unowned, and still the file we opened (not a newer one under the same name)
                if _try_lock(fd) and _identity(os.fstat(fd)) == _identity(os.lstat(entry.path)):
                    os.unlink(entry.path)
                    removed.append(entry.name)
            finally:
                os.close(fd)
    if removed:
        log.info("removed %d spool file(s) left by killed runs in %s", len(removed), directory)
    return removed


def _new_spool_file(directory: str) -> tuple[int, str]:
    """A new spool file in `directory`, created and locked by this process.

    A sweeper may lock and delete the file in the instant between its creation and our lock; the
    name is then no longer our file, so we make another.
    """
    for _ in range(10):
        fd, path = tempfile.mkstemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=directory)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if _identity(os.stat(path)) == _identity(os.fstat(fd)):
                with _OWN_LOCK:
                    _OWN.add(_identity(os.fstat(fd)))
                return fd, path
        os.close(fd)
    raise OSError(f"could not create a spool file in {directory}")


class Walk(Protocol):
    """What else must see every byte a spool takes, in order, as it is taken: the archive checks
    (archive.ArchiveWalk), so that nothing reads the spool back to check it."""

    def update(self, data: bytes) -> None: ...

    def restart(self) -> None: ...


class _ClosedOnExit(ABC):
    """`with` closes it, error or not: a spool's file must not outlive the job that made it."""

    @abstractmethod
    def close(self) -> None:
        """Release what the object holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class HashingSpool(_ClosedOnExit):
    """Write-then-read temp file with a running sha256 of everything written."""

    def __init__(
        self, directory: str | None = None, *, existing: str | None = None, walk: Walk | None = None
    ) -> None:
        """A new temp file in `directory`; or, with `existing`, that (immutable) file read in place.

        An existing file is hashed once here and never written or deleted: a local store's
        version file can be verified and pushed without a 256 MiB copy. `walk` sees the bytes as
        the hash does, in the same pass.
        """
        self._hash = hashlib.sha256()
        self._walks: list[Walk] = [] if walk is None else [walk]
        self.size = 0
        if existing is not None:
            self.path, self._owned, self._writing = existing, False, False
            self._file: IO[bytes] = open(existing, "rb")  # noqa: SIM115 - closed by close()
            while chunk := self._file.read(_CHUNK):
                self._took(chunk)
            self._file.seek(0)
            return
        folder = spool_directory(directory)
        remove_stale_spools(folder)
        fd, self.path = _new_spool_file(folder)
        # unbuffered: what `write` returned from is in the file, for readers with their own handle
        self._file = os.fdopen(fd, "w+b", buffering=0)
        self._owned, self._writing = True, True

    def also_feed(self, walk: Walk) -> None:
        """Let `walk` see every byte from here on too (an upload sending the spool as it grows);
        it hears of bytes once they are in the file."""
        self._walks.append(walk)

    # The file-like surface the drivers and stores use.
    def write(self, data: bytes) -> int:
        if self._file.tell() != self.size:
            # A running hash only holds for bytes appended in order.
            raise ValueError("HashingSpool takes writes in order only")
        view = memoryview(data)
        while view:  # an unbuffered write may take less than it was given
            view = view[self._file.write(view) :]
        self._took(data)
        return len(data)

    def _took(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        for walk in self._walks:
            walk.update(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def truncate(self, size: int | None = None) -> int:
        """Only truncation to nothing is supported: it restarts the hash."""
        if (size if size is not None else self._file.tell()) != 0:
            raise ValueError("HashingSpool can only be truncated to zero")
        self._hash = hashlib.sha256()
        for walk in self._walks:
            walk.restart()
        self.size = 0
        self._writing = True
        return self._file.truncate(0)

    def read(self, amount: int = -1) -> bytes:
        return self._file.read(amount)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        """False while being written: SDK downloaders then write ranges in order, not by seeking."""
        return not self._writing

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    @property
    def stream(self) -> BinaryIO:
        """This spool as the binary file that drivers and stores take: all of it but `close`."""
        return cast(BinaryIO, _Lent(self))

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def rewind(self) -> Self:
        """End the writing phase: from here on the spool is a seekable file to read."""
        self._file.flush()
        self._file.seek(0)
        self._writing = False
        return self

    def close(self) -> None:
        # Unlink while still holding the lock, so no sweeper can mistake the file for a dead one's.
        if self._owned and not self._file.closed:
            with _OWN_LOCK:
                _OWN.discard(_identity(os.fstat(self._file.fileno())))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self._file.close()


class _Lent:
    """A spool lent to a driver or an SDK. Some close the file they were handed once it is sent
    (s3transfer does, after a PutObject); only the spool's owner closes it, when it is done with
    it (copies.py still reads it after the primary's upload)."""

    def __init__(self, spool: HashingSpool) -> None:
        self._spool = spool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spool, name)

    def close(self) -> None:
        """The owner's `HashingSpool.close` releases the file; a borrower's close does nothing."""


class HashingSink(_ClosedOnExit):
    """Hashes a download and keeps nothing: for re-exports that are only compared."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if (offset, whence) != (0, os.SEEK_SET):
            raise ValueError("HashingSink can only rewind to the start")
        return 0

    def truncate(self, size: int | None = None) -> int:
        self._hash = hashlib.sha256()
        self.size = 0
        return 0

    def close(self) -> None:
        """Nothing to release: a sink keeps no file."""

    @property
    def stream(self) -> BinaryIO:
        return cast(BinaryIO, self)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()
