"""The daily readiness check: would each destination's backup restore today?

A backup that rots in place (a tampered or truncated copy, a copy that stopped being written, a
controller whose own file went missing) is found the day it happens, not on the day of the
disaster. For each destination (the primary, then BACKUP_COPY_URLS when asked for all) this
downloads the stored backup once (`inspection.fetch_checked`: its sha256 and size against its
metadata, and its bytes walked as the kind it records: a whole archive in export mode, the
controller's own file with its version in native mode), checks its age against
RESTORE_MAX_BACKUP_AGE as a restore would, and in native mode checks that the controller's own
file and version file are still in NATIVE_BUCKET_URL and agree with our copy. One destination
failing never stops the others from being checked; each outcome is written beside its
destination (`verify_record.py`). Every failure is logged on its own ERROR line starting
`verify failed`, then the check raises `VerifyFailed` so the clouds' error alarms see it; a
passing check logs one INFO line starting `verify passed`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller_backup.archive import KIND_NATIVE
from controller_backup.backup_record import RECORD_SUFFIX, confirmed_at, current_as_of
from controller_backup.controller.native import config_file_name, read_version_file, version_file_name
from controller_backup.controller.version import ControllerVersion, parse_version
from controller_backup.destinations import destinations, open_destination
from controller_backup.durations import in_words
from controller_backup.errors import (
    FAILURE_RECORD,
    BackupError,
    ControllerError,
    IntegrityError,
    InvalidExport,
    ObjectNotFound,
    StaleBackup,
    VerifyFailed,
)
from controller_backup.inspection import fetch_checked
from controller_backup.native_bucket import NativeBucket
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.spool import HashingSink
from controller_backup.stores import ObjectInfo, ObjectStore, open_store
from controller_backup.verify_record import FAILED, PASSED, VERIFY_SUFFIX, VerifyRecord, write_verify_record

log = logging.getLogger("controller_backup.verify")

#: the controller's own file is the very bytes of our copy
SAME = "same"
#: the controller wrote a newer file since our copy was exported (its next backup stores it)
NEWER = "newer"


@dataclass
class DestinationCheck:
    """What the readiness check found at one destination."""

    url: str
    info: ObjectInfo | None = None
    kind: str | None = None
    age: float | None = None
    #: how the controller's own file compares with this copy (native mode): SAME or NEWER
    controller_file: str | None = None
    error: BackupError | None = None
    record_error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None

    @property
    def reason(self) -> str | None:
        """Why it failed, without the URL a store's message often starts with (the line names it)."""
        return self.error.message.removeprefix(f"{self.url}: ") if self.error else None

    def to_dict(self) -> dict[str, Any]:
        info = self.info
        found: dict[str, Any] = {
            "url": self.url,
            "status": "ok" if self.passed else "failed",
            "version_id": info.version_id if info else None,
            "sha256": info.metadata.get("sha256") if info else None,
            "size": info.size if info else None,
            "kind": self.kind,
            "age_seconds": None if self.age is None else int(self.age),
            "controller_file": self.controller_file,
        }
        if self.error is not None:
            found["error"] = {"code": self.code, "message": self.reason}
        if self.record_error is not None:
            found["record_error"] = self.record_error
        return found


def run_verify(settings: Settings, *, all_destinations: bool = True, trigger: str = "manual") -> JobResult:
    """Check the primary (and with `all_destinations` every copy); raise VerifyFailed if any fails."""
    started = time.monotonic()
    now = datetime.now(UTC)
    urls = destinations(settings) if all_destinations else (settings.backup_url,)
    log.info("verify started (trigger=%s): %d destination(s)", trigger, len(urls))
    controller_files = _ControllerFiles(settings.native_bucket) if settings.mode == "native" else None
    # every store opened first: a missing SDK or a misplaced option is the deployment's fault, at once
    stores = [open_destination(settings, url) for url in urls]
    checks = [
        _check(settings, url, store, now, controller_files) for url, store in zip(urls, stores, strict=True)
    ]
    for check in checks:
        check.record_error = write_verify_record(
            open_destination(settings, check.url, VERIFY_SUFFIX), _record(check, now, trigger)
        )
    result = _result(settings, checks, trigger, started)
    failed = [check for check in checks if check.error is not None]
    # the alarms match these lines (Terraform's log queries): keep their first words
    for check in failed:
        log.error(
            "verify failed [%s] %s: %s",
            check.code,
            check.url,
            check.reason,
            extra={FAILURE_RECORD: check.code},
        )
    if failed:
        reasons = "; ".join(f"{check.url} [{check.code}] {check.reason}" for check in failed)
        raise VerifyFailed(
            f"{len(failed)} of {len(checks)} destination(s) would not restore: {reasons}",
            failed=len(failed),
            result=result.to_dict(),
        )
    log.info(
        "verify passed: %d destination(s) hold a restorable backup (sha256 %s, version %s) in %d ms",
        len(checks),
        result.sha256,
        result.version_id,
        result.duration_ms,
    )
    return result


