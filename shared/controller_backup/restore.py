"""The restore job: read the stored backup, verify it, push it into a controller, verify the result.

Safe to run twice and never a surprise (docs/design.md, invariant 3): bytes whose hash does not
match are refused before the controller is touched, and so is a backup older than
RESTORE_MAX_BACKUP_AGE; a controller that already holds configuration, or runs another version,
is refused unless the operator lifts that one rule (`overwrite_configured`, `allow_old_backup`,
`allow_version_mismatch`; an older controller is upgraded by a driver that can); a dry run stops
before any change. Then the driver's steps run in order, `prepare_target` (native:
the customer id, initial_setup, an upgrade to the backup's version, the access account),
`import_`, `verify_restored` (export: re-export and compare hashes; native: the controller's own
report), and in native mode a fresh backup through the backup job's checked path. With an
idempotency key (the replacement's instance id) each finished step is recorded beside the
backup, so a repeated event is a no-op once done and an interrupted one resumes.
Every wait ends by RESTORE_TIME_LIMIT, so a function stops before its platform kills it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime

from controller_backup.backup import store_export
from controller_backup.backup_record import RECORD_SUFFIX, confirmed_at
from controller_backup.controller import ControllerDriver, open_driver
from controller_backup.controller.driver import Journal, MemoryJournal
from controller_backup.controller.retry import Deadline
from controller_backup.controller.version import ControllerVersion, parse_version
from controller_backup.copies import Copier
from controller_backup.destinations import chosen_destination, open_destination
from controller_backup.durations import as_utc, in_words
from controller_backup.errors import (
    FAILURE_RECORD,
    AuthError,
    BackupError,
    BadRequest,
    Conflict,
    ControllerTimeout,
    IntegrityError,
    RefusedError,
)
from controller_backup.job_requests import RestoreOptions, RestoreRequest
from controller_backup.progress import transfer
from controller_backup.restore_marker import STEPS, RestoreMarker
from controller_backup.restore_source import Source, fetch_source
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore, SizedSource
from controller_backup.targets import Describe, Target, configured_target, resolve_target

log = logging.getLogger("controller_backup.restore")


def run_restore(
    settings: Settings,
    *,
    target: Target | None = None,
    version_id: str | None = None,
    dry_run: bool = False,
    overwrite_configured: bool = False,
    allow_old_backup: bool = False,
    allow_version_mismatch: bool = False,
    allow_shrink: bool = False,
    idempotency_key: str | None = None,
    source: str | None = None,
    store: ObjectStore | None = None,
    driver: ControllerDriver | None = None,
) -> JobResult:
    """Restore the stored backup into `target` (default: the configured controller).

    `source` reads one configured destination (the primary or a copy); without it a primary that
    is missing, unreachable or fails its checks gives way to the newest copy that verifies.

    `target` was vetted by `controller_backup.targets`: it says why it may be reached and, for a
    replacement, its private IP (a fresh controller's admin password). `idempotency_key` makes a
    caller's request safe to repeat; a discovered replacement is keyed by its instance id.
    """
    started = time.monotonic()
    deadline = Deadline(settings.restore_time_limit)
    target = target or configured_target(settings)
    target_settings = settings if target.is_configured else settings.for_controller(target.url)
    options = RestoreOptions(
        version_id=version_id,
        dry_run=dry_run,
        overwrite_configured=overwrite_configured,
        allow_old_backup=allow_old_backup,
        allow_version_mismatch=allow_version_mismatch,
        allow_shrink=allow_shrink,
        source=chosen_destination(settings, source) if source is not None else None,
    )
    store = store or settings.backup_store()
    key = target.marker_key(idempotency_key)
    log.info(
        "restore started from %s (version %s) into %s (%s)%s",
        store.url,
        version_id or "latest",
        target.url,
        target.origin,
        " (dry run)" if dry_run else "",
    )
    try:
        marker = RestoreMarker(settings, key, target.url) if key else None
        if marker:
            marker.check_claim(version_id)
            if done := marker.finished():
                log.info("restore for %s already finished (%s); nothing to do", key, done.get("done_at"))
                return _already_done(target, store, started, done)
        result = _restore(
            target=target,
            target_settings=target_settings,
            store=store,
            driver=driver,
            options=options,
            marker=marker,
            started=started,
            deadline=deadline,
        )
    except BackupError as exc:
        log.error("restore failed [%s]: %s", exc.code, exc.message, extra={FAILURE_RECORD: exc.code})
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


def run_restore_request(settings: Settings, request: RestoreRequest, describe: Describe | None) -> JobResult:
    """A function's restore: the request's target, vetted, then the restore."""
    return run_restore(
        settings,
        target=resolve_target(settings, request, describe),
        idempotency_key=request.idempotency_key,
        **dataclasses.asdict(request.options),
    )


def _restore(
    *,
    target: Target,
    target_settings: Settings,
    store: ObjectStore,
    driver: ControllerDriver | None,
    options: RestoreOptions,
    marker: RestoreMarker | None,
    started: float,
    deadline: Deadline,
) -> JobResult:
    resuming = marker is not None and marker.started
    chosen = _resumed_source(marker, options.source) if marker and resuming else options.source
    version_id = options.version_id or (marker.version_id if marker else None)
    with fetch_source(target_settings, store, chosen, version_id) as source:
        spool, info = source.spool, source.info
        if marker:
            marker.source = source.url
        if marker and resuming:
            log.info("resuming the restore for %s after step %s", marker.key, marker.step)
            marker.check_same_backup(info)
        else:
            _check_age(
                info,
                _confirmed_at(target_settings, source),
                target_settings.restore_max_backup_age,
                options.allow_old_backup,
            )
        driver = driver or _ready_driver(target, target_settings, info, marker, deadline)
        recorded = info.metadata.get("controller_version")
        backup_version = parse_version(recorded) if recorded else None
        set_up = driver.is_set_up()
        # A blank controller answers list_version_info only once it is set up (7.2 and later):
        # a driver that sets targets up reads the version afterwards, in prepare_target.
        controller_version = driver.version() if set_up or not driver.sets_up_target else None
        if set_up and not options.overwrite_configured and not resuming:
            raise RefusedError(
                "the controller is already set up and may hold configuration; refusing to overwrite it",
                override="overwrite_configured",
            )
        _check_version(options, backup_version, controller_version, upgradable=driver.sets_up_target)

        def result(status: str, **details: object) -> JobResult:
            return JobResult(
                job="restore",
                status=status,
                object=source.url,
                version_id=info.version_id,
                sha256=info.metadata["sha256"],
                size=info.size,
                controller_version=recorded,
                duration_ms=int((time.monotonic() - started) * 1000),
                controller=target.url,
                details={
                    "target_origin": target.origin,
                    "target_version": str(controller_version) if controller_version else None,
                    "target_was_set_up": set_up,
                    "source": source.url,
                    **details,
                },
            )

        if options.dry_run:
            return result("dry-run", would_import=True)
        resumed_from = marker.step if marker and resuming else None
        if marker:
            marker.start(info)
        journal = marker.journal(info) if marker else MemoryJournal(STEPS)
        details = _run_steps(
            driver,
            journal,
            spool,
            info,
            backup_version=backup_version,
            options=options,
            target=target_settings,
            deadline=deadline,
        )
    details["verified"] = True
    if resumed_from:
        details["resumed_from"] = resumed_from
    if driver.backs_up_after_restore:
        details["fresh_backup"] = _fresh_backup(driver, target_settings, store, options).to_dict()
    if marker:
        marker.finish(info)
    return result("ok", **details)


def _run_steps(
    driver: ControllerDriver,
    journal: Journal,
    spool: HashingSpool,
    info: ObjectInfo,
    *,
    backup_version: ControllerVersion | None,
    options: RestoreOptions,
    target: Settings,
    deadline: Deadline,
) -> dict[str, object]:
    """prepare -> import -> verify, each skipped when the journal says it is done."""
    details: dict[str, object] = {}
    if not journal.passed("prepared"):
        driver.prepare_target(backup_version, journal)
        if driver.sets_up_target:
            _check_version(options, backup_version, driver.version(), upgradable=False)
        journal.record("prepared")
    if not journal.passed("imported"):
        journal.record("import_sent")
        details.update(_import(driver, spool, info, target, deadline))
        journal.record("imported")
    if not journal.passed("verified"):
        try:
            driver.verify_restored(info)
        except IntegrityError:
            journal.record("prepared")  # a retry imports again rather than re-verifying
            raise
        journal.record("verified")
    return details


def _fresh_backup(
    driver: ControllerDriver, target: Settings, store: ObjectStore, options: RestoreOptions
) -> JobResult:
    """The restored controller backs itself up (its file name follows its own IP) and that backup
    replaces the stored object through the backup job's checks: proof that it can back up."""
    log.info("restore verified; taking a fresh backup of the restored controller")
    started = time.monotonic()
    copier = Copier(target, "restore")  # into the primary (whichever destination was read) and the copies
    return copier.apply(
        store_export(
            settings=target,
            store=store,
            driver=driver,
            allow_shrink=options.allow_shrink,
            started=started,
            after_stored=copier,
        )
    )


def _ready_driver(
    target: Target,
    settings: Settings,
    backup: ObjectInfo,
    marker: RestoreMarker | None,
    deadline: Deadline,
) -> ControllerDriver:
    """A logged-in driver, after waiting (bounded) for the controller to come up.

    The configured password goes only where it belongs (docs/design.md, invariant 9): to the
    configured controller, or to a target this restore already imported our backup into (its
    users are the backed-up controller's now). There it is tried first, because a set-up
    controller must never be logged into otherwise; every other target is a blank replacement,
    logged into as admin with its private IP and nothing else.
    """
    source_ip = backup.metadata.get("controller_private_ip") or None
    private_ip = target.private_ip
    ours = target.is_configured or (marker is not None and marker.sent_backup())
    if ours:
        driver = open_driver(settings, private_ip=private_ip, source_ip=source_ip)
        try:
            driver.wait_until_ready(min(settings.ready_timeout, deadline.remaining()))
            return driver
        except AuthError as exc:
            if not private_ip:
                raise AuthError(
                    f"{exc.message}; if {target.url} is a fresh replacement, its admin password is its "
                    f"private IP: {_PRIVATE_IP_OPTION}"
                ) from None
        log.info("configured credentials refused; trying a fresh controller's initial login")
    elif not private_ip:
        raise BadRequest(
            f"{target.url} is not the configured controller: a restore logs in to it as a fresh "
            f"replacement (admin and its private IP), so its private IP is required: {_PRIVATE_IP_OPTION}"
        )
    driver = open_driver(
        settings, username="admin", password=private_ip, private_ip=private_ip, source_ip=source_ip
    )
    try:
        driver.wait_until_ready(min(settings.ready_timeout, deadline.remaining()))
    except AuthError as exc:
        raise AuthError(
            f"{exc.message}; a fresh replacement's admin password is its private IP: is the private IP "
            f"given {target.url}'s, and has nothing set it up yet?"
        ) from None
    return driver


#: how an operator or a caller names a replacement's private IP (its first password)
_PRIVATE_IP_OPTION = "name it with --private-ip (private_ip in a request)"


def _resumed_source(marker: RestoreMarker, asked: str | None) -> str | None:
    """An interrupted restore goes on from the destination it started with (a marker from before
    copies names none: the usual choice then, its sha256 still checked); asking for another is a
    Conflict, as for another version."""
    recorded = marker.source or None
    if asked is not None and recorded is not None and asked != recorded:
        raise Conflict(
            f"the unfinished restore for {marker.key} reads another destination; use another key to "
            "restore from this one"
        )
    return recorded or asked


def _confirmed_at(settings: Settings, source: Source) -> datetime | None:
    """When the last backup found the configuration still equal to these bytes (unchanged nights),
    by the record beside the destination they came from."""
    return confirmed_at(open_destination(settings, source.url, RECORD_SUFFIX), source.info)


def _check_age(info: ObjectInfo, confirmed: datetime | None, max_age: float, allow_old_backup: bool) -> None:
    """Aviatrix's own HA restore refuses backups over 3 days old: a stale network comes back.

    The age is that of the last backup that found the configuration equal to these bytes
    (`confirmed`), else the export's own time.
    """
    exported = info.metadata.get("exported_at")
    try:
        when = datetime.fromisoformat(exported) if exported else info.last_modified
    except ValueError:
        when = info.last_modified
    when = as_utc(when)
    if confirmed is not None and confirmed > when:
        when = confirmed
    age = (datetime.now(UTC) - when).total_seconds()
    if age <= max_age:
        return
    message = (
        f"the backup is {in_words(age)} old, older than RESTORE_MAX_BACKUP_AGE ({in_words(max_age)}): "
        "restoring it would bring back a stale network"
    )
    if not allow_old_backup:
        raise RefusedError(message, override="allow_old_backup")
    log.warning("%s; restoring it as allowed (allow_old_backup)", message)


def _check_version(
    options: RestoreOptions,
    backup: ControllerVersion | None,
    target: ControllerVersion | None,
    *,
    upgradable: bool,
) -> None:
    """Same version: go on. Older target: go on if the driver upgrades it. Anything else: refuse,
    unless the operator allowed the mismatch (docs/controller-api.md, "Versions")."""
    if backup is None or target is None:
        return
    order = target.compare(backup)
    if order == 0 or (order < 0 and upgradable):
        return
    if options.allow_version_mismatch:
        log.warning("the backup is from %s, the controller runs %s; restoring as allowed", backup, target)
        return
    how = (
        "upgrade it to the backup's version first"
        if order < 0
        else "use a replacement of the backup's version"
    )
    raise RefusedError(
        f"the backup is from version {backup}, the controller runs {'an older' if order < 0 else 'a newer'} "
        f"{target}; {how}",
        override="allow_version_mismatch",
    )


def _import(
    driver: ControllerDriver,
    spool: HashingSpool,
    info: ObjectInfo,
    target: Settings,
    deadline: Deadline,
) -> dict[str, str]:
    """Push the verified bytes, with the info they were verified against; a dropped connection
    means "maybe applied": wait, then let verify decide."""
    spool.rewind()
    try:
        with transfer("import", spool.size) as progress:
            return driver.import_(SizedSource(spool.stream, spool.size), info, progress)
    except ControllerTimeout as exc:
        log.warning("the import did not answer (%s); waiting for the controller, then verifying", exc)
        driver.wait_until_ready(min(target.ready_timeout, deadline.remaining()))
        return {}


def _already_done(target: Target, store: ObjectStore, started: float, done: dict[str, str]) -> JobResult:
    return JobResult(
        job="restore",
        status="already-restored",
        object=store.url,
        version_id=done.get("version_id") or None,
        sha256=done.get("sha256", ""),
        size=int(done.get("size", "0")),
        controller_version=done.get("controller_version") or None,
        duration_ms=int((time.monotonic() - started) * 1000),
        controller=target.url,
        details={"target_origin": target.origin, "restored_at": done.get("done_at")},
    )
