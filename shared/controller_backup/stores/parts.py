"""Reading a spool while it is still being written: by parts in parallel, or as one growing stream.

Why read the spool back instead of handing the bytes over as they arrive: the export lands in the
spool anyway (hashed and walked there) and the kernel's page cache serves the re-read, so however
far the upload trails the export, the waiting bytes are on disk: memory holds only the parts in
flight (a store's concurrency times its part size), whatever the configuration's size. A part is
read whole and sent as bytes, not streamed from the file: SDKs send a stream in blocks of a few
KiB, each taking the interpreter lock, which made parallel parts slower than the same parts sent
as bytes (against Azurite, a 256 MiB upload: 4.1 s against 2.3 s), and peaked no lower.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from controller_backup.progress import Progress

_T = TypeVar("_T")


def read_part(path: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset + length) of the file at `path`, read with a handle of their own."""
    with open(path, "rb") as source:
        source.seek(offset)
        data = source.read(length)
    if len(data) != length:
        raise OSError(f"{path}: {len(data)} bytes where {length} were written")
    return data


class PartSender(Generic[_T]):
    """Sends a growing file's parts as each fills: `send(number, offset, length)` (numbers from
    1) runs on at most `concurrency` threads; parts waiting for a thread are only numbers.

    A part that failed fails the next `grown` (so the export stops early) or `finish`.
    """

    def __init__(
        self, part_size: int, concurrency: int, send: Callable[[int, int, int], _T], name: str
    ) -> None:
        self._part_size, self._send = part_size, send
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name)
        self._parts: list[Future[_T]] = []
        self._queued = 0
        self._failure: BaseException | None = None

    def grown(self, size: int) -> None:
        """The file holds `size` bytes now: queue every part that is full."""
        if self._failure is not None:
            raise self._failure
        while size - self._queued >= self._part_size:
            self._queue(self._part_size)

    def finish(self, size: int) -> list[_T]:
        """Queue the last part, wait for all of them; their results in order."""
        if size > self._queued or not self._parts:
            self._queue(size - self._queued)
        try:
            return [part.result() for part in self._parts]
        finally:
            self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Drop the queued parts and wait for those in flight: no thread reads the file after."""
        for part in self._parts:
            part.cancel()
        self._pool.shutdown(wait=True)

    def _queue(self, length: int) -> None:
        part = self._pool.submit(self._send, len(self._parts) + 1, self._queued, length)
        part.add_done_callback(self._note_failure)
        self._parts.append(part)
        self._queued += length

    def _note_failure(self, part: Future[_T]) -> None:
        if not part.cancelled() and part.exception() is not None and self._failure is None:
            self._failure = part.exception()


class _Stopped(Exception):
    """The reader was stopped: the upload reading it is abandoned."""


class GrowingReader(io.RawIOBase):
    """The file at `path` from its start, read while it grows: a read waits until the bytes asked
    for are there or the writer `end`ed; after `stop` every read fails, ending the upload that
    reads it. `progress` hears each byte the first time it is read (a retried chunk is read again).
    """

    def __init__(self, path: str, progress: Progress) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._progress = progress
        self._changed = threading.Condition()
        self._size, self._furthest = 0, 0
        self._ended = self._stopped = False

    def grown(self, size: int) -> None:
        with self._changed:
            self._size = size
            self._changed.notify_all()

    def end(self) -> None:
        """No more bytes will come: a read returns what is left."""
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        position = self._file.tell()
        with self._changed:
            while (
                not self._stopped
                and not self._ended
                and (size is None or size < 0 or self._size - position < size)
            ):
                self._changed.wait()
            if self._stopped:
                raise _Stopped("the upload was abandoned")
            available = self._size - position
        data = self._file.read(available if size is None or size < 0 else min(size, available))
        end = position + len(data)
        if end > self._furthest:
            self._progress.advance(end - self._furthest)
            self._furthest = end
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()
