"""The command line's progress display on a terminal, drawn with rich (the `cli` extra).

Only the command line imports this module, and only when stderr is a terminal: the cloud
functions never load it, nor rich (tests/*/ import-isolation tests). Each transfer is a line
with its label, a bar, the bytes so far and the size, the percentage, the rate and the time
left; each wait is a line with what it waits for, the time waited and its bound. Log records are
printed through the same console, which clears the bars first and draws them again below, so a
log line never lands in the middle of a bar. A finished transfer or wait leaves one summary line
where it happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as Bars
from rich.progress_bar import ProgressBar
from rich.table import Column
from rich.text import Text

from controller_backup.progress import Progress
from controller_backup.status_view import size_in_words


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _waited(task: Task) -> float:
    return time.monotonic() - float(task.fields["since"])


class _Bar(BarColumn):
    """A transfer's share of its size; a wait's share of its bound."""

    def render(self, task: Task) -> ProgressBar:
        if task.fields["kind"] != "wait":
            return super().render(task)
        bound = float(task.fields["bound"])
        return ProgressBar(
            total=bound,
            completed=min(_waited(task), bound),
            width=None if self.bar_width is None else max(1, self.bar_width),
            style=self.style,
            complete_style=self.complete_style,
            finished_style=self.finished_style,
            pulse_style=self.pulse_style,
        )


class _Figures(ProgressColumn):
    """A transfer: done / size, percent, rate, time left (what is known so far). A wait: time
    waited of its bound."""

    def render(self, task: Task) -> RenderableType:
        if task.fields["kind"] == "wait":
            return Text(f"{_clock(_waited(task))} of {_clock(float(task.fields['bound']))}")
        parts = [size_in_words(max(int(task.completed), 0))]
        if task.total is not None:
            parts[0] += f" / {size_in_words(int(task.total))}"
            parts.append(f"{task.percentage:3.0f}%")
        if task.speed:
            parts.append(f"{size_in_words(int(task.speed))}/s")
            if task.time_remaining is not None and task.total is not None:
                parts.append(f"ETA {_clock(task.time_remaining)}")
        return Text("  ".join(parts))


class _Meter:
    """The Progress the core's byte movers report to: one task's completed and total."""

    def __init__(self, bars: Bars, task: TaskID) -> None:
        self._bars, self._task = bars, task

    def expect(self, total: int) -> None:
        self._bars.update(self._task, total=total)

    def advance(self, amount: int) -> None:
        self._bars.advance(self._task, amount)


class _ConsoleHandler(logging.Handler):
    """Log records printed through the display's console: above the bars, never inside one."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self._console.print(Text(text), soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never break the job; logging reports it
            self.handleError(record)


class TerminalDisplay:
    """The `Display` (progress.py) of a command run at a terminal; use it as a context manager
    around the job, and route logging through `log_handler()`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, markup=False, emoji=False, highlight=False)
        self._bars = Bars(
            TextColumn("{task.description}", table_column=Column(min_width=16, no_wrap=True)),
            _Bar(bar_width=30),
            _Figures(table_column=Column(no_wrap=True)),
            console=self.console,
            transient=True,
            redirect_stdout=False,  # results go to stdout, which may not be this terminal
        )

    def __enter__(self) -> TerminalDisplay:
        self._bars.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bars.stop()

    def log_handler(self) -> logging.Handler:
        return _ConsoleHandler(self.console)

    @contextmanager
    def transfer(self, label: str, total: int | None) -> Iterator[Progress]:
        task = self._bars.add_task(label, total=total, kind="transfer")
        self._bars.refresh()  # shown at once, however short the transfer
        started = time.monotonic()
        finished = False
        try:
            yield _Meter(self._bars, task)
            finished = True
        finally:
            self._bars.refresh()  # its last state, before the summary replaces it
            moved = self._task(task).completed
            self._bars.remove_task(task)
            self._bars.refresh()  # gone from the bars before anything is printed above them
            if finished:
                seconds = time.monotonic() - started
                rate = f"{size_in_words(int(moved / seconds))}/s" if seconds > 0 else "-"
                summary = f"{label:<16} {size_in_words(int(moved))} in {seconds:.1f} s ({rate})"
                self.console.print(Text(summary))

    @contextmanager
    def waiting(self, what: str, bound: float, since: float) -> Iterator[None]:
        task = self._bars.add_task(f"waiting for {what}", kind="wait", bound=bound, since=since)
        self._bars.refresh()
        finished = False
        try:
            yield
            finished = True
        finally:
            self._bars.remove_task(task)
            self._bars.refresh()
            if finished:
                waited = _clock(time.monotonic() - since)
                self.console.print(Text(f"waited {waited} (of {_clock(bound)}) for {what}"))

    def _task(self, task: TaskID) -> Task:
        return next(each for each in self._bars.tasks if each.id == task)
