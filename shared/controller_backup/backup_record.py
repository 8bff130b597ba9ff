"""A small object beside the backup that says when the last backup succeeded, whether or not it wrote.

An unchanged configuration writes no new version (it would push distinct history out of
retention), so the stored object's own age no longer tells when a backup last succeeded. Every
successful backup, stored or unchanged, overwrites `<BACKUP_URL>.last-backup.json`; `status` reads
it. Its facts sit in the object's metadata, so a `head` reads them without a download; the body
holds the same facts for a person who opens the file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from controller_backup.durations import as_utc
from controller_backup.errors import BackupError
from controller_backup.stores import ObjectInfo, ObjectStore, SizedSource

log = logging.getLogger("controller_backup.backup_record")

#: appended to BACKUP_URL: where the record lives (Terraform grants the backup identity this key)
RECORD_SUFFIX = ".last-backup.json"
#: the backup stored a new version
STORED = "stored"
#: the export equalled the stored object, whose bytes were read back and verified; nothing written
UNCHANGED = "unchanged"


def record_url(backup_url: str) -> str:
    """Where the record for `backup_url` lives."""
    return backup_url + RECORD_SUFFIX


@dataclass(frozen=True)
class BackupRecord:
    """The last successful backup: when it finished, what it did, and which stored version it vouches for."""

    outcome: str  # STORED or UNCHANGED
    finished_at: datetime
    #: when the stored bytes were last checked against their sha256 (on every successful backup)
    verified_at: datetime
    version_id: str | None
    sha256: str
    size: int
    controller_version: str
    trigger: str

    def to_metadata(self) -> dict[str, str]:
        return {
            "outcome": self.outcome,
            "finished_at": self.finished_at.isoformat(timespec="seconds"),
            "verified_at": self.verified_at.isoformat(timespec="seconds"),
            "version_id": self.version_id or "",
            "sha256": self.sha256,
            "size": str(self.size),
            "controller_version": self.controller_version,
            "trigger": self.trigger,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> BackupRecord | None:
        """The record a head returned, or None when it is not one of ours (or is damaged)."""
        try:
            outcome = metadata["outcome"]
            if outcome not in (STORED, UNCHANGED):
                return None
            return cls(
                outcome=outcome,
                finished_at=as_utc(datetime.fromisoformat(metadata["finished_at"])),
                verified_at=as_utc(datetime.fromisoformat(metadata["verified_at"])),
                version_id=metadata.get("version_id") or None,
                sha256=metadata["sha256"],
                size=int(metadata["size"]),
                controller_version=metadata.get("controller_version", ""),
                trigger=metadata.get("trigger", ""),
            )
        except (KeyError, ValueError):
            return None


def read_record(store: ObjectStore) -> BackupRecord | None:
    """The record in `store` (opened on `record_url(...)`), or None when there is none yet."""
    info = store.head()
    return BackupRecord.from_metadata(dict(info.metadata)) if info else None


def put_facts(store: ObjectStore, facts: dict[str, str], whose: str) -> str | None:
    """Overwrite a record object: its facts as metadata (a `head` reads them) and as its JSON body.

    Returns None, or why it could not be written (logged as a WARNING naming `whose` record, not
    raised): a record describes a job that has already ended, and its outcome stands either way.
    """
    try:
        store.put(SizedSource.of(json.dumps(facts, indent=2).encode()), facts)
    except BackupError as exc:
        log.warning("%s record %s was not written: %s", whose, store.url, exc.message)
        return exc.message
    return None


def write_record(store: ObjectStore, record: BackupRecord) -> str | None:
    """Overwrite the record; return None, or why it could not be written.

    A failed write is reported in the result and the log: `status` then falls back to the
    object's own age.
    """
    return put_facts(store, record.to_metadata(), "the backup succeeded, but its")


def confirmed_at(store: ObjectStore, backup: ObjectInfo) -> datetime | None:
    """When a backup last found the configuration equal to the stored version `backup`.

    An unchanged configuration leaves the stored object as old as the night it changed, but it
    is as current as the last backup that compared it: that is the age a restore should judge.
    None when there is no record for these bytes, or it cannot be read (the object's own age holds).
    """
    try:
        record = read_record(store)
    except BackupError as exc:
        log.warning(
            "the backup record %s could not be read (%s); judging the backup by its own age",
            store.url,
            exc.message,
        )
        return None
    if record is None or record.sha256 != backup.metadata.get("sha256"):
        return None
    if record.version_id and backup.version_id and record.version_id != backup.version_id:
        return None  # the same bytes stored again later: that version's own time is the one
    return record.finished_at


def current_as_of(backup: ObjectInfo, confirmed: datetime | None) -> datetime:
    """How current the stored `backup` is: its export time (its last change when it records none),
    or the later time a backup found the configuration still equal to it (`confirmed_at`)."""
    exported = backup.metadata.get("exported_at")
    try:
        when = as_utc(datetime.fromisoformat(exported)) if exported else as_utc(backup.last_modified)
    except ValueError:
        when = as_utc(backup.last_modified)
    return max(when, confirmed) if confirmed is not None else when
