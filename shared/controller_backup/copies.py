"""Copies: the bytes the primary holds, written to every BACKUP_COPY_URLS destination as well.

A region outage, a closed account or a deleted bucket can take the primary with the controller
it protects; a copy elsewhere survives it (docs/design.md, invariant 10). Each copy gets exactly
the bytes the primary was written from (the checked spool, never a second export or a download
of the primary), with the same metadata, the same conditional write (`replacing` that copy's own
current object) and the same read-back. The primary alone decides the backup's success: a copy
that fails makes the result `degraded`, says where and why (one ERROR line starting `backup copy
failed`), and leaves the primary and every other copy as they are. The `unchanged` rule holds per
destination, so a copy that missed a night is written the next one even when the primary is
unchanged; each copy that holds the backup gets its own `.last-backup.json` record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from controller_backup.backup_record import RECORD_SUFFIX, STORED, UNCHANGED, BackupRecord, write_record
from controller_backup.destinations import open_destination
from controller_backup.errors import BackupError
from controller_backup.inspection import check_written, still_holds
from controller_backup.progress import transfer
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectStore, SizedSource, replacing

log = logging.getLogger("controller_backup.copies")

#: the result's status when the primary holds the backup but a copy failed
DEGRADED = "degraded"
FAILED = "failed"


@dataclass(frozen=True)
class CopyOutcome:
    """What one copy destination holds after this backup."""

    url: str
    status: str  # "ok", UNCHANGED or FAILED
    version_id: str | None = None
    error: BackupError | None = None

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"url": self.url, "status": self.status, "version_id": self.version_id}
        if self.error is not None:
            answer["error"] = {"code": self.error.code, "message": self.error.message}
        return answer


class Copier:
    """Called by the backup once the primary holds the spool's bytes (stored or unchanged)."""

    def __init__(self, settings: Settings, trigger: str) -> None:
        self._settings = settings
        self._trigger = trigger
        self.outcomes: list[CopyOutcome] = []

    def __call__(self, spool: HashingSpool, metadata: Mapping[str, str]) -> None:
        """Write `spool` (checked, whole) to each copy in turn; a failure is recorded, never raised."""
        self.outcomes = [self._copy(url, spool, dict(metadata)) for url in self._settings.copy_urls]

    def apply(self, result: JobResult) -> JobResult:
        """`result` with each copy's outcome, `degraded` when one failed."""
        if not self._settings.copy_urls:
            return result
        failed = any(outcome.status == FAILED for outcome in self.outcomes)
        return replace(
            result,
            status=DEGRADED if failed else result.status,
            details={**result.details, "copies": [outcome.to_dict() for outcome in self.outcomes]},
        )

    def _copy(self, url: str, spool: HashingSpool, metadata: dict[str, str]) -> CopyOutcome:
        try:
            store = open_destination(self._settings, url)
            outcome = replace(_write_copy(store, spool, metadata), url=url)
        except BackupError as exc:
            error = exc
        except Exception as exc:  # a copy's surprise (an SDK's, a bug) must never fail the primary's backup
            log.warning("the copy to %s failed unexpectedly", url, exc_info=True)
            error = BackupError(f"unexpected failure ({type(exc).__name__})")
        else:
            self._record(url, outcome, metadata)
            return outcome
        # the alarms on Azure and GCP match these first words
        log.error(
            "backup copy failed [%s] to %s: %s; the primary holds the backup", error.code, url, error.message
        )
        return CopyOutcome(url, FAILED, error=error)

    def _record(self, url: str, outcome: CopyOutcome, metadata: dict[str, str]) -> None:
        now = datetime.now(UTC)
        record = BackupRecord(
            outcome=UNCHANGED if outcome.status == UNCHANGED else STORED,
            finished_at=now,
            verified_at=now,  # written and read back, or read back and hashed, just now
            version_id=outcome.version_id,
            sha256=metadata["sha256"],
            size=int(metadata["size"]),
            controller_version=metadata.get("controller_version", ""),
            trigger=self._trigger,
        )
        try:
            write_record(open_destination(self._settings, url, RECORD_SUFFIX), record)
        except BackupError as exc:  # opening failed; write_record reports its own failures
            log.warning("the copy %s holds the backup, but its record was not written: %s", url, exc.message)


def _write_copy(store: ObjectStore, spool: HashingSpool, metadata: dict[str, str]) -> CopyOutcome:
    """Write unless the copy already holds these bytes (verified by reading them back)."""
    size = int(metadata["size"])
    current = store.head()
    if current is not None and still_holds(store, current, metadata["sha256"], size):
        log.info("backup copy unchanged, kept %s (version %s)", store.url, current.version_id)
        return CopyOutcome(store.url, UNCHANGED, current.version_id)
    spool.rewind()
    with transfer("copy", size) as progress:
        stored = store.put(
            SizedSource(spool.stream, size), metadata, precondition=replacing(current), progress=progress
        )
    check_written(store, stored, metadata)
    log.info("backup copy stored %s (%d bytes, version %s)", store.url, size, stored.version_id)
    return CopyOutcome(store.url, "ok", stored.version_id)