def _check(
    settings: Settings,
    url: str,
    store: ObjectStore,
    now: datetime,
    controller_files: _ControllerFiles | None,
) -> DestinationCheck:
    """One destination: download and check its bytes, its age and (native) the controller's file."""
    check = DestinationCheck(url)
    try:
        with fetch_checked(store) as (_, info, summary):
            check.info, check.kind = info, summary.kind
        confirmed = confirmed_at(open_destination(settings, url, RECORD_SUFFIX), info)
        check.age = (now - current_as_of(info, confirmed)).total_seconds()
        if check.age > settings.restore_max_backup_age:
            raise StaleBackup(
                f"the backup is {in_words(check.age)} old, older than RESTORE_MAX_BACKUP_AGE "
                f"({in_words(settings.restore_max_backup_age)}): a restore would refuse it"
            )
        if controller_files is not None:
            if summary.kind != KIND_NATIVE:
                raise InvalidExport(
                    f"the stored backup is a {summary.kind} export, but CONTROLLER_BACKUP_MODE is native: "
                    "the controller cannot restore it"
                )
            check.controller_file = controller_files.compare(info, settings.controller_private_ip)
    except BackupError as exc:
        check.error = exc
    return check


@dataclass
class _ControllerFiles:
    """The controller's own file and version file in its bucket, each read once per check."""

    bucket: NativeBucket
    _read: dict[str, tuple[ObjectInfo, str, ControllerVersion]] = field(default_factory=dict)

    def compare(self, ours: ObjectInfo, configured_ip: str | None) -> str:
        """SAME or NEWER, else raise: missing files, another version, or other bytes not newer than ours."""
        ip = ours.metadata.get("controller_private_ip") or str(configured_ip)
        name = ours.metadata.get("native_file") or config_file_name(ip)
        theirs, sha256, version = self._files(name, version_file_name(ip))
        if version != parse_version(ours.metadata["controller_version"]):
            raise IntegrityError(
                f"the controller's {version_file_name(ip)} in {self.bucket.url} says version {version}, "
                f"our copy is from {ours.metadata['controller_version']}: the controller changed version "
                "since (the next backup stores the new one)"
            )
        if theirs.size == ours.size and sha256 == ours.metadata.get("sha256"):
            return SAME
        if theirs.last_modified > current_as_of(ours, None):
            return NEWER
        raise IntegrityError(
            f"the controller's own {name} in {self.bucket.url} differs from our copy and is not newer "
            "than it: one of the two was altered"
        )

    def _files(self, name: str, version_name: str) -> tuple[ObjectInfo, str, ControllerVersion]:
        if name not in self._read:
            store = open_store(self.bucket.file_url(name))
            text = read_version_file(open_store(self.bucket.file_url(version_name)))
            if text is None:
                raise ObjectNotFound(f"the controller's {version_name} is missing from {self.bucket.url}")
            try:
                version = parse_version(text)
            except ControllerError:
                raise IntegrityError(
                    f"the controller's {version_name} in {self.bucket.url} holds no controller version"
                ) from None
            info, sha256 = _hashed(store)
            self._read[name] = (info, sha256, version)
        return self._read[name]


def _hashed(store: ObjectStore) -> tuple[ObjectInfo, str]:
    """The controller's file's info and sha256, hashed as it downloads: only compared, never kept."""
    with HashingSink() as sink:
        try:
            info = store.download(sink.stream)
        except ObjectNotFound:
            name = store.url.rsplit("/", 1)[-1]
            raise ObjectNotFound(f"the controller's own {name} is missing from its bucket") from None
        return info, sink.sha256


def _record(check: DestinationCheck, now: datetime, trigger: str) -> VerifyRecord:
    info = check.info
    return VerifyRecord(
        outcome=PASSED if check.passed else FAILED,
        verified_at=now,
        version_id=info.version_id if info else None,
        sha256=info.metadata.get("sha256") if info else None,
        size=info.size if info else None,
        error_code=check.code,
        error_message=check.reason,
        trigger=trigger,
    )


def _result(settings: Settings, checks: list[DestinationCheck], trigger: str, started: float) -> JobResult:
    """The check as one result: the primary's facts at the top, every destination in `destinations`."""
    primary = checks[0].info
    failed = sum(1 for check in checks if not check.passed)
    return JobResult(
        job="verify",
        status="failed" if failed else "ok",
        object=settings.backup_url,
        version_id=primary.version_id if primary else None,
        sha256=primary.metadata.get("sha256", "") if primary else "",
        size=primary.size if primary else 0,
        controller_version=primary.metadata.get("controller_version") if primary else None,
        duration_ms=int((time.monotonic() - started) * 1000),
        controller=settings.controller_url,
        details={
            "kind": checks[0].kind,
            "trigger": trigger,
            "failed": failed,
            "destinations": [check.to_dict() for check in checks],
        },
    )
