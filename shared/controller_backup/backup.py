"""The backup job: export the controller's configuration, check it, replace the one stored object.

The stored object is the last good backup; it is replaced only by an export that passed every
check below (docs/design.md, invariant 1), and only if nobody replaced it since this job started (a
conditional write on the etag read first). Any failed check leaves it untouched and says why.
Only the kinds `archive.py` names are ever stored: a whole tar (or gzip of one) from the export
API, or the controller's own file with its matching version file; the kind is recorded with it.
Both drivers end here, in `store_export`, so they share one checked path; a native restore ends
with it too. A controller that is restarting when the job starts is waited out, within
CONTROLLER_READY_TIMEOUT, as a restore waits for one.

An export identical to the stored object (same sha256 and size, and the stored bytes still hash
to it when read back) writes no new version: a nightly copy of an unchanged configuration would
push distinct history out of retention. The result then says `unchanged`, a success like any
other, and `backup_record.py` records it, since the object's own age no longer tells.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime

from controller_backup import __version__
from controller_backup.archive import ArchiveSummary, ArchiveWalk, inspect_archive, inspect_native
from controller_backup.backup_record import STORED, UNCHANGED, BackupRecord, record_url, write_record
from controller_backup.controller import ControllerDriver, ExportInfo, open_driver
from controller_backup.controller.version import ControllerVersion
from controller_backup.copies import Copier
from controller_backup.errors import FAILURE_RECORD, BackupError, InvalidExport, RefusedError
from controller_backup.inspection import check_written, records, still_holds, warn_if_unversioned
from controller_backup.progress import transfer
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool, remove_stale_spools, spool_directory
from controller_backup.stores import ObjectInfo, ObjectStore, PendingUpload, replacing

log = logging.getLogger("controller_backup.backup")

#: what runs once the primary holds the spool's bytes, with their metadata (the copies)
AfterStored = Callable[[HashingSpool, Mapping[str, str]], None]


def run_backup(
    settings: Settings,
    *,
    allow_shrink: bool = False,
    trigger: str = "manual",
    store: ObjectStore | None = None,
    driver: ControllerDriver | None = None,
) -> JobResult:
    """Back up `settings.controller_url` into `settings.backup_url`.

    `allow_shrink` lifts the shrink rule (a much smaller export than the stored one); nothing lifts
    the checks that an export is whole and real. A controller that refuses (restarting, booting)
    is waited for up to `settings.ready_timeout` seconds before the export starts.
    """
    started = time.monotonic()
    store = store or settings.backup_store()
    log.info("backup started (trigger=%s) from %s to %s", trigger, settings.controller_url, store.url)
    # what killed runs left, even when this run fails before it spools anything
    remove_stale_spools(spool_directory())
    copier = Copier(settings, trigger)
    try:
        driver = driver or open_driver(settings)
        driver.wait_until_ready(settings.ready_timeout)
        result = store_export(
            settings=settings,
            store=store,
            driver=driver,
            allow_shrink=allow_shrink,
            started=started,
            after_stored=copier,
        )
    except BackupError as exc:
        log.error(
            "backup failed [%s]: %s; the stored backup was not changed",
            exc.code,
            exc.message,
            extra={FAILURE_RECORD: exc.code},
        )
        raise
    # the alarms match these two lines (Terraform's log queries): keep their first words
    log.info(
        "backup %s %s (%d bytes, sha256 %s, version %s) in %d ms",
        "unchanged, kept" if result.status == UNCHANGED else "stored",
        result.object,
        result.size,
        result.sha256,
        result.version_id,
        result.duration_ms,
    )
    unversioned = warn_if_unversioned(store)  # after the write: on Azure the object is what tells
    if unversioned:
        result = replace(result, details={**result.details, "warning": unversioned})
    return copier.apply(_with_record(settings, result, trigger))


def _with_record(settings: Settings, result: JobResult, trigger: str) -> JobResult:
    """Record the success beside the backup; a record that could not be written is named in the result."""
    now = datetime.now(UTC)
    record = BackupRecord(
        outcome=result.status if result.status == UNCHANGED else STORED,
        finished_at=now,
        verified_at=now,  # both outcomes read the stored bytes back and checked them just now
        version_id=result.version_id,
        sha256=result.sha256,
        size=result.size,
        controller_version=result.controller_version or "",
        trigger=trigger,
    )
    failure = write_record(settings.backup_store(record_url(settings.backup_url)), record)
    if failure is None:
        return result
    return replace(result, details={**result.details, "record_error": failure})


def store_export(
    *,
    settings: Settings,
    store: ObjectStore,
    driver: ControllerDriver,
    allow_shrink: bool,
    started: float,
    after_stored: AfterStored | None = None,
) -> JobResult:
    """Export through `driver`, check the export, and replace the stored object with it (the
    export and the upload are each shown as a transfer, progress.py); then `after_stored` gets
    the bytes the primary holds, stored or unchanged (copies.py)."""
    previous = store.head()
    if not driver.is_set_up():
        raise InvalidExport(
            "the controller has not been set up (initial_setup not run): it is a blank replacement, "
            "and its export would replace the real backup"
        )
    version = driver.version()
    # checked as it arrives, next to its hash: the spool is written once, then only sent
    walk = ArchiveWalk()
    # where the store takes the spool as it is (a local folder's hard link), else anywhere
    with HashingSpool(store.spool_directory, walk=walk) as spool, ExitStack() as uploads:

        def begin_upload() -> PendingUpload:
            """Sent while the spool grows (a cloud store), visible only once committed below."""
            precondition = replacing(previous)
            pending = store.begin_upload(spool.path, precondition=precondition, progress=upload_progress)
            return uploads.enter_context(pending)

        with transfer("export") as progress:
            # the upload's transfer starts with the export's and outlasts it, to the commit
            upload_progress = uploads.enter_context(transfer("upload"))
            upload = begin_upload()
            spool.also_feed(upload)
            export = driver.export(spool.stream, progress, stored=previous)
        if export.size == 0:
            raise InvalidExport("the export is empty")
        if export.declared_length is not None and export.declared_length != export.size:
            raise InvalidExport(
                f"the export is truncated: the controller declared {export.declared_length} bytes, "
                f"{export.size} arrived"
            )
        summary, facts = _check_content(walk, export, version)

        def result(status: str, version_id: str | None) -> JobResult:
            return JobResult(
                job="backup",
                status=status,
                object=store.url,
                version_id=version_id,
                sha256=spool.sha256,
                size=export.size,
                controller_version=str(version),
                duration_ms=int((time.monotonic() - started) * 1000),
                controller=settings.controller_url,
                details={
                    "kind": summary.kind,
                    "members": summary.members,
                    "allow_shrink": allow_shrink,
                    "mode": settings.mode,
                },
            )

        _check_shrink(previous, export.size, settings.min_size_ratio, allow_shrink)
        if previous is not None and records(previous, spool.sha256, export.size):
            upload.abort()  # most nights: stop sending what is stored already, before reading it back
            if still_holds(store, previous, spool.sha256, export.size):
                if after_stored is not None:
                    after_stored(spool, previous.metadata)
                return result(UNCHANGED, previous.version_id)
            upload = begin_upload()  # the stored copy is damaged: send the spool again
            upload.add(spool.size)
        metadata = {
            # the driver's own facts (native: the file and the controller's IP); ours win
            **export.metadata,
            **facts,
            "kind": summary.kind,
            "sha256": spool.sha256,
            "size": str(export.size),
            "controller_version": str(version),
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "controller": settings.controller_url,
            "tool_version": __version__,
        }
        stored = upload.commit(metadata)
        check_written(store, stored, metadata)
        if after_stored is not None:
            after_stored(spool, metadata)
        return result("ok", stored.version_id)


def _check_content(
    walk: ArchiveWalk, export: ExportInfo, version: ControllerVersion
) -> tuple[ArchiveSummary, dict[str, str]]:
    """The export, as `walk` took it, must be one of the kinds we store; returns what it is and
    the facts to record."""
    if export.native is not None:
        pair = export.native
        summary = inspect_native(walk, pair.version_text, version, version_name=pair.version_name)
        # the version file parsed, so its text is a safe metadata value; kept as written
        return summary, {"native_version": str(pair.version_text).strip()}
    summary = inspect_archive(walk)
    if summary.blank:
        raise InvalidExport("the export comes from a controller with no configuration (a blank one)")
    if export.controller_version is not None and export.controller_version != version:
        raise InvalidExport(f"the export says version {export.controller_version}, the controller {version}")
    return summary, {}


def _check_shrink(previous: ObjectInfo | None, size: int, ratio: float, allow_shrink: bool) -> None:
    """A much smaller export may be a half-configured or wrong controller: keep the larger backup."""
    if previous is None or previous.size == 0:
        return
    if size < previous.size * ratio:
        message = (
            f"the export ({size} bytes) is under {ratio:.0%} of the stored backup ({previous.size} bytes)"
        )
        if not allow_shrink:
            raise RefusedError(f"{message}; refusing to replace it", override="allow_shrink")
        log.warning("%s; replacing it as allowed (allow_shrink)", message)
