"""The restore job: read the stored backup, verify it, push it into a controller, verify the result.

Safe to run twice and never a surprise (DESIGN.md invariant 3): bytes whose hash does not match
are refused before the controller is touched; a controller that already holds configuration, or
runs another version, is refused unless the operator says otherwise; a dry run stops before any
change; and a finished restore is checked by exporting again and comparing hashes. An idempotency
key (an instance id) makes a repeated event a no-op once the restore is done.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from controller_backup.archive import inspect_archive
from controller_backup.controller import ControllerDriver, open_driver
from controller_backup.controller.client import Progress
from controller_backup.errors import (
    AuthError,
    BackupError,
    BadRequest,
    ControllerTimeout,
    IntegrityError,
    PreconditionFailed,
    RefusedError,
)
from controller_backup.inspection import check_backup_bytes
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.spool import HashingSink, HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore, open_store

log = logging.getLogger("controller_backup.restore")

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class RestoreOptions:
    """What the operator (or the event) asked for."""

    version_id: str | None = None
    dry_run: bool = False
    force: bool = False
    allow_version_mismatch: bool = False


def run_restore(
    settings: Settings,
    *,
    controller_url: str | None = None,
    private_ip: str | None = None,
    version_id: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    allow_version_mismatch: bool = False,
    idempotency_key: str | None = None,
    progress: Progress | None = None,
    store: ObjectStore | None = None,
    driver: ControllerDriver | None = None,
) -> JobResult:
    """Restore the stored backup into `controller_url` (default: the configured controller).

    `private_ip` is the replacement's address: a fresh controller logs in as admin with it as
    the password. `idempotency_key` names the replacement (its instance id).
    """
    started = time.monotonic()
    target = settings.for_controller(controller_url) if controller_url else settings
    options = RestoreOptions(version_id, dry_run, force, allow_version_mismatch)
    store = store or open_store(settings.backup_url, keep_versions=settings.keep_versions)
    marker = _Marker(settings.backup_url, idempotency_key) if idempotency_key else None
    log.info(
        "restore started from %s (version %s) into %s%s",
        store.url,
        version_id or "latest",
        target.controller_url,
        " (dry run)" if dry_run else "",
    )
    try:
        if marker and (done := marker.finished()):
            log.info("restore for %s already finished (%s); nothing to do", idempotency_key, done)
            return _already_done(target, store, started, done)
        result = _restore(
            target=target,
            store=store,
            driver=driver,
            private_ip=private_ip,
            options=options,
            marker=marker,
            progress=progress,
            started=started,
        )
    except BackupError as exc:
        log.error("restore failed [%s]: %s", exc.code, exc.message)
        raise
    log.info(
        "restore %s: %s (%d bytes, sha256 %s) into %s in %d ms",
        result.status,
        result.object,
        result.size,
        result.sha256,
        result.controller,
        result.duration_ms,
    )
    return result


def _restore(
    *,
    target: Settings,
    store: ObjectStore,
    driver: ControllerDriver | None,
    private_ip: str | None,
    options: RestoreOptions,
    marker: _Marker | None,
    progress: Progress | None,
    started: float,
) -> JobResult:
    with HashingSpool() as spool:
        info = store.download(spool.stream, options.version_id)
        spool.flush()
        check_backup_bytes(info, spool)
        inspect_archive(spool.stream, spool.size)
        driver = driver or _ready_driver(target, private_ip)
        backup_version = info.metadata.get("controller_version")
        controller_version = driver.version()
        set_up = driver.is_set_up()
        _check_target(options, backup_version, controller_version, set_up, marker)

        def result(status: str, **details: object) -> JobResult:
            return JobResult(
                job="restore",
                status=status,
                object=store.url,
                version_id=info.version_id,
                sha256=info.metadata["sha256"],
                size=info.size,
                controller_version=backup_version,
                duration_ms=int((time.monotonic() - started) * 1000),
                controller=target.controller_url,
                details={"target_version": controller_version, "target_was_set_up": set_up, **details},
            )

        if options.dry_run:
            return result("dry-run", would_import=True)
        if marker:
            marker.start(info)
        _import(driver, spool, target, progress)
        _verify_restored(driver, info.metadata["sha256"])
        if marker:
            marker.finish(info)
        return result("ok", verified=True)


def _ready_driver(target: Settings, private_ip: str | None) -> ControllerDriver:
    """A logged-in driver, after waiting (bounded) for the controller to come up.

    A replacement that was never set up only knows admin / its private IP; the configured
    password is tried first because a set-up controller must never be logged into otherwise.
    """
    driver = open_driver(target)
    try:
        driver.wait_until_ready(target.ready_timeout)
        return driver
    except AuthError:
        if not private_ip:
            raise
    log.info("configured credentials refused; trying a fresh controller's initial login")
    driver = open_driver(_initial_login(target), password=private_ip)
    driver.wait_until_ready(target.ready_timeout)
    return driver


def _initial_login(target: Settings) -> Settings:
    return dataclasses.replace(target, username="admin")


def _check_target(
    options: RestoreOptions,
    backup_version: str | None,
    controller_version: str,
    set_up: bool,
    marker: _Marker | None,
) -> None:
    if backup_version and backup_version != controller_version and not options.allow_version_mismatch:
        raise RefusedError(
            f"the backup is from version {backup_version}, the controller runs {controller_version}; "
            "bring the controller to the backup's version first (or allow the mismatch)"
        )
    resuming = marker is not None and marker.started
    if set_up and not options.force and not resuming:
        raise RefusedError(
            "the controller is already set up and may hold configuration; refusing to overwrite it "
            "(force to override)"
        )


def _import(
    driver: ControllerDriver, spool: HashingSpool, target: Settings, progress: Progress | None
) -> None:
    """Push the archive; a dropped connection means "maybe applied": wait, then let verify decide."""
    spool.rewind()
    try:
        driver.import_(spool.stream, spool.size, progress)
    except ControllerTimeout as exc:
        log.warning("import_config did not answer (%s); waiting for the controller, then verifying", exc)
        driver.wait_until_ready(target.ready_timeout)


def _verify_restored(driver: ControllerDriver, expected_sha256: str) -> None:
    check = HashingSink()
    driver.export(check.stream)
    if check.sha256 != expected_sha256:
        raise IntegrityError(
            "the restored controller's export does not match the backup "
            f"({check.size} bytes, sha256 {check.sha256[:12]}...)"
        )


def _already_done(target: Settings, store: ObjectStore, started: float, done: dict[str, str]) -> JobResult:
    return JobResult(
        job="restore",
        status="already-restored",
        object=store.url,
        version_id=done.get("version_id") or None,
        sha256=done.get("sha256", ""),
        size=int(done.get("size", "0")),
        controller_version=done.get("controller_version") or None,
        duration_ms=int((time.monotonic() - started) * 1000),
        controller=target.controller_url,
        details={"restored_at": done.get("done_at")},
    )


class _Marker:
    """A small object beside the backup recording a restore for one replacement.

    Written with conditional writes, so two copies of the same event cannot both restore: the
    first to write "started" wins, the other is refused; once "done", repeats are no-ops.
    """

    def __init__(self, backup_url: str, key: str) -> None:
        if not _KEY.match(key):
            raise BadRequest(f"idempotency key {key[:40]!r} must be letters, digits, '.', '_' or '-'")
        self.key = key
        self.store = open_store(f"{backup_url}.restores/{key}.json")
        self._info = self.store.head()
        self.started = bool(self._info and self._info.metadata.get("status") == "started")

    def finished(self) -> dict[str, str] | None:
        if self._info and self._info.metadata.get("status") == "done":
            return dict(self._info.metadata)
        return None

    def _write(self, status: str, info: ObjectInfo) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        metadata = {
            "status": status,
            "sha256": info.metadata.get("sha256", ""),
            "size": str(info.size),
            "version_id": info.version_id or "",
            "controller_version": info.metadata.get("controller_version", ""),
            f"{status}_at": now,
        }
        body = json.dumps({"key": self.key, **metadata}).encode()
        try:
            self._info = self.store.put(
                io.BytesIO(body),
                len(body),
                metadata,
                if_match=self._info.etag if self._info else None,
                if_absent=self._info is None,
            )
        except PreconditionFailed:
            raise RefusedError(f"another restore for {self.key} is running or finished") from None

    def start(self, info: ObjectInfo) -> None:
        self._write("started", info)

    def finish(self, info: ObjectInfo) -> None:
        self._write("done", info)
