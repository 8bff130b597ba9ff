"""Progress of a job's long steps, reported for whoever watches: the command line draws it, the
cloud functions show none.

A job reports two kinds of thing. A *transfer* ("export", "upload", "download", "import",
"verifying export") is opened where its label is known and hands a `Progress` to the code that
moves the bytes (the controller client, a store), which counts them as they move and says the
size once it knows it. A *wait* (a controller becoming ready, a controller writing its own backup
file) says what it waits for and its bound. Reports go to the `Display` a front end installed with
`showing()` for the duration of its job, or nowhere: the core never imports a terminal library and
the functions install nothing, so every report is then a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Protocol

log = logging.getLogger("controller_backup.progress")


class Progress(Protocol):
    """One transfer's byte counts. May be called from an SDK's worker threads."""

    def expect(self, total: int) -> None:
        """The transfer's size, once the code moving the bytes knows it."""
        ...

    def advance(self, amount: int) -> None:
        """`amount` more bytes moved; negative when a retry takes back a failed attempt's bytes."""
        ...


class _Silent:
    """The Progress of a transfer nobody watches."""

    def expect(self, total: int) -> None:
        """Nobody to tell."""

    def advance(self, amount: int) -> None:
        """Nobody to tell."""


#: what byte movers report to when their caller passes no Progress
SILENT: Progress = _Silent()


class Display(Protocol):
    """What a front end shows; `transfer` and `waiting` last as long as what they report."""

    def transfer(self, label: str, total: int | None) -> AbstractContextManager[Progress]: ...

    def waiting(self, what: str, bound: float, since: float) -> AbstractContextManager[None]:
        """Waiting for `what` for at most `bound` seconds, since `since` (time.monotonic())."""
        ...


_DISPLAY: ContextVar[Display | None] = ContextVar("controller_backup_display", default=None)


@contextmanager
def showing(display: Display) -> Iterator[None]:
    """Send this context's reports (the job run inside it) to `display`."""
    token = _DISPLAY.set(display)
    try:
        yield
    finally:
        _DISPLAY.reset(token)


@contextmanager
def transfer(label: str, total: int | None = None) -> Iterator[Progress]:
    """A transfer called `label` (`total` bytes, if known yet): its Progress, silent unless shown."""
    display = _DISPLAY.get()
    if display is None:
        yield SILENT
        return
    with display.transfer(label, total) as progress:
        yield progress


@contextmanager
def waiting(what: str, bound: float, since: float | None = None) -> Iterator[None]:
    """Waiting for `what` (e.g. "http://10.0.0.1 to become ready"), at most `bound` seconds."""
    display = _DISPLAY.get()
    if display is None:
        yield
        return
    with display.waiting(what, bound, time.monotonic() if since is None else since):
        yield


class LoggedWaits:
    """A display for logs without a terminal: each wait is one line when it starts and one when it
    ends; transfers show nothing (the job logs their outcome)."""

    @contextmanager
    def transfer(self, label: str, total: int | None) -> Iterator[Progress]:
        yield SILENT

    @contextmanager
    def waiting(self, what: str, bound: float, since: float) -> Iterator[None]:
        log.info("waiting up to %.0f s for %s", bound, what)
        yield
        log.info("waited %.0f s for %s", time.monotonic() - since, what)
