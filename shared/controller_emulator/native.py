"""The controller's own (native) backup and restore, writing real files into real stores.

`enable_cloudn_backup_config` (with `now`), `get_`/`disable_cloudn_backup_config`,
`setup_account_profile` and `restore_cloudx_config` behave as docs/controller-api.md describes:
v2 names the account `acct_name` and rotation `multiple_bkup`, v1 `account_name` and `multiple`;
AWS, GCP and OCI take `bucket_name` (OCI also `region`), Azure `storage_name` + `container_name` +
`region`. Each call takes exactly the fields Aviatrix's own clients send for its cloud type and
refuses any other (a GCP key must come as a file part; an Azure restore names no account). A backup is
written by a background thread after `backup_delay` seconds, as `CloudN_<private-ip>_...` files,
through the project's stores: `s3://`, `gs://` or `azblob://` by cloud type (the SDKs find moto,
fake-gcs-server or Azurite through their usual environment variables), or, with `bucket_root`, a
local folder per bucket. The mapping is written here independently of the product's own
(`native_bucket.py`), so a parameter the driver gets wrong shows up as a failed test.

The store protocol has no delete, so rotated copies (`..._config_<timestamp>.enc`) pile up here
instead of being pruned to three.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller_backup.stores import SizedSource, open_store

from . import answers
from .answers import Answer, Drop
from .archive import InvalidArchive, validate_archive
from .faults import Faults
from .native_file import SealedFileError, seal, unseal
from .request import ApiRequest
from .state import ControllerState, strip_version

log = logging.getLogger("controller_emulator")

_AWS, _GCP, _OCI = {1, 256, 1024}, {4}, {16}
_AZURE = {8, 32, 2048}
#: what each cloud type's `setup_account_profile` takes, as Aviatrix's own clients send it: the
#: Terraform provider's form tags (goaviatrix/account.go), its multipart GCP and OCI calls, and the
#: AWS HA tool (`skip_sg_config`). Written here independently of the product's own table, so a
#: field the product gets wrong fails a test.
_ACCOUNT_FIELDS: dict[int, tuple[frozenset[str], frozenset[str]]] = {
    # cloud_type: (required fields, optional fields)
    1: (
        frozenset({"aws_account_number", "aws_iam", "aws_role_arn", "aws_role_ec2"}),
        frozenset({"skip_sg_config", "aws_gateway_role_app", "aws_gateway_role_ec2"}),
    ),
    256: (
        frozenset({"awsgov_account_number", "awsgov_iam", "awsgov_role_arn", "awsgov_role_ec2"}),
        frozenset(),
    ),
    1024: (
        frozenset({"aws_china_account_number", "aws_china_iam", "aws_china_role_arn", "aws_china_role_ec2"}),
        frozenset(),
    ),
    4: (frozenset({"gcloud_project_name"}), frozenset({"groups"})),
    16: (frozenset({"oci_tenancy_id", "oci_user_id", "oci_compartment_id"}), frozenset({"groups"})),
}
_ARM_PREFIX = {8: "arm_", 32: "azure_gov_", 2048: "arm_china_"}
_ARM_SUFFIXES = (
    "subscription_id",
    "application_endpoint",
    "application_client_id",
    "application_client_secret",
)
for _type, _prefix in _ARM_PREFIX.items():
    _ACCOUNT_FIELDS[_type] = (frozenset(_prefix + suffix for suffix in _ARM_SUFFIXES), frozenset())
#: the multipart file part a cloud type's account key must arrive in (never a form field)
_ACCOUNT_FILES = {4: "gcloud_project_credentials", 16: "oci_api_key"}
#: the `*_iam` flag that must say "true": this emulator models IAM-role accounts only
_IAM_FLAG = {1: "aws_iam", 256: "awsgov_iam", 1024: "aws_china_iam"}
#: account fields safe to keep in the configuration (the rest are secrets)
_PUBLIC_SUFFIXES = ("account_number", "role_arn", "subscription_id", "project_name")
_ALWAYS = frozenset({"CID", "action"})


class _Refused(Exception):
    """Internal: the request is answered `return: false` with this reason."""


def _family(cloud_type: int) -> str:
    if cloud_type in _AWS:
        return "aws"
    if cloud_type in _AZURE:
        return "azure"
    if cloud_type in _GCP:
        return "gcp"
    if cloud_type in _OCI:
        return "oci"
    raise _Refused(f"Invalid cloud_type: {cloud_type}")


def _required(params: dict[str, str], *names: str) -> list[str]:
    values = []
    for name in names:
        value = params.get(name, "").strip()
        if not value:
            raise _Refused(f"{name} is required")
        values.append(value)
    return values


def _only(params: dict[str, str], allowed: frozenset[str] | set[str]) -> None:
    """Refuse a parameter no official client sends with this call (a client bug, not a feature)."""
    unknown = sorted(set(params) - _ALWAYS - set(allowed))
    if unknown:
        raise _Refused(f"Unexpected parameter(s): {', '.join(unknown)}")


def _destination_fields(family: str) -> tuple[str, ...]:
    return ("storage_name", "container_name") if family == "azure" else ("bucket_name",)


class NativeBackups:
    """One controller's backup settings, its backup writer, and its restore."""

    def __init__(
        self,
        state: ControllerState,
        faults: Faults,
        *,
        spool_dir: str,
        bucket_root: str | None,
        backup_delay: float,
        restore_delay: float,
        restore_reboot: float,
        byol: bool = False,
    ) -> None:
        self.state = state
        self.faults = faults
        self.bucket_root = bucket_root
        self.backup_delay = backup_delay
        self.restore_delay = restore_delay
        self.restore_reboot = restore_reboot
        #: a BYOL controller: restoring its database needs the customer id first
        self.byol = byol
        self._spool_dir = spool_dir
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: the enabled backup destination, None while disabled
        self.config: dict[str, str] | None = None
        #: backups written so far, and the last writer failure (a class name, for tests)
        self.backups_written = 0
        self.last_error: str | None = None

    def actions(self) -> dict[str, Callable[[ApiRequest], Answer]]:
        return {
            "get_cloudn_backup_config": self._get,
            "enable_cloudn_backup_config": self._answer(self._enable),
            "disable_cloudn_backup_config": self._disable,
            "setup_account_profile": self._answer(self._setup_account),
            "restore_cloudx_config": self._answer(self._restore),
        }

    def _answer(self, action: Callable[[ApiRequest], Answer]) -> Callable[[ApiRequest], Answer]:
        def run(request: ApiRequest) -> Answer:
            try:
                return action(request)
            except _Refused as exc:
                return answers.fail(str(exc))

        return run

    # -- backup settings -----------------------------------------------------------------------

    def _get(self, _: ApiRequest) -> Answer:
        with self._lock:
            config = dict(self.config) if self.config else None
        if config is None:
            return answers.ok({"enabled": "no"})
        return answers.ok({"enabled": "yes", **config})

    def _enable(self, request: ApiRequest) -> Answer:
        """v2 names the account `acct_name` and rotation `multiple_bkup` (the Terraform provider);
        v1 `account_name` and `multiple` (the HA tools, which also send `now` and `region`)."""
        params = request.params
        v2 = request.endpoint == "v2"
        account_key, multiple_key = ("acct_name", "multiple_bkup") if v2 else ("account_name", "multiple")
        cloud_type = _cloud_type(params)
        family = _family(cloud_type)
        names = _destination_fields(family)
        _only(params, {"cloud_type", account_key, multiple_key, "region", "now", *names})
        (account,) = _required(params, account_key)
        if account not in self.state.account_names():
            raise _Refused(f"Account {account} does not exist")
        config = {"cloud_type": str(cloud_type), "acct_name": account}
        config.update(zip(names, _required(params, *names), strict=True))
        if family in ("azure", "oci"):
            (config["region"],) = _required(params, "region")
        elif params.get("region"):
            config["region"] = params["region"]
        config["multiple_bkup"] = "true" if params.get(multiple_key, "").lower() == "true" else "false"
        now = params.get("now", "").lower() == "true"
        with self._lock:
            was_enabled, self.config = self.config is not None, config
        if not was_enabled or (now and not self.faults.backup_ignores_now):
            self._start_backup(config)
        return answers.ok("Cloudn backup configuration is enabled")

    def _disable(self, _: ApiRequest) -> Answer:
        with self._lock:
            self.config = None
        return answers.ok("Cloudn backup configuration is disabled")

    # -- writing backups -----------------------------------------------------------------------

    def _start_backup(self, config: dict[str, str]) -> None:
        thread = threading.Thread(target=self._write_backup, args=(config,), daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _write_backup(self, config: dict[str, str]) -> None:
        time.sleep(self.backup_delay)  # a real controller takes its time to pack its database
        try:
            with self._write_lock:
                self._write_files(config)
                self.backups_written += 1
        except Exception as exc:
            self.last_error = type(exc).__name__
            log.warning("the emulated controller failed to write its backup: %r", exc, exc_info=True)

    def _write_files(self, config: dict[str, str]) -> None:
        ip, version = self.state.private_ip, self.state.version
        bucket = self.bucket_url(config)
        username, password = self.state.credentials()
        header = {
            "controller": self.state.name,
            "version": version,
            "private_ip": ip,
            "written_at": datetime.now(UTC).isoformat(),
            "admin": {"username": username, "password": password},
            "backup_config": config,
        }
        fd, path = tempfile.mkstemp(dir=self._spool_dir, prefix="native-", suffix=".enc")
        try:
            _, chunks = self.state.open_export()
            with os.fdopen(fd, "wb") as handle, contextlib.closing(chunks):
                size = seal(header, chunks, handle)
            names = [f"CloudN_{ip}_save_cloudx_config.enc"]
            if config.get("multiple_bkup") == "true":
                stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
                names.append(f"CloudN_{ip}_save_cloudx_config_{stamp}.enc")
            for name in names:
                with open(path, "rb") as source:  # some SDKs close what they upload
                    open_store(f"{bucket}/{name}").put(SizedSource(source, size), {})
            if self.faults.native_skips_version_file:
                return
            written = self.faults.native_version_text
            text = (version if written is None else written).encode()
            version_store = open_store(f"{bucket}/CloudN_{ip}_save_cloudx_version.txt")
            version_store.put(SizedSource.of(text), {})
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def bucket_url(self, config: dict[str, str]) -> str:
        """Where a destination lives: a cloud bucket by type, or a folder under `bucket_root`."""
        family = _family(int(config["cloud_type"]))
        if family == "azure":
            storage, container = config["storage_name"], config["container_name"]
            if self.bucket_root:
                return str(Path(self.bucket_root, storage, container))
            return f"azblob://{storage}/{container}"
        if self.bucket_root:
            return str(Path(self.bucket_root, config["bucket_name"]))
        return f"{'gs' if family == 'gcp' else 's3'}://{config['bucket_name']}"

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Let running backup writers finish (tests, and stopping the emulator)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    # -- accounts and restore ------------------------------------------------------------------

    def _setup_account(self, request: ApiRequest) -> Answer:
        params = request.params
        (name,) = _required(params, "account_name")
        cloud_type = _cloud_type(params)
        if cloud_type not in _ACCOUNT_FIELDS:
            raise _Refused(f"Invalid cloud_type: {cloud_type}")
        required, optional = _ACCOUNT_FIELDS[cloud_type]
        _only(params, {"account_name", "cloud_type", *required, *optional})
        values = dict(zip(sorted(required), _required(params, *sorted(required)), strict=True))
        flag = _IAM_FLAG.get(cloud_type)
        if flag and values[flag].lower() != "true":
            raise _Refused(f"{flag} must be true (IAM role-based account)")
        part = _ACCOUNT_FILES.get(cloud_type)
        if part is not None:
            key = request.files.get(part)
            if key is None or key.size == 0:
                raise _Refused(f"{part} is required (a file upload)")
        unexpected = sorted(set(request.files) - {part})
        if unexpected:
            raise _Refused(f"Unexpected file(s): {', '.join(unexpected)}")
        if name in self.state.account_names():
            raise _Refused(f"Account {name} already exists")
        record: dict[str, Any] = {"account_name": name, "cloud_type": cloud_type}
        record.update({key: value for key, value in values.items() if key.endswith(_PUBLIC_SUFFIXES)})
        self.state.add_account(record)
        return answers.ok(f"An account profile {name} has been created successfully")

    def _restore(self, request: ApiRequest) -> Answer:
        """AWS (the HA tools): `account_name`, `bucket_name`; Azure (its HA tool): the storage, the
        container and the service principal, and no account at all. The rest are inferred alike."""
        params = request.params
        cloud_type = _cloud_type(params)
        family = _family(cloud_type)
        names = _destination_fields(family)
        if family == "azure":
            credentials = tuple(_ARM_PREFIX[cloud_type] + suffix for suffix in _ARM_SUFFIXES)
            _only(params, {"cloud_type", "file_name", *names, *credentials})
            _required(params, *credentials)
        else:
            _only(params, {"cloud_type", "account_name", "file_name", *names})
            (account,) = _required(params, "account_name")
            if account not in self.state.account_names():
                raise _Refused(f"Account {account} does not exist")
        (file_name,) = _required(params, "file_name")
        config = {"cloud_type": str(cloud_type), **dict(zip(names, _required(params, *names), strict=True))}
        if "/" in file_name:
            raise _Refused("file_name must be a file name")
        if self.byol and self.state.customer_id is None:
            raise _Refused("DB restore failed: the customer ID is not set (setup_customer_id)")
        header, archive_path = self._unpack(f"{self.bucket_url(config)}/{file_name}")
        try:
            self._apply(header, archive_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(archive_path)
        if self.faults.restore_drop:
            return Drop()
        return answers.ok("Restore CloudN configuration successfully")

    def _unpack(self, url: str) -> tuple[dict[str, Any], str]:
        """Download and decrypt the backup file; the archive lands in a temp file (returned)."""
        store = open_store(url)
        if store.head() is None:
            raise _Refused(f"Backup file {url.rsplit('/', 1)[-1]} not found")
        fd, archive_path = tempfile.mkstemp(dir=self._spool_dir, prefix="restore-", suffix=".tar")
        try:
            with tempfile.TemporaryFile(dir=self._spool_dir) as sealed, os.fdopen(fd, "wb") as out:
                info = store.download(sealed)
                sealed.seek(0)
                header = unseal(sealed, info.size, out)
        except SealedFileError as exc:
            os.unlink(archive_path)
            raise _Refused(f"Failed to decrypt the backup file: {exc}") from None
        except BaseException:
            os.unlink(archive_path)
            raise
        version = str(header.get("version", ""))
        if strip_version(version) != strip_version(self.state.version):
            os.unlink(archive_path)
            raise _Refused(f"Backup version {version} does not match the controller's {self.state.version}")
        return header, archive_path

    def _apply(self, header: dict[str, Any], archive_path: str) -> None:
        try:
            contents = validate_archive(archive_path)
        except InvalidArchive:
            raise _Refused("the backup file holds no valid configuration") from None
        time.sleep(self.restore_delay)  # a real restore takes minutes
        self.state.apply_import(archive_path, contents)
        admin = header.get("admin")
        if isinstance(admin, dict):
            self.state.adopt_credentials(str(admin.get("username")), str(admin.get("password")))
        backup_config = header.get("backup_config")
        with self._lock:
            self.config = dict(backup_config) if isinstance(backup_config, dict) else None
        # The restored database replaces every user and session; the services restart.
        self.state.forget_sessions()
        if self.restore_reboot > 0:
            self.faults.become_not_ready(self.restore_reboot)


def _cloud_type(params: dict[str, str]) -> int:
    (raw,) = _required(params, "cloud_type")
    if not raw.isdigit():
        raise _Refused(f"Invalid cloud_type: {raw}")
    return int(raw)
