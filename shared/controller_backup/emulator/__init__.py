"""A controller emulator: a real HTTP(S) server that speaks the controller API's conventions.

It serves tests, demos and dry runs. Every way a real controller lets a client down is a knob
(`Emulator.faults`), so each of the client's safeguards has a test that can fail::

    with Emulator(EmulatorConfig(archive_size=1 << 20)) as emu:
        emu.faults.fail_next_5xx = 2
        ...  # point the client at emu.url

Only the standard library is needed, plus `cryptography` for the HTTPS mode.
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
