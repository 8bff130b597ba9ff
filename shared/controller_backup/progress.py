"""A one-line transfer progress display, shown only when a person is watching a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_MIB = 1024 * 1024


class TerminalProgress:
    """Callable with byte counts; redraws at most ten times a second on `stream`."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def __call__(self, amount: int) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-6) / _MIB
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"{self.label:<10} [{bar:<30}] {share:6.1%} {self.done / _MIB:8.1f} MiB {rate:7.1f} MiB/s"
        else:
            text = f"{self.label:<10} {self.done / _MIB:8.1f} MiB {rate:7.1f} MiB/s"
        self.stream.write("\r" + text)
        self.stream.flush()

    def finish(self) -> None:
        if self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def progress_for(label: str, enabled: bool, total: int | None = None) -> TerminalProgress | None:
    """A progress display when `enabled` and stderr is a terminal, else None."""
    return TerminalProgress(label, total) if enabled and sys.stderr.isatty() else None
