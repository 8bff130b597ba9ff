"""A controller emulator: a real HTTP(S) server that speaks the controller API's conventions.

It serves tests, demos and dry runs. Every way a real controller lets a client down is a knob
(`Emulator.faults`), so each of the client's safeguards has a test that can fail::

    with Emulator(EmulatorConfig(archive_size=1 << 20)) as emu:
        emu.faults.fail_next_5xx = 2
        ...  # point the client at emu.url

The controller's own (native) backup and restore are emulated too (native.py): its `CloudN_...`
files are written through the core's stores (`controller_backup.stores`, its one import of the
core), into a local folder (`bucket_root`) or the clouds' emulators. It needs the `emulator`
extra: python-multipart, which reads uploads, and trustme, which makes the HTTPS mode's CA and
certificate (and a cloud's SDK for native backups into that cloud).

A sibling of the core, never part of it: no bundle carries this package, and the core's command
line imports it only inside its `emulator` and `demo` commands (demo.py, here too).
"""

from .archive import ArchiveSpec, InvalidArchive, archive_length, iter_archive, read_manifest
from .emulator import Emulator, EmulatorConfig
from .faults import Faults
from .state import ControllerState

__all__ = [
    "ArchiveSpec",
    "ControllerState",
    "Emulator",
    "EmulatorConfig",
    "Faults",
    "InvalidArchive",
    "archive_length",
    "iter_archive",
    "read_manifest",
]
