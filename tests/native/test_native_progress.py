"""What a native backup and restore report to a display: the controller's own file read as the
export, placed as the import, and each wait (the controller writing its file, a replacement
booting and setting up) with its bound. The command line draws these (tests/integration)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from controller_backup.backup import run_backup
from controller_backup.progress import Progress, showing
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.targets import operator_target
from controller_emulator import Emulator

from .conftest import REPLACEMENT_IP
from .helpers import read


@dataclass
class _Transfer:
    label: str
    total: int | None
    moved: int = 0
    finished: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, total: int) -> None:
        self.total = total

    def advance(self, amount: int) -> None:
        with self._lock:
            self.moved += amount


@dataclass
class _Recorded:
    """A display that keeps what it was shown, in order."""

    transfers: list[_Transfer] = field(default_factory=list)
    waits: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def transfer(self, label: str, total: int | None) -> Iterator[Progress]:
        shown = _Transfer(label, total)
        self.transfers.append(shown)
        yield shown
        shown.finished = True

    @contextmanager
    def waiting(self, what: str, bound: float, since: float) -> Iterator[None]:
        self.waits.append((what, bound))
        yield

    def legs(self) -> list[tuple[str, int | None, int]]:
        return [(t.label, t.total, t.moved) for t in self.transfers if t.finished]


def test_a_native_backup_reports_the_file_it_waits_for_and_reads(
    original: Emulator, settings: Settings
) -> None:
    shown = _Recorded()
    with showing(shown):
        result = run_backup(settings)
    # the upload runs beside the export (it starts first, to send while the file is still read)
    assert sorted(shown.legs()) == [
        ("export", result.size, result.size),
        ("upload", result.size, result.size),
    ]
    file_waits = [(what, bound) for what, bound in shown.waits if what.startswith("the controller to write ")]
    assert file_waits and "CloudN_10.1.0.10_save_cloudx_config.enc" in file_waits[0][0]
    assert all(0 < bound <= settings.native_backup_wait for _, bound in file_waits)


def test_a_native_restore_reports_the_import_and_its_waits(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    size = len(read(settings.backup_url)[0])
    shown = _Recorded()
    blank.reboot(1.0)
    with showing(shown):
        run_restore(settings, target=operator_target(settings, blank.url, REPLACEMENT_IP))
    legs = shown.legs()
    assert ("import", size, size) in legs  # placed in the controller's bucket, every byte counted
    assert sorted(label for label, _, _ in legs[-2:]) == ["export", "upload"]  # the fresh backup at the end
    what = [what for what, _ in shown.waits]
    assert f"{blank.url} to become ready" in what  # booting, then restarting after the restore
    assert "initial_setup to finish" in what
    assert all(0 < bound <= settings.restore_time_limit for _, bound in shown.waits)
