"""The native driver: a real controller writes, and restores from, its own backup file in a bucket.

A real Aviatrix controller has no download action (REFERENCE.md). To back up, this driver asks
the controller for a backup now (`enable_cloudn_backup_config ... now=true`; on a controller that
ignores `now`, the seed's way: disable, then enable again), waits (bounded) until
`CloudN_<private-ip>_save_cloudx_config.enc` and its `version.txt` are newer than the trigger, and
reads the file through the project's ObjectStore. The backup job then checks and stores it like
any export, so both drivers end in the same single checked object.

To restore it follows Aviatrix's own HA tools: `initial_setup` to the backup's version (a dropped
connection means "check again"), log in again, create the access account under the old name, put
the stored bytes where the controller expects them, `restore_cloudx_config`, log in with the
restored credentials, verify. Every step checks the controller's state first, so re-running one
after a timeout is safe; all waits end by the restore's time limit (`RESTORE_TIME_LIMIT`), so a
Lambda stops cleanly and the next invocation resumes.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from controller_backup import __version__
from controller_backup.controller.client import ControllerClient, Progress
from controller_backup.controller.driver import ControllerApi, ExportInfo, parse_version
from controller_backup.controller.retry import Deadline, RetryPolicy
from controller_backup.errors import (
    AuthError,
    ControllerError,
    ControllerTimeout,
    IntegrityError,
    NotReadyError,
    RefusedError,
    SettingsError,
)
from controller_backup.native_bucket import AWS_FAMILY, AZURE_FAMILY, GCP, cloud_name
from controller_backup.redact import redact
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, ObjectStore, open_store

if TYPE_CHECKING:
    from controller_backup.controller import Connect

log = logging.getLogger("controller_backup.controller.native")

#: initial_setup (it may upgrade the controller) and restore_cloudx_config each get this long
LONG_CALL_TIMEOUT = 600.0
#: a controller that honours now=true has started writing within this share of the wait
NOW_GRACE_SHARE = 1 / 3
NOW_GRACE_MAX = 60.0
_VERSION_FILE_MAX = 1024
_ONE_TRY = 1
_ARN_PARTITION = {1: "aws", 256: "aws-us-gov", 1024: "aws-cn"}


def config_file_name(private_ip: str) -> str:
    """The encrypted backup a controller at `private_ip` writes."""
    return f"CloudN_{private_ip}_save_cloudx_config.enc"


def version_file_name(private_ip: str) -> str:
    """The version file written beside it (`UserConnect-7.1.1794`)."""
    return f"CloudN_{private_ip}_save_cloudx_version.txt"


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

    def fresh(self) -> bool:
        """Both files rewritten since the trigger."""
        now = (_identity(self.config.head()), _identity(self.version.head()))
        pairs = zip(now, self.before, strict=True)
        return all(after is not None and after != before for after, before in pairs)


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

    def export(self, dest: BinaryIO, progress: Progress | None = None) -> ExportInfo:
        wait = Deadline(min(self.settings.native_backup_wait, max(self.deadline.remaining(), 1.0)))
        watches = [_Watch.of(ip, self.bucket.file_url) for ip in self._backup_ips()]
        names = ", ".join(config_file_name(w.ip) for w in watches)
        self._check_destination()
        self._enable(now=True)
        grace = min(NOW_GRACE_MAX, wait.seconds * NOW_GRACE_SHARE)
        found = self._wait_for(watches, min(grace, wait.remaining()))
        if found is None:
            log.warning(
                "no new backup file within %.0f s of now=true; disabling and enabling the controller's "
                "backup (the older controllers' way to back up now)",
                grace,
            )
            self.client.call("disable_cloudn_backup_config")
            self._enable(now=True)
            found = self._wait_for(watches, wait.remaining())
        if found is None:
            raise ControllerTimeout(
                f"the controller wrote no new {names} into {self.bucket.url} within "
                f"{wait.seconds:.0f} s (NATIVE_BACKUP_WAIT); check its access account's rights on the bucket"
            )
        version = self._read_version(found.version)
        info = found.config.download(dest)
        size = _written(dest)
        if progress:
            progress(size)
        log.info("read the controller's backup %s (%d bytes, version %s)", found.config.url, size, version)
        return ExportInfo(
            size=size,
            declared_length=info.size,
            content_type="application/octet-stream",
            controller_version=version,
            metadata={
                "native_file": config_file_name(found.ip),
                "controller_private_ip": found.ip,
                "native_accounts": str(len(self._account_names())),
            },
        )

    def _backup_ips(self) -> list[str]:
        """The file names to watch: this controller's, or the configured and the last recorded IP.

        After a replacement was restored, the last stored backup records the new controller's
        IP while CONTROLLER_PRIVATE_IP may still name the old one: watching both keeps the daily
        backup working until the setting is updated.
        """
        if self.private_ip:
            return [self.private_ip]
        ips = [str(self.settings.controller_private_ip)]
        recorded = self.settings.backup_store().head()
        candidate = recorded.metadata.get("controller_private_ip", "") if recorded else ""
        if _is_ip(candidate) and candidate not in ips:
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
            raise RefusedError(
                f"the controller already backs up to cloud_type {their_type} {shown}, but NATIVE_BUCKET_URL "
                f"names {self.bucket.describe()}; refusing to re-point the controller's own backups "
                "(fix the settings, or change the controller's backup configuration)"
            )

    def _enable(self, *, now: bool) -> None:
        if not self.client.logged_in:
            self.client.login()
        v2 = self.client.api_version == "v2"
        params = {
            "cloud_type": str(self.bucket.cloud_type),
            "acct_name" if v2 else "account_name": self.account,
            "multiple_bkup" if v2 else "multiple": "true",
            **self.bucket.params,
        }
        if self.bucket.cloud_type in AZURE_FAMILY:
            params["region"] = str(self.settings.native_region)
        if now:
            params["now"] = "true"
        self.client.call("enable_cloudn_backup_config", params)

    def _wait_for(self, watches: list[_Watch], seconds: float) -> _Watch | None:
        clock = Deadline(max(seconds, 0.0))
        poll = min(5.0, max(0.05, self.settings.native_backup_wait / 60))
        while True:
            for watch in watches:
                if watch.fresh():
                    return watch
            if clock.expired():
                return None
            time.sleep(min(poll, clock.remaining()))

    def _read_version(self, store: ObjectStore) -> str:
        info = store.head()
        if info is None or info.size > _VERSION_FILE_MAX:
            raise ControllerError(f"{store.url}: the controller's version file is missing or too large")
        buffer = io.BytesIO()
        store.download(buffer)
        return parse_version(buffer.getvalue().decode("utf-8", "replace"))

    # -- restore -----------------------------------------------------------------------------

    def prepare_target(self, backup_version: str | None) -> None:
        """Set the controller up at the backup's version and give it the old access account."""
        if not self.is_set_up():
            self._initial_setup(backup_version)
        self._ensure_account()

    def _initial_setup(self, backup_version: str | None) -> None:
        params = {"subaction": "run"}
        if backup_version:
            params["target_version"] = backup_version
        log.info("running initial_setup%s", f" to version {backup_version}" if backup_version else "")
        once = self._one_shot(self._credentials, "initial_setup")
        once.wait_until_ready(self._remaining("initial_setup"))
        try:
            answer = once.call_envelope("initial_setup", params)
        except (ControllerTimeout, NotReadyError) as exc:
            # The controller restarts its services while it sets up: the drop means "maybe done".
            log.warning("initial_setup run got no answer (%s); checking whether it finished", exc.message)
        else:
            if not answer.get("return"):
                reason = redact(str(answer.get("reason", ""))) or "no reason given"
                raise ControllerError(f"initial_setup run failed: {reason}")
        self._wait_until_set_up()

    def _wait_until_set_up(self) -> None:
        """Check again (logging in again each time: sessions die with the restart) until done."""
        while True:
            self.client.wait_until_ready(self._remaining("initial_setup"))
            if self.is_set_up():
                log.info("initial_setup finished; logged in again")
                return
            if self.deadline.remaining() < 2.0:
                raise NotReadyError(
                    "initial_setup has not finished within the restore's time limit (RESTORE_TIME_LIMIT); "
                    "run the restore again to resume"
                )
            time.sleep(min(5.0, self.deadline.remaining() / 2))

    def _ensure_account(self) -> None:
        if self.account in self._account_names():
            log.info("access account %s exists", self.account)
            return
        log.info("creating access account %s (%s)", self.account, cloud_name(self.bucket.cloud_type))
        params = {
            "account_name": self.account,
            "cloud_type": str(self.bucket.cloud_type),
            **self._account_fields(),
        }
        self.client.call("setup_account_profile", params)

    def _account_fields(self) -> dict[str, str]:
        """The cloud's credentials for the access account; secrets come through references."""
        settings, cloud_type = self.settings, self.bucket.cloud_type
        if cloud_type in AWS_FAMILY:
            number = str(settings.native_aws_account_number)
            arn = f"arn:{_ARN_PARTITION[cloud_type]}:iam::{number}:role/"
            return {
                "aws_account_number": number,
                "aws_iam": "true",
                "aws_role_arn": settings.native_aws_role_app or arn + "aviatrix-role-app",
                "aws_role_ec2": settings.native_aws_role_ec2 or arn + "aviatrix-role-ec2",
            }
        if cloud_type in AZURE_FAMILY:
            return self._arm_fields()
        if cloud_type == GCP:
            return {
                "gcloud_project_id": str(settings.native_gcp_project_id),
                "gcloud_project_credentials": settings.native_secret("native_gcp_credentials_ref"),
            }
        raise SettingsError(
            f"this tool cannot create a {cloud_name(cloud_type)} access account: create "
            f"{self.account!r} on the controller, then run the restore again"
        )

    def _arm_fields(self) -> dict[str, str]:
        settings = self.settings
        return {
            "arm_subscription_id": str(settings.native_arm_subscription_id),
            "arm_application_endpoint": str(settings.native_arm_directory_id),
            "arm_application_client_id": str(settings.native_arm_client_id),
            "arm_application_client_secret": settings.native_secret("native_arm_client_secret_ref"),
        }

    def import_(self, source: BinaryIO, size: int, progress: Progress | None = None) -> None:
        """Write the stored bytes as the old controller's file, then have the controller restore it."""
        name = config_file_name(str(self.source_ip))
        store = open_store(self.bucket.file_url(name))
        log.info("placing the backup where the controller reads it: %s", store.url)
        store.put(source, size, {"written_by": f"controller-backup {__version__}"})
        if progress:
            progress(size)
        params = {
            "cloud_type": str(self.bucket.cloud_type),
            "account_name": self.account,
            "file_name": name,
            **self.bucket.params,
        }
        if self.bucket.cloud_type in AZURE_FAMILY:
            params.update(self._arm_fields())
        once = self._one_shot(self._credentials, "restore_cloudx_config")
        once.wait_until_ready(self._remaining("restore_cloudx_config"))
        try:
            answer = once.call_envelope("restore_cloudx_config", params)
        except (ControllerTimeout, NotReadyError) as exc:
            log.warning("restore_cloudx_config got no answer (%s); the verification decides", exc.message)
        else:
            if not answer.get("return"):
                reason = redact(str(answer.get("reason", ""))) or "no reason given"
                raise ControllerError(f"restore_cloudx_config failed: {reason}")
        self._log_in_after_restore()

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
        if expected and version != expected:
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


def _written(dest: BinaryIO) -> int:
    """Bytes in `dest`: spools and sinks count what they received; plain files know their end."""
    size = getattr(dest, "size", None)
    return size if isinstance(size, int) else dest.tell()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
