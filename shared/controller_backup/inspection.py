"""Read-only looks at the stored backup: a verdict on it, its kept versions, a full verification.

Operators (and alarms) need "when did the last good backup land, and is it restorable?" without
touching a controller. `verify_backup` runs exactly the checks a restore runs before it pushes:
the hash and size the object records, then its bytes as the kind it records (`archive.py`);
`backup_status` runs them too (unless told to read metadata only) and adds the age, the record
of the last successful backup (`backup_record.py`) and whether the store keeps versions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from controller_backup.archive import ArchiveSummary, ArchiveWalk, inspect_stored, stored_kind
from controller_backup.backup_record import RECORD_SUFFIX, BackupRecord, read_record
from controller_backup.durations import HOUR, as_utc, in_words
from controller_backup.errors import BackupError, IntegrityError, InvalidExport, ObjectNotFound, StoreError
from controller_backup.progress import transfer
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore, open_store
from controller_backup.verify_record import VERIFY_SUFFIX, VerifyRecord, read_verify_record

log = logging.getLogger("controller_backup.inspection")


def check_recorded(info: ObjectInfo) -> None:
    """Invariant 2, on metadata alone: the object records its sha256, and the size it records is its own."""
    if not info.metadata.get("sha256"):
        raise IntegrityError(f"{info.url}: the stored object has no sha256 metadata; refusing it")
    recorded_size = info.metadata.get("size", str(info.size))
    if recorded_size != str(info.size):
        raise IntegrityError(
            f"{info.url}: the object holds {info.size} bytes, its metadata records {recorded_size}"
        )


def check_backup_bytes(info: ObjectInfo, spool: HashingSpool) -> None:
    """Invariant 2: the bytes read must be exactly the ones the backup recorded."""
    check_recorded(info)
    if spool.size != info.size:
        raise IntegrityError(f"{info.url}: read {spool.size} bytes, the object records {info.size}")
    if spool.sha256 != info.metadata["sha256"]:
        raise IntegrityError(f"{info.url}: sha256 of the stored bytes does not match its metadata")


def records(current: ObjectInfo, sha256: str, size: int) -> bool:
    """Whether `current` is recorded as these bytes (their hash and size): what `still_holds`
    then proves by reading it back."""
    return current.metadata.get("sha256") == sha256 and current.size == size


def check_written(store: ObjectStore, stored: ObjectInfo, metadata: Mapping[str, str]) -> None:
    """Read back what the store says it now holds (backup and copies alike): a write the store
    acknowledged but does not record as these bytes must fail the job, not pass as stored."""
    info = store.head(stored.version_id) if stored.version_id else store.head()
    if info is None:
        raise IntegrityError(f"{store.url}: the object is missing right after it was written")
    if not records(info, metadata["sha256"], int(metadata["size"])):
        raise IntegrityError(f"{store.url}: the stored object's size or hash differs from what was written")


def still_holds(store: ObjectStore, current: ObjectInfo, sha256: str, size: int) -> bool:
    """True when `current` records these bytes (hash and size) and reading it back now still
    hashes to them: only then may a write be skipped. One that no longer does is written again,
    not trusted (a warning says so)."""
    if not records(current, sha256, size):
        return False
    try:
        with fetch_checked(store, current.version_id):
            pass
    except IntegrityError as exc:
        log.warning("%s; writing it again", exc.message)
        return False
    return True


@contextmanager
def fetch_checked(
    store: ObjectStore, version_id: str | None = None
) -> Iterator[tuple[HashingSpool, ObjectInfo, ArchiveSummary]]:
    """The stored bytes (newest, or `version_id`) in a hashing spool, checked against their metadata.

    A store that keeps its versions as immutable files on this machine (a local folder) has its
    file read in place; any other store's object is downloaded into a temporary spool first.
    Either way nothing is used before the hash holds and the bytes are the kind the object records
    (a whole archive, or the controller's own file with its version); both are found in the one
    pass that brings the bytes in, so nothing reads them again before they are used.
    """
    walk = ArchiveWalk()
    local = store.version_file(version_id)
    if local is not None:
        path, info = local
        spool = HashingSpool(existing=str(path), walk=walk)
    else:
        spool = HashingSpool(walk=walk)
        try:
            with transfer("download") as progress:
                info = store.download(spool.stream, version_id, progress=progress)
            spool.flush()
        except BaseException:
            spool.close()
            raise
    with spool:
        check_backup_bytes(info, spool)
        summary = inspect_stored(walk, info.metadata)
        spool.rewind()
        yield spool, info, summary


@contextmanager
def fetch_backup(
    store: ObjectStore, version_id: str | None = None
) -> Iterator[tuple[HashingSpool, ObjectInfo]]:
    """`fetch_checked` without the summary: the restore's view of a stored backup."""
    with fetch_checked(store, version_id) as (spool, info, _):
        yield spool, info


def verify_backup(store: ObjectStore, version_id: str | None = None) -> dict[str, Any]:
    """Download, hash and check one stored version as its recorded kind; raise if it would not restore."""
    with fetch_checked(store, version_id) as (_, info, summary):
        pass
    return {
        "status": "ok",
        "object": store.url,
        "version_id": info.version_id,
        "size": info.size,
        "sha256": info.metadata["sha256"],
        "controller_version": info.metadata.get("controller_version"),
        "kind": summary.kind,
        "members": summary.members,
    }


# -- status ------------------------------------------------------------------------------------------

#: `status` verdicts, worst first: a status reports the first that holds (a store that fails to
#: answer may hide whether the object exists, so unreadable comes before missing)
UNREADABLE = "unreadable"
MISSING = "missing"
STALE = "stale"
UNVERSIONED = "unversioned"
HEALTHY = "healthy"
#: exit codes of the two verdicts that are no failed call (errors.py holds those: 8 and 9 here)
STALE_EXIT = 14
UNVERSIONED_EXIT = 15
#: the alarms' threshold: one nightly run may be late, a missed one is news
DEFAULT_MAX_AGE = 25 * HOUR


#: the one wording of the risk, for the backup's warning and `status` alike
UNVERSIONED_RISK = "the store keeps no versions: each backup overwrites the only copy (turn versioning on)"


def warn_if_unversioned(store: ObjectStore) -> str | None:
    """Log a WARNING and return its text when the store says it keeps no versions; else None.

    Call it after the backup wrote (or found unchanged) the object: on Azure the object itself is
    what tells, and a store that cannot tell, or cannot be asked, stays quiet here (`check` and
    `status` report that). Without versions, the night a wrong configuration is backed up the last
    good one is gone.
    """
    try:
        enabled = store.versioning()
    except BackupError as exc:
        log.debug("%s: versioning not readable: %s", store.url, exc.message)
        return None
    if enabled is not False:
        return None
    text = f"{store.url}: {UNVERSIONED_RISK}"
    log.warning("%s", text)
    return text


@dataclass(frozen=True)
class BackupStatus:
    """What `status` found: a verdict, its exit code, and the facts behind it."""

    url: str
    verdict: str
    reason: str
    #: the failure kind of a verdict other than healthy: `not-found`, `integrity`, `store`, `stale`, ...
    code: str | None
    exit_code: int
    checked_at: datetime
    #: whether this status downloaded and checked the bytes (False: `--no-read`, metadata only)
    read: bool
    max_age: float
    info: ObjectInfo | None = None
    kind: str | None = None
    last_backup: datetime | None = None
    #: where `last_backup` comes from: `record` (the backup record), `exported_at` or `last_modified`
    last_backup_source: str | None = None
    #: the backup record, when it vouches for this object (or there is no object)
    record: BackupRecord | None = None
    verified_at: datetime | None = None
    #: `status` (this run read the bytes) or `backup` (the record's read-back)
    verified_by: str | None = None
    versioning: bool | None = None
    versions: int | None = None
    oldest_version: datetime | None = None
    #: the readiness check's last finding here (`verify_record.py`), whatever it was
    last_verify: VerifyRecord | None = None
    notes: tuple[str, ...] = ()

    @property
    def age(self) -> float | None:
        """Seconds since the last successful backup."""
        return None if self.last_backup is None else (self.checked_at - self.last_backup).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The machine form (`status --json`): the same facts as the human view."""
        info = self.info
        metadata = dict(info.metadata) if info else {}
        age = self.age
        return {
            "job": "status",
            "status": "ok" if self.verdict == HEALTHY else "fail",
            "verdict": self.verdict,
            "reason": self.reason,
            "code": self.code,
            "exit_code": self.exit_code,
            "object": self.url,
            "checked": "bytes" if self.read else "metadata",
            "checked_at": _iso(self.checked_at),
            "version_id": info.version_id if info else None,
            "kind": self.kind,
            "size": info.size if info else None,
            "sha256": metadata.get("sha256"),
            "controller": metadata.get("controller"),
            "controller_version": metadata.get("controller_version"),
            "exported_at": metadata.get("exported_at"),
            "last_modified": _iso(info.last_modified) if info else None,
            "last_backup": _iso(self.last_backup),
            "last_backup_source": self.last_backup_source,
            "last_backup_outcome": self.record.outcome if self.record else None,
            "last_backup_trigger": self.record.trigger if self.record else None,
            "age_seconds": None if age is None else int(age),
            "max_age_seconds": int(self.max_age) if self.max_age == int(self.max_age) else self.max_age,
            "verified_at": _iso(self.verified_at),
            "verified_by": self.verified_by,
            "versioning": self.versioning,
            "versions": self.versions,
            "oldest_version": _iso(self.oldest_version),
            "last_verify": self.last_verify.to_metadata() if self.last_verify else None,
            "notes": list(self.notes),
            "metadata": metadata,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def backup_status(
    store: ObjectStore,
    *,
    max_age: float = DEFAULT_MAX_AGE,
    read: bool = True,
    now: datetime | None = None,
    beside: Callable[[str], ObjectStore] | None = None,
) -> BackupStatus:
    """Judge the stored backup: missing, unreadable, stale, unversioned or healthy, and why.

    By default the bytes are downloaded and checked as a restore would check them (hash, size,
    structure), so a corrupted object can never read as healthy; `read=False` judges the metadata
    alone. `beside(suffix)` opens the records kept beside the backup (the backup's and the
    readiness check's), where they need other credentials than `open_store` finds (a copy's).
    The last successful backup is the backup record's time when the record vouches for these bytes
    (an unchanged configuration writes no new version, so the object's own age no longer tells),
    else the object's `exported_at`.
    """
    checked_at = now or datetime.now(UTC)
    notes: list[str] = []
    info, kind, problem = _look(store, read)
    beside = beside or (lambda suffix: open_store(store.url + suffix))
    record = _record(beside(RECORD_SUFFIX), info, notes)
    try:
        versioning = store.versioning()
    except BackupError as exc:
        versioning = None
        notes.append(f"whether the store keeps versions is unknown: {exc.message}")
    try:
        kept = store.versions()
    except BackupError as exc:
        kept = None
        notes.append(f"the versions could not be listed: {exc.message}")
    last_backup, source = _last_backup(info, record, notes)
    try:
        last_verify = read_verify_record(beside(VERIFY_SUFFIX))
    except BackupError as exc:
        last_verify = None
        notes.append(f"the readiness check's record could not be read: {exc.message}")
    verified_at, verified_by = (checked_at, "status") if read and problem is None and info else (None, None)
    if verified_at is None and record is not None and info is not None:
        verified_at, verified_by = record.verified_at, "backup"
    base = BackupStatus(
        url=store.url,
        verdict=HEALTHY,
        reason="",
        code=None,
        exit_code=0,
        checked_at=checked_at,
        read=read,
        max_age=max_age,
        info=info,
        kind=kind,
        last_backup=last_backup,
        last_backup_source=source,
        record=record,
        verified_at=verified_at,
        verified_by=verified_by,
        versioning=versioning,
        versions=None if kept is None else len(kept),
        oldest_version=kept[-1].last_modified if kept else None,
        last_verify=last_verify,
        notes=tuple(notes),
    )
    age = base.age
    if problem is not None:
        integrity = isinstance(problem, (IntegrityError, InvalidExport))
        return replace(
            base,
            verdict=UNREADABLE,
            reason=f"it would not restore: {problem.message}",
            code=IntegrityError.code if integrity else problem.code,
            exit_code=IntegrityError.exit_code if integrity else problem.exit_code,
        )
    if info is None:
        reason = "no backup is stored there"
        if kept:
            earlier = "an earlier version" if len(kept) == 1 else f"{len(kept)} earlier versions"
            reason += f", but the store keeps {earlier} (see `controller-backup versions`)"
        return replace(
            base, verdict=MISSING, reason=reason, code=ObjectNotFound.code, exit_code=ObjectNotFound.exit_code
        )
    if age is not None and age > max_age:
        reason = (
            f"no successful backup in the last {in_words(max_age)} (--max-age); "
            f"the last one finished {in_words(age)} ago"
        )
        return replace(base, verdict=STALE, reason=reason, code=STALE, exit_code=STALE_EXIT)
    if versioning is False:
        return replace(
            base, verdict=UNVERSIONED, reason=UNVERSIONED_RISK, code=UNVERSIONED, exit_code=UNVERSIONED_EXIT
        )
    checked = "its bytes match their sha256" if read else "its bytes were not read (--no-read)"
    return replace(base, reason=f"the last backup finished {in_words(age or 0.0)} ago; {checked}")


def _look(store: ObjectStore, read: bool) -> tuple[ObjectInfo | None, str | None, BackupError | None]:
    """The newest object's info and kind, and why it would not restore (None: it would).

    With `read`, its bytes are fetched and checked; a failure still reports what the object
    claims to be, so the operator sees which version failed.
    """
    try:
        if read:
            with fetch_checked(store) as (_, info, summary):
                return info, summary.kind, None
        found = store.head()
        if found is not None:
            check_recorded(found)
        return found, stored_kind(found.metadata) if found else None, None
    except ObjectNotFound:
        return None, None, None
    except (StoreError, IntegrityError, InvalidExport) as exc:
        problem: BackupError = exc
    try:
        claimed = store.head()
    except StoreError:
        claimed = None
    return claimed, stored_kind(claimed.metadata) if claimed else None, problem


def _record(store: ObjectStore, info: ObjectInfo | None, notes: list[str]) -> BackupRecord | None:
    """The backup record in `store`, when it vouches for `info`'s bytes (or there is no object to
    vouch for)."""
    try:
        record = read_record(store)
    except BackupError as exc:
        notes.append(f"the backup record could not be read: {exc.message}")
        return None
    if record is None:
        return None
    if info is None:
        notes.append(
            f"the backup record says a backup finished at {_iso(record.finished_at)}, "
            "but the object it stored is gone"
        )
        return record
    if record.sha256 != info.metadata.get("sha256"):
        notes.append(
            f"the backup record (finished {_iso(record.finished_at)}) describes other bytes "
            f"(sha256 {record.sha256[:16]}), so the object's own time is used"
        )
        return None
    return record


def _last_backup(
    info: ObjectInfo | None, record: BackupRecord | None, notes: list[str]
) -> tuple[datetime | None, str | None]:
    """When the last successful backup finished, and which fact says so."""
    candidates: list[tuple[datetime, str]] = []
    if record is not None:
        candidates.append((record.finished_at, "record"))
    if info is not None:
        exported = info.metadata.get("exported_at", "")
        try:
            candidates.append((as_utc(datetime.fromisoformat(exported)), "exported_at"))
        except ValueError:  # absent (an object stored by hand), or damaged
            if exported:
                notes.append(
                    f"the object's exported_at ({exported[:40]!r}) is no time; its last change is used"
                )
            candidates.append((as_utc(info.last_modified), "last_modified"))
    if not candidates:
        return None, None
    return max(candidates, key=lambda candidate: candidate[0])


# -- versions ----------------------------------------------------------------------------------------

#: versions described by default: S3 reads each one's metadata with its own HEAD
DEFAULT_VERSIONS_LIMIT = 20


@dataclass(frozen=True)
class VersionEntry:
    """One kept version, for `controller-backup versions` (and then `restore --version-id`)."""

    info: ObjectInfo
    #: its sha256 equals the next older version's: an identical nightly copy
    unchanged: bool

    def to_dict(self) -> dict[str, Any]:
        metadata = self.info.metadata
        return {
            "version_id": self.info.version_id,
            "last_modified": _iso(self.info.last_modified),
            "size": self.info.size,
            "sha256": metadata.get("sha256"),
            "controller_version": metadata.get("controller_version"),
            "kind": stored_kind(metadata),
            "exported_at": metadata.get("exported_at"),
            "is_latest": self.info.is_latest,
            "unchanged": self.unchanged,
        }


def version_history(
    store: ObjectStore, limit: int = DEFAULT_VERSIONS_LIMIT
) -> tuple[list[VersionEntry], bool]:
    """The newest `limit` kept versions, newest first, each marked when it repeats the one before
    it; and whether older ones were left out.

    One more is read than shown, so the oldest shown can be compared too. No version at all is
    an `ObjectNotFound`, as for every other look at a missing backup.
    """
    infos = store.versions(limit=limit + 1)
    if not infos:
        raise ObjectNotFound(f"{store.url}: no backup stored yet")
    shown = infos[:limit]
    olders: list[ObjectInfo | None] = [*infos[1:], None][: len(shown)]
    entries = [
        VersionEntry(info, _same_bytes(info, older)) for info, older in zip(shown, olders, strict=True)
    ]
    return entries, len(infos) > limit


def _same_bytes(info: ObjectInfo, older: ObjectInfo | None) -> bool:
    sha256 = info.metadata.get("sha256")
    return bool(sha256) and older is not None and older.metadata.get("sha256") == sha256
