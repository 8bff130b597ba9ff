"""The native driver: a real controller writes, and restores from, its own backup file in a bucket.

A real Aviatrix controller has no download action (docs/controller-api.md). To back up, this
driver asks the controller for a backup now (`enable_cloudn_backup_config ... now=true`, in the v1
form Aviatrix's own HA tools send; on a controller that ignores `now`, the older way: disable, then
enable again), waits (bounded) until `CloudN_<private-ip>_save_cloudx_config.enc` and its
`version.txt` are newer than the trigger, and reads both through the project's ObjectStore. The
backup job then checks the pair (the version file must name the controller's version) and stores
the file like any export, so both drivers end in the same single checked object. A file the
controller wrote without rewriting its version file beside it is refused, never stored.

To restore it follows Aviatrix's own HA tools for the backup's release: the BYOL customer id
first (when configured), `initial_setup` (with `target_version` up to 7.1; from 7.2 the image pins
the version at launch and none is sent), log in again, upgrade a replacement that came up older
than the backup (`action=upgrade version=...`), create the access account (not on Azure, whose
restore carries its service principal), put the stored bytes where the controller expects them
(keeping any different file already there), `restore_cloudx_config`, log in with the restored
credentials, verify. Each step checks the controller's state or the restore's journal first, so
re-running one after a timeout is safe; all waits end by the restore's time limit
(`RESTORE_TIME_LIMIT`), so a function stops cleanly and the next invocation resumes.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO

from controller_backup import __version__
from controller_backup.addresses import is_ip
from controller_backup.archive import VERSION_FILE_MAX
from controller_backup.controller.client import ControllerClient
from controller_backup.controller.driver import ControllerApi, ExportInfo, Journal, NativePair
from controller_backup.controller.native_fields import (
    account_request,
    azure_credentials,
    restore_needs_account,
)
from controller_backup.controller.retry import Deadline, RetryPolicy
from controller_backup.controller.version import ControllerVersion, parse_version, pinned_at_launch
from controller_backup.errors import (
    AuthError,
    ControllerError,
    ControllerTimeout,
    IntegrityError,
    InvalidExport,
    NotReadyError,
    PreconditionFailed,
    SettingsError,
)
from controller_backup.native_bucket import AZURE_FAMILY, OCI, cloud_name
from controller_backup.progress import SILENT, Progress, waiting
from controller_backup.redact import redact
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import IfAbsent, ObjectInfo, ObjectStore, SizedSource, open_store, replacing

if TYPE_CHECKING:
    from controller_backup.controller import Connect

log = logging.getLogger("controller_backup.controller.native")

#: initial_setup, upgrade and restore_cloudx_config each get this long to answer
LONG_CALL_TIMEOUT = 600.0
#: an upgrade sent this long ago that has still not brought the version is taken as failed
UPGRADE_GIVE_UP = 3600.0
#: a controller that honours now=true has started writing within this share of the wait
NOW_GRACE_SHARE = 1 / 3
NOW_GRACE_MAX = 60.0
_ONE_TRY = 1


def config_file_name(private_ip: str) -> str:
    """The encrypted backup a controller at `private_ip` writes."""
    return f"CloudN_{private_ip}_save_cloudx_config.enc"


def version_file_name(private_ip: str) -> str:
    """The version file written beside it (`UserConnect-7.1.1794`, `8.0.1-1000.1000`, ...)."""
    return f"CloudN_{private_ip}_save_cloudx_version.txt"


def kept_file_name(name: str, when: datetime) -> str:
    """Where a controller's own file that a restore would overwrite is kept (no CloudN_ rotation
    name, so the controller never takes it for one of its copies)."""
    return f"{name}.kept-{when.strftime('%Y%m%dT%H%M%SZ')}"


def _identity(info: ObjectInfo | None) -> tuple[str, str | None, str] | None:
    """What changes whenever a file is rewritten, even with the same bytes (S3 etags are MD5s)."""
    if info is None:
        return None
    return info.etag, info.version_id, info.last_modified.isoformat()


@dataclass
class _Watch:
    """One candidate file pair and how it looked before the trigger."""

    ip: str
    config: ObjectStore
    version: ObjectStore
    before: tuple[object, object]

    @classmethod
    def of(cls, ip: str, file_url: Callable[[str], str]) -> _Watch:
        config = open_store(file_url(config_file_name(ip)))
        version = open_store(file_url(version_file_name(ip)))
        return cls(ip, config, version, (_identity(config.head()), _identity(version.head())))

    def rewritten(self) -> tuple[bool, bool]:
        """Whether the backup file, and its version file, were rewritten since the trigger."""
        now = (_identity(self.config.head()), _identity(self.version.head()))
        pairs = zip(now, self.before, strict=True)
        config, version = (after is not None and after != before for after, before in pairs)
        return config, version


class NativeDriver(ControllerApi):
    """The controller's own backup and restore, through its bucket."""

    sets_up_target = True
    backs_up_after_restore = True

    def __init__(
        self,
        connect: Connect,
        settings: Settings,
        *,
        username: str,
        password: str,
        private_ip: str | None = None,
        source_ip: str | None = None,
    ) -> None:
        if settings.native_account_name is None or settings.controller_private_ip is None:
            raise SettingsError(
                "invalid settings: native mode needs NATIVE_ACCOUNT_NAME and CONTROLLER_PRIVATE_IP"
            )
        self.settings = settings
        self.bucket = settings.native_bucket
        self.account = settings.native_account_name
        #: this controller's address (a replacement's is new); None: the configured one, or the
        #: one recorded by the last stored backup (a replacement restored earlier)
        self.private_ip = private_ip
        #: the address the backup's file was named after
        self.source_ip = source_ip or settings.controller_private_ip
        self.deadline = Deadline(settings.restore_time_limit)
        self._connect = connect
        self._credentials = (username, password)
        self.client = connect(username, password)

    # -- backup ------------------------------------------------------------------------------

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        """Have the controller write its file now, wait for it and its version file, read both."""
        wait = Deadline(min(self.settings.native_backup_wait, max(self.deadline.remaining(), 1.0)))
        watches = [_Watch.of(ip, self.bucket.file_url) for ip in self._backup_ips(stored)]
        names = ", ".join(config_file_name(w.ip) for w in watches)
        self._check_destination()
        self._enable_now()
        grace = min(NOW_GRACE_MAX, wait.seconds * NOW_GRACE_SHARE)
        found = self._wait_for(watches, min(grace, wait.remaining()))
        if found is None and any(watch.rewritten()[0] for watch in watches):
            found = self._wait_for(watches, wait.remaining())  # now=true worked: wait for the pair
        elif found is None:
            log.warning(
                "no new backup file within %.0f s of now=true; disabling and enabling the controller's "
                "backup (the older controllers' way to back up now)",
                grace,
            )
            self.client.call("disable_cloudn_backup_config")
            self._enable_now()
            found = self._wait_for(watches, wait.remaining())
        if found is None:
            half = next((watch for watch in watches if watch.rewritten()[0]), None)
            if half is not None:
                raise InvalidExport(
                    f"the controller wrote a new {config_file_name(half.ip)} but did not rewrite "
                    f"{version_file_name(half.ip)} beside it within {wait.seconds:.0f} s "
                    "(NATIVE_BACKUP_WAIT): a backup file without its version file is not stored"
                )
            raise ControllerTimeout(
                f"the controller wrote no new {names} into {self.bucket.url} within "
                f"{wait.seconds:.0f} s (NATIVE_BACKUP_WAIT); check its access account's rights on the bucket"
            )
        version_text = read_version_file(found.version)
        info = found.config.download(dest, progress=progress)
        size = _written(dest)
        log.info("read the controller's backup %s (%d bytes) and its version file", found.config.url, size)
        return ExportInfo(
            size=size,
            declared_length=info.size,
            content_type="application/octet-stream",
            controller_version=None,
            native=NativePair(version_text, version_file_name(found.ip)),
            metadata={
                "native_file": config_file_name(found.ip),
                "controller_private_ip": found.ip,
                "native_accounts": str(len(self._account_names())),
            },
        )

    def _backup_ips(self, stored: ObjectInfo | None) -> list[str]:
        """The file names to watch: this controller's, or the configured IP and the one `stored`
        (the backup the job read) records.

        After a replacement was restored, the last stored backup records the new controller's
        IP while CONTROLLER_PRIVATE_IP may still name the old one: watching both keeps the daily
        backup working until the setting is updated.
        """
        if self.private_ip:
            return [self.private_ip]
        ips = [str(self.settings.controller_private_ip)]
        candidate = stored.metadata.get("controller_private_ip", "") if stored else ""
        if is_ip(candidate) and candidate not in ips:
            ips.append(candidate)
        return ips

    def _check_destination(self) -> None:
        """Refuse to re-point a controller whose own backup already goes somewhere else."""
        answer = self.client.call_envelope("get_cloudn_backup_config", method="GET")
        results = answer.get("results") if answer.get("return") else None
        if not isinstance(results, dict) or str(results.get("enabled", "")).lower() not in ("yes", "true"):
            return
        theirs = {key: str(results.get(key) or "") for key in self.bucket.params}
        their_type = str(results.get("cloud_type") or self.bucket.cloud_type)
        if theirs != dict(self.bucket.params) or their_type != str(self.bucket.cloud_type):
            shown = ", ".join(f"{key}={value}" for key, value in theirs.items())
            raise SettingsError(
                f"the controller already backs up to cloud_type {their_type} {shown}, but NATIVE_BUCKET_URL "
                f"names {self.bucket.describe()}; refusing to re-point the controller's own backups "
                "(fix the settings, or change the controller's backup configuration)"
            )

    def _enable_now(self) -> None:
        """`enable_cloudn_backup_config ... now=true` in the v1 form Aviatrix's HA tools send.

        The v2 form (`acct_name`, `multiple_bkup`) is what the Terraform provider sends, and it
        never sends `now`; the two tools that back up now (the control-plane module and the
        Azure HA tool) use v1's `account_name` and `multiple`, with `region` where they have one.
        """
        if not self.client.logged_in:
            self.client.login()
        params = {
            "cloud_type": str(self.bucket.cloud_type),
            "account_name": self.account,
            **self.bucket.params,
            "multiple": "true",
            "now": "true",
        }
        if self.settings.native_region:
            params["region"] = self.settings.native_region
        self.client.call("enable_cloudn_backup_config", params, api="v1")

    def _wait_for(self, watches: list[_Watch], seconds: float) -> _Watch | None:
        """The first watch whose backup file and version file were both rewritten, within `seconds`."""
        clock = Deadline(max(seconds, 0.0))
        poll = min(5.0, max(0.05, self.settings.native_backup_wait / 60))
        names = " or ".join(config_file_name(watch.ip) for watch in watches)
        with waiting(f"the controller to write {names}", clock.seconds):
            while True:
                for watch in watches:
                    if all(watch.rewritten()):
                        return watch
                if clock.expired():
                    return None
                time.sleep(min(poll, clock.remaining()))

    # -- restore: preparing the target ---------------------------------------------------------

    def prepare_target(self, backup_version: ControllerVersion | None, journal: Journal) -> None:
        """Set the controller up for the backup's release, bring it to the backup's version, give it
        the access account the restore needs. A newer controller is left as it is: the restore job
        refuses it unless a mismatch was allowed."""
        if not self.is_set_up():
            self._send_customer_id(journal)
            self._initial_setup(backup_version)
        _advance(journal, "set_up")
        if backup_version is not None:
            self._reach_version(backup_version, journal)
        if restore_needs_account(self.bucket.cloud_type):
            self._ensure_account()

    def _send_customer_id(self, journal: Journal) -> None:
        """BYOL: the customer id goes in before set-up, or the restore of the database fails."""
        if self.settings.customer_id_ref is None or journal.passed("customer_id"):
            return
        customer_id = str(self.settings.customer_id())
        log.info("sending the BYOL customer id (setup_customer_id) before initial_setup")
        try:
            answer = self.client.call_envelope("setup_customer_id", {"customer_id": customer_id})
        except (ControllerTimeout, NotReadyError) as exc:
            log.warning("setup_customer_id got no answer (%s); going on as Aviatrix's tools do", exc.message)
        else:
            if not answer.get("return"):
                reason = redact(str(answer.get("reason", ""))) or "no reason given"
                raise ControllerError(
                    f"setup_customer_id failed: {reason}; without it the restore of a BYOL controller fails "
                    "(check CONTROLLER_CUSTOMER_ID)"
                )
        journal.record("customer_id")

    def _initial_setup(self, backup_version: ControllerVersion | None) -> None:
        """`initial_setup run` as the official flow for the backup's release sends it.

        Up to 7.1 Aviatrix's tools set a replacement up *to* the backup's version
        (`target_version`); from 7.2 the image pins its version at launch and the HA tool sends
        none (an older image is upgraded afterwards).
        """
        params = {"subaction": "run"}
        if backup_version is not None and not pinned_at_launch(backup_version):
            params["target_version"] = str(backup_version)
        log.info(
            "running initial_setup%s", f" to {params['target_version']}" if "target_version" in params else ""
        )
        # The controller restarts its services while it sets up: the drop means "maybe done".
        self._send_once(
            "initial_setup", params, failed="initial_setup run", on_drop="checking whether it finished"
        )
        self._wait_until(self.is_set_up, "initial_setup has not finished", "initial_setup to finish")
        log.info("initial_setup finished; logged in again")

    def _reach_version(self, backup_version: ControllerVersion, journal: Journal) -> None:
        """Upgrade a controller older than the backup to its version, once, waiting (bounded)."""
        current = self.version()
        if current.compare(backup_version) >= 0:
            if current == backup_version:
                _advance(journal, "upgraded")
            return
        if not journal.passed("upgrade_sent"):
            log.info("the controller runs %s, the backup is from %s: upgrading it", current, backup_version)
            self._send_once(
                "upgrade",
                {"version": str(backup_version)},
                failed=f"upgrade to {backup_version}",
                on_drop="waiting for the new version",
            )
            journal.record("upgrade_sent")
        else:
            sent = journal.seconds_since("upgrade_sent")
            if sent is not None and sent > UPGRADE_GIVE_UP:
                raise ControllerError(
                    f"the upgrade to {backup_version} sent {sent / 60:.0f} minutes ago has not brought the "
                    f"controller past {current}; upgrade it by hand, then run the restore again"
                )
            log.info(
                "resuming: waiting for the upgrade to %s (the controller runs %s)", backup_version, current
            )

        def upgraded() -> bool:
            return self.version().compare(backup_version) >= 0

        self._wait_until(
            upgraded, f"the upgrade to {backup_version} has not finished", f"the upgrade to {backup_version}"
        )
        journal.record("upgraded")

    def _wait_until(self, done: Callable[[], bool], what: str, goal: str) -> None:
        """Poll `done`, logging in again each time (sessions die with a restart), within the limit;
        `goal` says what is awaited, `what` what failed when the limit ends it."""
        with waiting(goal, self.deadline.remaining()):
            while True:
                self.client.wait_until_ready(self._remaining(what))
                if done():
                    return
                if self.deadline.remaining() < 2.0:
                    raise NotReadyError(
                        f"{what} within the restore's time limit (RESTORE_TIME_LIMIT); run the restore "
                        "again to resume"
                    )
                time.sleep(min(5.0, self.deadline.remaining() / 2))

    def _ensure_account(self) -> None:
        if self.account in self._account_names():
            log.info("access account %s exists", self.account)
            return
        if self.bucket.cloud_type == OCI:
            raise SettingsError(
                f"this tool cannot create an OCI access account: create {self.account!r} on the "
                "controller, then run the restore again"
            )
        log.info("creating access account %s (%s)", self.account, cloud_name(self.bucket.cloud_type))
        request = account_request(self.settings, self.bucket.cloud_type, self.account)
        if request.file_part is None:
            self.client.call("setup_account_profile", dict(request.fields))
            return
        content = request.file_content
        self.client.upload(
            "setup_account_profile",
            io.BytesIO(content),
            len(content),
            filename=str(request.file_name),
            field=request.file_part,
            params=request.fields,
        )

    # -- restore: the import -------------------------------------------------------------------

    def import_(self, source: SizedSource, backup: ObjectInfo, progress: Progress = SILENT) -> dict[str, str]:
        """Write the stored bytes as the old controller's file, then have the controller restore it."""
        name = config_file_name(str(self.source_ip))
        details = self._place_backup(name, source, backup, progress)
        params = {"cloud_type": str(self.bucket.cloud_type)}
        if restore_needs_account(self.bucket.cloud_type):
            params["account_name"] = self.account
        params.update(self.bucket.params)
        params["file_name"] = name
        if self.bucket.cloud_type in AZURE_FAMILY:
            params.update(azure_credentials(self.settings, self.bucket.cloud_type))
        self._send_once(
            "restore_cloudx_config",
            params,
            failed="restore_cloudx_config",
            on_drop="the verification decides",
        )
        self._log_in_after_restore()
        return details

    def _place_backup(
        self, name: str, source: SizedSource, backup: ObjectInfo, progress: Progress
    ) -> dict[str, str]:
        """Put our bytes at `name`, first copying aside a different file already there.

        That file is the controller's own (the old controller's last backup, or a newer one than
        ours): never destroyed, and the write is conditional on it, so a controller writing at the
        same moment is not clobbered either. It is compared with the hash the job verified our
        bytes against, so they are read once, as they are sent.
        """
        store = open_store(self.bucket.file_url(name))
        details: dict[str, str] = {}
        existing = store.head()
        if existing is not None:
            with HashingSpool() as theirs:
                info = store.download(theirs.stream)
                theirs.flush()
                if theirs.size == source.size and theirs.sha256 == backup.metadata["sha256"]:
                    log.info("%s already holds the backup (an earlier run placed it)", store.url)
                    progress.advance(source.size)
                    return details
                kept_url = self.bucket.file_url(kept_file_name(name, datetime.now(UTC)))
                theirs.rewind()
                open_store(kept_url).put(SizedSource(theirs.stream, theirs.size), {}, precondition=IfAbsent())
                log.warning("kept the controller's own %s (it differs from the backup) as %s", name, kept_url)
                details["kept_controller_file"] = kept_url
                existing = info
        log.info("placing the backup where the controller reads it: %s", store.url)
        try:
            store.put(
                source,
                {"written_by": f"controller-backup {__version__}"},
                precondition=replacing(existing),
                progress=progress,
            )
        except PreconditionFailed:
            raise ControllerError(
                f"{store.url} changed while the restore placed the backup (is the controller writing its "
                "own backup?); run the restore again"
            ) from None
        return details

    def _log_in_after_restore(self) -> None:
        """The restore brings back the old controller's users: log in as the configured user."""
        configured = (self.settings.username, self.settings.password())
        for credentials in dict.fromkeys([configured, self._credentials]):
            client = self._connect(*credentials)
            try:
                client.wait_until_ready(self._remaining("log in after the restore"))
            except AuthError:
                continue
            self.client, self._credentials = client, credentials
            log.info("logged in to the restored controller as %s", credentials[0])
            return
        raise AuthError(
            "after the restore the controller accepts neither the configured credentials nor its "
            "initial ones (is CONTROLLER_PASSWORD the backed-up controller's admin password?)"
        )

    def verify_restored(self, backup: ObjectInfo) -> None:
        """Set up, at the backup's version, holding the access account (and as many as before)."""
        problems = []
        if not self.is_set_up():
            problems.append("it reports that initial setup has not run")
        expected, version = backup.metadata.get("controller_version"), self.version()
        if expected and version != parse_version(expected):
            problems.append(f"it runs version {version}, the backup is from {expected}")
        names = self._account_names()
        if self.account not in names:
            problems.append(f"it has no access account {self.account!r}")
        recorded = backup.metadata.get("native_accounts", "")
        if recorded.isdigit() and len(names) != int(recorded):
            problems.append(f"it holds {len(names)} access accounts, the backed-up one held {recorded}")
        if problems:
            raise IntegrityError("the restored controller does not match the backup: " + "; ".join(problems))

    # -- plumbing ----------------------------------------------------------------------------

    def _account_names(self) -> list[str]:
        results = self.client.call("list_accounts", method="GET")
        accounts = results.get("account_list") if isinstance(results, dict) else results
        if not isinstance(accounts, list):
            raise ControllerError("list_accounts answered without an account list")
        return [str(item.get("account_name")) for item in accounts if isinstance(item, dict)]

    def _send_once(self, action: str, params: dict[str, str], *, failed: str, on_drop: str) -> None:
        """Send a long `action` once. A refusal is a ControllerError naming `failed`; a dropped
        answer (the controller restarts its services while it works) is only a warning that says
        what happens next (`on_drop`): the caller's own check decides whether the action took."""
        once = self._one_shot(self._credentials, action)
        once.wait_until_ready(self._remaining(action))
        try:
            answer = once.call_envelope(action, params)
        except (ControllerTimeout, NotReadyError) as exc:
            log.warning("%s got no answer (%s); %s", action, exc.message, on_drop)
            return
        if not answer.get("return"):
            reason = redact(str(answer.get("reason", ""))) or "no reason given"
            raise ControllerError(f"{failed} failed: {reason}")

    def _one_shot(self, credentials: tuple[str, str], step: str) -> ControllerClient:
        """A client that sends once: a long call must never be repeated behind our back."""
        timeout = min(LONG_CALL_TIMEOUT, self._remaining(step))
        retry = RetryPolicy(attempts=_ONE_TRY, deadline=timeout)
        return self._connect(*credentials, retry=retry, timeout=timeout)

    def _remaining(self, step: str) -> float:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise ControllerTimeout(
                f"{step}: the restore's time limit (RESTORE_TIME_LIMIT) is spent; run the restore "
                "again to resume where it stopped"
            )
        return remaining


def read_version_file(store: ObjectStore) -> str | None:
    """The version file's text (checked by the backup job), or None when it is gone again."""
    info = store.head()
    if info is None:
        return None
    if info.size > VERSION_FILE_MAX:
        name = store.url.rsplit("/", 1)[-1]
        raise InvalidExport(f"{name} is {info.size} bytes: too long for a version file")
    buffer = io.BytesIO()
    store.download(buffer)
    return buffer.getvalue().decode("utf-8", "replace")


def _advance(journal: Journal, step: str) -> None:
    """Record `step` unless a later one is recorded: a resumed run must not forget `upgrade_sent`."""
    if not journal.passed(step):
        journal.record(step)


def _written(dest: BinaryIO) -> int:
    """Bytes in `dest`: spools and sinks count what they received; plain files know their end."""
    size = getattr(dest, "size", None)
    return size if isinstance(size, int) else dest.tell()
