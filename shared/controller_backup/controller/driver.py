"""Drivers move a configuration archive between a controller and a file.

`ExportApiDriver` speaks the design card's export API (`export_config` / `import_config`);
`NativeDriver` (native.py) makes a real controller write its own backup into a bucket and restore
from one. Both implement `ControllerDriver`, so the jobs run the same checks whichever one runs:
backup stores what `export` wrote through one checked path, and restore runs
`prepare_target` -> `import_` -> `verify_restored`, recording each finished step so an
interrupted restore resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from controller_backup.controller.client import ControllerClient
from controller_backup.controller.version import ControllerVersion, parse_version
from controller_backup.errors import ControllerError, IntegrityError
from controller_backup.progress import SILENT, Progress, transfer
from controller_backup.spool import HashingSink
from controller_backup.stores import ObjectInfo, SizedSource

log = logging.getLogger("controller_backup.controller")

#: the import can take minutes on a real controller; one call gets this long to answer
IMPORT_TIMEOUT = 600.0
#: how controllers and proxies say they do not know an action
_UNKNOWN_ACTION = (
    "invalid action",
    "unknown action",
    "unsupported action",
    "not a valid action",
    "action not supported",
    "no such action",
    "http 404",
)
#: what a real controller needs instead of export mode
NATIVE_HINT = (
    "a real Aviatrix controller serves no export_config: set CONTROLLER_BACKUP_MODE=native with "
    "CONTROLLER_PRIVATE_IP, NATIVE_CLOUD_TYPE, NATIVE_ACCOUNT_NAME and NATIVE_BUCKET_URL (and the "
    'access account\'s fields for its cloud); see README "Using it with a real controller"'
)


@dataclass(frozen=True)
class NativePair:
    """The version file a controller wrote beside its own backup file: the file is stored only
    with it, and only when it names the controller's version (archive.inspect_native)."""

    #: its text as read; None when the controller wrote none
    version_text: str | None
    #: its name, for the error that refuses it
    version_name: str


@dataclass(frozen=True)
class ExportInfo:
    """What the controller said about an export it just wrote into `dest`."""

    size: int
    declared_length: int | None
    content_type: str
    controller_version: ControllerVersion | None
    #: extra metadata the driver wants stored with the backup (identifier-safe keys)
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: native mode: `dest` holds the controller's own (encrypted) file, and this its version
    #: file; None: `dest` holds an export API archive
    native: NativePair | None = None


class Journal(Protocol):
    """Where a restore records its finished steps, so an interrupted one resumes after them.

    Steps are ordered (restore_marker.STEPS): `passed(step)` is true once that step or a later
    one was recorded by this restore or an earlier run of it.
    """

    def passed(self, step: str) -> bool: ...

    def record(self, step: str) -> None: ...

    def seconds_since(self, step: str) -> float | None:
        """How long ago `step` was recorded, if it was."""
        ...


class MemoryJournal:
    """The journal of a restore that names no idempotency key: it lives as long as the run."""

    def __init__(self, order: tuple[str, ...]) -> None:
        self._order = order
        self._done: dict[str, float] = {}

    def passed(self, step: str) -> bool:
        index = self._order.index(step)
        return any(self._order.index(done) >= index for done in self._done)

    def record(self, step: str) -> None:
        self._done[step] = time.monotonic()

    def seconds_since(self, step: str) -> float | None:
        when = self._done.get(step)
        return None if when is None else time.monotonic() - when


class ControllerDriver(Protocol):
    """Pull and push one configuration archive; know the controller's version and state."""

    client: ControllerClient
    #: True when `prepare_target` runs initial_setup on a blank controller and upgrades an older
    #: one to the backup's version: an older target is then fixed, not refused, and a blank
    #: target's version is read only after its set-up
    sets_up_target: bool
    #: True when a restore ends with a fresh backup (the native file name follows the new IP)
    backs_up_after_restore: bool

    def wait_until_ready(self, timeout: float) -> None: ...

    def version(self) -> ControllerVersion: ...

    def is_set_up(self) -> bool: ...

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        """Write the controller's configuration into `dest`.

        `stored` is the stored backup as the job read it before this export (None: there is none
        yet): what a driver needs of it comes from the job, which owns the store.
        """
        ...

    def prepare_target(self, backup_version: ControllerVersion | None, journal: Journal) -> None:
        """Make the controller able to take the backup; safe to run again after a timeout."""
        ...

    def import_(self, source: SizedSource, backup: ObjectInfo, progress: Progress = SILENT) -> dict[str, str]:
        """Push `source`, the bytes the job verified against `backup` (their sha256 and size);
        return facts worth putting in the restore's result."""
        ...

    def verify_restored(self, backup: ObjectInfo) -> None:
        """Raise IntegrityError unless the controller now holds `backup`'s configuration."""
        ...


class ControllerApi:
    """What every driver asks a controller the same way: readiness, version, set-up state."""

    client: ControllerClient

    def wait_until_ready(self, timeout: float) -> None:
        self.client.wait_until_ready(timeout)

    def version(self) -> ControllerVersion:
        results = self.client.call("list_version_info", method="GET")
        current = results.get("current_version") if isinstance(results, dict) else None
        if not isinstance(current, str):
            raise ControllerError("list_version_info answered without results.current_version")
        return parse_version(current)

    def is_set_up(self) -> bool:
        """False for a fresh controller whose `initial_setup` has not run."""
        answer = self.client.call_envelope("initial_setup", {"subaction": "check"}, method="GET")
        if answer.get("return"):
            return True
        reason = str(answer.get("reason", "")).strip().lower()
        if "not run" in reason:
            return False
        raise ControllerError(f"initial_setup check failed: {reason[:200] or 'no reason given'}")


class ExportApiDriver(ControllerApi):
    """The export API (docs/controller-api.md, "The export API") over a logged-in ControllerClient."""

    sets_up_target = False
    backs_up_after_restore = False

    def __init__(self, client: ControllerClient) -> None:
        self.client = client

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        """The export API's archive; `stored` changes nothing here."""
        try:
            download = self.client.download("export_config", dest, progress=progress)
        except ControllerError as exc:
            if any(marker in exc.message.lower() for marker in _UNKNOWN_ACTION):
                raise ControllerError(f"{exc.message}: {NATIVE_HINT}") from None
            raise
        header = download.headers.get("X-Controller-Version")
        return ExportInfo(
            size=download.size,
            declared_length=download.content_length,
            content_type=download.content_type,
            controller_version=parse_version(header) if header else None,
        )

    def prepare_target(self, backup_version: ControllerVersion | None, journal: Journal) -> None:
        """Nothing to prepare: import_config takes the archive as it is."""

    def import_(self, source: SizedSource, backup: ObjectInfo, progress: Progress = SILENT) -> dict[str, str]:
        self.client.upload(
            "import_config",
            source.stream,
            source.size,
            filename="controller-config.tar",
            progress=progress,
            timeout=IMPORT_TIMEOUT,
        )
        return {}

    def verify_restored(self, backup: ObjectInfo) -> None:
        """Export again and compare hashes: the only proof the import really applied."""
        with HashingSink() as check, transfer("verifying export") as progress:
            self.export(check.stream, progress, stored=backup)
            if check.sha256 != backup.metadata.get("sha256"):
                raise IntegrityError(
                    "the restored controller's export does not match the backup "
                    f"({check.size} bytes, sha256 {check.sha256[:12]}...)"
                )
