"""Run the command line on a pseudo-terminal and read what a person would have seen.

`run_on_terminal` gives the command a pty as stderr (stdout stays a pipe, as when a result is
redirected to a file) and records every byte written to it. `Screen` replays those bytes as a
terminal does, for the few control sequences a progress display uses (carriage return, line feed,
erase line, cursor up, colours, cursor visibility); any other sequence fails the test rather than
being misread. It keeps the final screen, scrollback included, and every line as it was just
before something overwrote or erased it: the frames of the progress bars.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field

_CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")
BAR = "\u2501"  # the glyph rich draws bars with


@dataclass
class Screen:
    """A terminal without a bottom: rows grow as lines are fed, nothing scrolls away."""

    rows: list[str] = field(default_factory=lambda: [""])
    row: int = 0
    column: int = 0
    #: each non-empty row content just before it was overwritten from its start or erased
    frames: list[str] = field(default_factory=list)

    def feed(self, text: str) -> None:
        position = 0
        while position < len(text):
            match = _CSI.match(text, position)
            if match:
                self._control(match.group(1), match.group(2))
                position = match.end()
                continue
            char = text[position]
            position += 1
            if char == "\r":
                self.column = 0
            elif char == "\n":
                self.row += 1
                if self.row == len(self.rows):
                    self.rows.append("")
            elif char == "\x1b":
                raise AssertionError(f"unexpected escape sequence: {text[position - 1 : position + 8]!r}")
            elif char >= " ":
                self._put(char)

    def _put(self, char: str) -> None:
        line = self.rows[self.row]
        if self.column == 0 and line:
            self.frames.append(line)  # overwritten from its start: a new frame begins
            line = ""
        line = line.ljust(self.column)
        self.rows[self.row] = line[: self.column] + char + line[self.column + 1 :]
        self.column += 1

    def _control(self, params: str, command: str) -> None:
        count = int(params) if params.isdigit() else 1
        if command == "m" or params in ("?25",):  # colours; cursor hidden or shown
            return
        if command == "K" and params in ("2", ""):
            if self.rows[self.row]:
                self.frames.append(self.rows[self.row])
            self.rows[self.row] = "" if params == "2" else self.rows[self.row][: self.column]
        elif command == "A":
            self.row = max(0, self.row - count)
        elif command == "B":
            self.row = min(len(self.rows) - 1, self.row + count)
        else:
            raise AssertionError(f"unexpected control sequence: ESC[{params}{command}")

    @property
    def lines(self) -> list[str]:
        """The final screen, trailing spaces and empty rows at the end dropped."""
        lines = [row.rstrip() for row in self.rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: str
    #: everything written to the terminal, as bytes arrived
    raw: str
    screen: Screen


def run_on_terminal(
    args: list[str], env: dict[str, str], *, columns: int = 160, timeout: float = 120.0
) -> TerminalRun:
    """`controller-backup ARGS` with a pty of `columns` as its stderr (and stdin), stdout a pipe."""
    main, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    full_env.update({"TERM": "xterm-256color", "COLUMNS": str(columns)}, **env)
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller_backup.cli", *args],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=full_env,
    )
    os.close(secondary)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the other end closed: the process has exited
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    raw = received.decode("utf-8")
    screen = Screen()
    screen.feed(raw)
    return TerminalRun(proc.returncode, stdout, raw, screen)


# -- what the tests look for ----------------------------------------------------------------------

#: a log record as the command line formats it
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) controller_backup[.\w]*: \S")
_AMOUNT = r"\d+(\.\d)? (bytes|KiB|MiB|GiB)"


def assert_transfer_shown(screen: Screen, label: str, size: str) -> None:
    """`label`'s bar was drawn with its amount, its `size` ("4.0 MiB") and a percentage, reached
    100%, and left one summary line with the rate."""
    frames = [frame for frame in screen.frames if frame.startswith(f"{label} ") and BAR in frame]
    size_pattern = re.escape(size)
    assert any(re.match(rf"^{label} +{BAR}+ +{_AMOUNT} / {size_pattern} +\d+%", f) for f in frames), frames
    assert any(re.search(rf" {size_pattern} / {size_pattern} +100%", frame) for frame in frames), frames
    summary = re.compile(rf"^{label} +{size_pattern} in \d+\.\d s \({_AMOUNT}/s\)$")
    assert [line for line in screen.lines if summary.match(line)], screen.lines


def assert_never_mixed(screen: Screen) -> None:
    """No state of the terminal held a log line and a bar on one line, and no bar is left over."""
    for line in [*screen.frames, *screen.lines]:
        if "controller_backup." in line:
            assert LOG_LINE.match(line) and BAR not in line, line
    assert not [line for line in screen.lines if BAR in line]
    assert sum(bool(LOG_LINE.match(line)) for line in screen.lines) >= 3


def summaries(screen: Screen) -> list[str]:
    """Which step each summary line left on the screen is about, in order."""
    steps = ("export", "upload", "download", "import", "verifying export", "waited")
    return [step for line in screen.lines for step in steps if line.startswith(f"{step} ")]


def assert_wait_shown(screen: Screen, url: str, bound: str) -> None:
    """The wait for `url` was drawn with the time waited and its `bound` ("0:10"), and summed up."""
    what = rf"{re.escape(url)} to become ready"
    waits = [
        frame for frame in screen.frames if re.match(rf"^waiting for {what} .*\d:\d\d of {bound}$", frame)
    ]
    assert waits, screen.frames
    assert [line for line in screen.lines if re.match(rf"^waited \d:\d\d \(of {bound}\) for {what}$", line)]
