"""A temporary file that hashes what is written to it: bounded memory for any archive size.

Exports and restores pass through one of these instead of memory (docs/design.md, invariant 7). The
hash is computed as bytes arrive, so a 256 MiB export is read from disk only by the checks that
need to. A download that restarts (`seek(0)` then `truncate()`) restarts the hash with it.

A spool has a real path (`path`) so a local store on the same filesystem can adopt the file by a
hard link instead of copying it again; `HashingSink` hashes a stream that needs no keeping.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from types import TracebackType
from typing import IO, BinaryIO, Self, cast

_CHUNK = 1024 * 1024


class HashingSpool:
    """Write-then-read temp file with a running sha256 of everything written."""

    def __init__(self, directory: str | None = None, *, existing: str | None = None) -> None:
        """A new temp file in `directory`; or, with `existing`, that (immutable) file read in place.

        An existing file is hashed once here and never written or deleted: a local store's
        version file can be verified and pushed without a 256 MiB copy.
        """
        self._hash = hashlib.sha256()
        self.size = 0
        if existing is not None:
            self.path, self._owned, self._writing = existing, False, False
            self._file: IO[bytes] = open(existing, "rb")  # noqa: SIM115 - closed by close()
            while chunk := self._file.read(_CHUNK):
                self._hash.update(chunk)
                self.size += len(chunk)
            self._file.seek(0)
            return
        fd, self.path = tempfile.mkstemp(
            prefix=".spool-", dir=directory or os.environ.get("BACKUP_SPOOL_DIR") or None
        )
        self._file = os.fdopen(fd, "w+b")
        self._owned, self._writing = True, True

    # The file-like surface the drivers and stores use.
    def write(self, data: bytes) -> int:
        if self._file.tell() != self.size:
            # A running hash only holds for bytes appended in order.
            raise ValueError("HashingSpool takes writes in order only")
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def truncate(self, size: int | None = None) -> int:
        """Only truncation to nothing is supported: it restarts the hash."""
        if (size if size is not None else self._file.tell()) != 0:
            raise ValueError("HashingSpool can only be truncated to zero")
        self._hash = hashlib.sha256()
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
        """This spool, typed as the binary file that drivers and stores take."""
        return cast(BinaryIO, self)

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
        self._file.close()
        if self._owned:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def stream_sha256(stream: BinaryIO) -> str:
    """The sha256 of a seekable stream's whole content; leaves it at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


class HashingSink:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def stream(self) -> BinaryIO:
        return cast(BinaryIO, self)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()
