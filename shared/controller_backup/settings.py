"""One typed settings model, read from the environment and validated once.

Every cloud sets the same variable names. Validation collects every problem before failing, so an
operator fixes a deployment in one round instead of one variable at a time. The password stays a
reference until a job needs it; only then is the secret fetched (and cached per process).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller_backup.addresses import (
    Allowlist,
    parse_allowlist,
    parse_controller_url,
    parse_replacement_url,
    parse_tag,
)
from controller_backup.durations import DAY, parse_duration
from controller_backup.errors import SettingsError
from controller_backup.native_bucket import (
    AWS_FAMILY,
    AZURE_FAMILY,
    GCP,
    OCI,
    NativeBucket,
    cloud_name,
    parse_cloud_type,
    parse_native_bucket,
)
from controller_backup.secrets import REFERENCE_FORMS, is_reference, resolve_secret
from controller_backup.stores import ObjectRetention, ObjectStore, StoreOptions, open_store, store_kind

log = logging.getLogger("controller_backup.settings")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
MODES = ("native", "export")


@dataclass(frozen=True)
class Settings:
    """What a backup or restore needs; the README's configuration table names each variable."""

    #: CONTROLLER_URL; "" only in settings read without it for a restore whose target the
    #: operator named (`from_env(..., controller_required=False)`): no target is then configured
    controller_url: str
    backup_url: str
    password_ref: str
    username: str = "admin"
    ca_bundle: str | None = None
    #: the name the controller's certificate carries, when CONTROLLER_URL names it by an address
    #: the certificate does not list (its private IP)
    tls_server_name: str | None = None
    verify_tls: bool = True
    #: BACKUP_COPY_URLS: further destinations every backup also writes (another region, account
    #: or cloud, a local folder); the primary (`backup_url`) alone decides a backup's success
    copy_urls: tuple[str, ...] = ()
    #: BACKUP_COPY_CREDENTIALS: copy URL -> secret reference to the credentials it is written with
    #: (resolved only when that destination is opened); a copy without one uses the function's own
    copy_credentials: Mapping[str, str] = field(default_factory=dict)
    min_size_ratio: float = 0.5
    #: seconds for one HTTP call to the controller (connect and each read)
    request_timeout: float = 30.0
    #: seconds to wait for a booting controller before giving up
    ready_timeout: float = 600.0
    #: tries of one controller call on transient failures, and their total seconds
    retry_attempts: int = 5
    retry_seconds: float = 120.0
    #: versions the local store keeps (buckets keep theirs by their own lifecycle rules)
    keep_versions: int = 10
    #: S3 only: the KMS key for our own objects (never for the controller's native files)
    kms_key_id: str | None = None
    #: Cloud Storage only: every new generation of the backup retained this many days (Object
    #: Retention Lock), in this mode; S3 and Azure take their bucket's default retention instead
    retention_days: int | None = None
    retention_mode: str = "Unlocked"
    #: `native` (a real controller writes its own backup file into a bucket) or `export` (a
    #: controller, proxy or emulator that serves the export_config / import_config API)
    mode: str = "native"
    #: a restore refuses a backup older than this many seconds (unless allow_old_backup)
    restore_max_backup_age: float = 3 * DAY
    #: a restore stops (resumably) after this many seconds: below the function's own timeout
    restore_time_limit: float = 840.0
    # -- native mode (see README "Using it with a real controller") --------------------------
    #: the controller's private IP: its backup file is named after it
    controller_private_ip: str | None = None
    native_cloud_type: int | None = None
    #: the access account the controller uses for its bucket (created on a replacement)
    native_account_name: str | None = None
    #: the store URL of the bucket/container the controller writes its backup into
    native_bucket_url: str | None = None
    #: the bucket's region: required for Azure and OCI, sent with AWS's and GCP's when given
    native_region: str | None = None
    #: BYOL: a secret reference to the customer id a replacement gets before its set-up
    customer_id_ref: str | None = None
    # -- where a restore may go (docs/design.md, invariant 9) ---------------------------------
    #: plain http:// for a local emulator; warned about on every run
    allow_http: bool = False
    #: host names and CIDRs a caller's controller_url may name besides CONTROLLER_URL
    restore_allowed_targets: Allowlist = field(default_factory=Allowlist)
    #: how a replacement the cloud's API reports is called: a template or `controller_url`
    replacement_url: str = "https://{private_ip}"
    #: the tag (AWS, Azure) or label (GCP) a replacement carries
    replacement_tag: tuple[str, str] | None = None
    #: a glob its instance or VM name matches
    replacement_name_pattern: str | None = None
    #: seconds to wait for the controller's backup file after triggering it
    native_backup_wait: float = 300.0
    native_aws_account_number: str | None = None
    native_aws_role_app: str | None = None
    native_aws_role_ec2: str | None = None
    native_arm_subscription_id: str | None = None
    native_arm_directory_id: str | None = None
    native_arm_client_id: str | None = None
    native_arm_client_secret_ref: str | None = None
    native_gcp_project_id: str | None = None
    native_gcp_credentials_ref: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, controller_required: bool = True, **overrides: Any
    ) -> Settings:
        """Read and validate every setting; `overrides` (not None) win over the environment.

        `controller_required=False` is for a restore into a target the operator names: there
        CONTROLLER_URL may be missing, and then no controller is configured (the password then
        never goes anywhere but to a controller our backup was restored into).
        """
        source = dict(os.environ if env is None else env)
        for key, value in overrides.items():
            if value is not None:
                source[_ENV_NAMES[key]] = str(value)
        problems: list[str] = []
        values: dict[str, Any] = {}
        try:
            allow_http = _parse_bool(source.get("CONTROLLER_ALLOW_HTTP", "").strip() or "false")
        except ValueError:
            allow_http = False  # reported with the other problems below
        for field_name, (env_name, parse) in _PARSERS.items():
            raw = source.get(env_name, "").strip()
            if not raw:
                if field_name == "controller_url" and not controller_required:
                    values[field_name] = ""
                elif field_name in _REQUIRED:
                    problems.append(f"{env_name} is required")
                continue
            try:
                values[field_name] = (
                    parse(raw, allow_http=allow_http) if field_name in _URL_FIELDS else parse(raw)
                )
            except ValueError as exc:
                problems.append(f"{env_name}: {exc}")
        if values.get("mode", cls.mode) == "native":
            native = _native_problems(values)
            if native and "mode" not in values:
                native.append(
                    "native is the default mode; set CONTROLLER_BACKUP_MODE=export for a controller, proxy "
                    "or emulator that serves export_config"
                )
            problems += native
        if values.get("backup_url") in values.get("copy_urls", ()):
            problems.append("BACKUP_COPY_URLS: names BACKUP_URL itself; a copy must be another place")
        problems += _copy_credential_problems(values)
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        _warn_on_load(allow_http, values["password_ref"], from_flag=overrides.get("password_ref") is not None)
        return cls(**values)

    @classmethod
    def for_stores(cls, env: Mapping[str, str] | None = None, *, backup_url: str | None = None) -> Settings:
        """Only what opens the destinations (`status`, `versions`): no controller, no password."""
        source = {
            **(os.environ if env is None else env),
            **({"BACKUP_URL": backup_url} if backup_url else {}),
        }
        fields = ("backup_url", "copy_urls", "copy_credentials", "keep_versions", "kms_key_id")
        values: dict[str, Any] = {}
        problems = [] if source.get("BACKUP_URL", "").strip() else ["BACKUP_URL is required"]
        for name in fields:
            env_name, parse = _PARSERS[name]
            raw = source.get(env_name, "").strip()
            try:
                if raw:
                    values[name] = parse(raw)
            except ValueError as exc:
                problems.append(f"{env_name}: {exc}")
        problems += _copy_credential_problems(values)
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(controller_url="", password_ref="", **values)

    def for_controller(self, url: str) -> Settings:
        """The same settings aimed at another controller (a target the restore already vetted)."""
        return dataclasses.replace(self, controller_url=parse_controller_url(url, allow_http=self.allow_http))

    def password(self) -> str:
        """The controller password, fetched through its secret reference on first use."""
        return resolve_secret(self.password_ref)

    def backup_store(self, url: str | None = None) -> ObjectStore:
        """The store for our own objects: the backup (default) or one beside it (a marker).

        Our options apply only here, so a store opened on the controller's native bucket never
        carries our KMS key (the controller could not read what it wrote with it). A KMS key with
        a store other than S3 is a SettingsError, never silently dropped.
        """
        url = url or self.backup_url
        keep_versions = self.keep_versions if store_kind(url) == "local" else None
        retention = None  # the backup's own versions only, not the records and markers beside it
        if self.retention_days is not None and url == self.backup_url:
            retention = ObjectRetention(self.retention_days, self.retention_mode)
        options = StoreOptions(
            keep_versions=keep_versions, kms_key_id=self.kms_key_id, gcs_retention=retention
        )
        return open_store(url, options)

    @property
    def native_bucket(self) -> NativeBucket:
        """The controller's backup destination (native mode only; validated at load)."""
        if self.native_bucket_url is None or self.native_cloud_type is None:
            raise SettingsError("invalid settings: NATIVE_BUCKET_URL and NATIVE_CLOUD_TYPE are required")
        return parse_native_bucket(self.native_bucket_url, self.native_cloud_type)

    def native_secret(self, field_name: str) -> str:
        """A native-mode secret (`native_arm_client_secret_ref`, ...) resolved on first use."""
        reference = getattr(self, field_name)
        if not reference:
            raise SettingsError(f"invalid settings: {_ENV_NAMES[field_name]} is required")
        return resolve_secret(str(reference))

    def customer_id(self) -> str | None:
        """The BYOL customer id (CONTROLLER_CUSTOMER_ID), fetched through its reference; None if unset."""
        return resolve_secret(self.customer_id_ref) if self.customer_id_ref else None


def _warn_on_load(allow_http: bool, password_ref: str, *, from_flag: bool) -> None:
    """The settings that work but put the password at risk warn on every load, not once."""
    if allow_http:
        log.warning(
            "CONTROLLER_ALLOW_HTTP=true: http:// controllers are allowed, so the password and the "
            "configuration may cross the network in clear; use it only for a local emulator"
        )
    if not is_reference(password_ref):
        _warn_literal_password(from_flag=from_flag)


def _warn_literal_password(*, from_flag: bool) -> None:
    """Every load says so: a literal password is readable wherever the process's environment or
    command line is (the console, `ps`, a crash dump). The value itself is never logged."""
    where = "--password-ref" if from_flag else "CONTROLLER_PASSWORD"
    place = "on the command line" if from_flag else "in the environment"
    log.warning(
        "%s is a literal password, not a secret reference: it sits %s in clear; keep it in a secret "
        "store and name it instead with a secret reference: %s",
        where,
        place,
        ", ".join(REFERENCE_FORMS),
    )


def _parse_backup_url(raw: str) -> str:
    try:
        store_kind(raw)
    except SettingsError as exc:
        raise ValueError(exc.message.removeprefix("BACKUP_URL: ")) from None
    if raw.endswith("/"):
        raise ValueError("must name one object, not a folder (it ends with '/')")
    return raw


def _parse_copy_urls(raw: str) -> tuple[str, ...]:
    """Store URLs separated by commas or white space; each names one object, none twice."""
    urls = tuple(url for url in re.split(r"[\s,]+", raw) if url)
    for number, url in enumerate(urls, 1):
        try:
            _parse_backup_url(url)
        except ValueError as exc:  # named by position: a URL may hold what must not be logged
            raise ValueError(f"destination {number}: {exc}") from None
    if len(set(urls)) != len(urls):
        raise ValueError("names a destination twice")
    return urls


def _parse_copy_credentials(raw: str) -> dict[str, str]:
    """A JSON object: copy URL -> secret reference. A literal is refused: no credential may sit in
    the environment in clear."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ValueError("must be a JSON object mapping a copy URL to a secret reference") from None
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object mapping a copy URL to a secret reference")
    for number, reference in enumerate(parsed.values(), 1):
        if not isinstance(reference, str) or not is_reference(reference):
            raise ValueError(
                f"entry {number} is not a secret reference; name the secret instead: "
                + ", ".join(REFERENCE_FORMS)
            )
    return {str(url): str(reference) for url, reference in parsed.items()}


def _copy_credential_problems(values: Mapping[str, Any]) -> list[str]:
    """Each credentials entry names a copy (never the primary, which uses the function's own
    identity) of a kind that takes credentials."""
    problems = []
    copies = values.get("copy_urls", ())
    for number, url in enumerate(values.get("copy_credentials", {}), 1):
        if url not in copies:
            problems.append(f"BACKUP_COPY_CREDENTIALS: entry {number} names no URL of BACKUP_COPY_URLS")
        elif store_kind(url) == "local":
            problems.append(f"BACKUP_COPY_CREDENTIALS: entry {number} is a local folder, which takes none")
    return problems


def _parse_retention_days(raw: str) -> int:
    days = int(raw)
    if not 1 <= days <= 36500:
        raise ValueError(f"must be a whole number of days from 1 to 36500, got {raw}")
    return days


def _parse_retention_mode(raw: str) -> str:
    for mode in ("Unlocked", "Locked"):
        if raw.strip().lower() == mode.lower():
            return mode
    raise ValueError(f"must be Unlocked or Locked, got {raw[:20]!r}")


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _parse_ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {raw}")
    return value


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], Any]:
    def parse(raw: str) -> float | int:
        value = kind(raw)
        if value <= 0:
            raise ValueError(f"must be positive, got {raw}")
        return value

    return parse


def _non_empty(raw: str) -> str:
    return raw


def _parse_mode(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}, got {raw!r}")
    return mode


def _parse_ip(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise ValueError(f"must be an IP address, got {raw[:40]!r}") from None


def _pattern(regex: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def parse(raw: str) -> str:
        value = raw.strip()
        if not compiled.match(value):
            raise ValueError(f"must be {what}")
        return value

    return parse


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


def _native_problems(values: Mapping[str, Any]) -> list[str]:
    """What native mode needs beyond the parsed values: the destination and the access account."""
    problems = [
        f"{_ENV_NAMES[name]} is required when CONTROLLER_BACKUP_MODE=native"
        for name in ("native_cloud_type", "native_account_name", "native_bucket_url", "controller_private_ip")
        if values.get(name) is None
    ]
    cloud_type = values.get("native_cloud_type")
    if cloud_type is None:
        return problems
    if values.get("native_bucket_url") is not None:
        try:
            parse_native_bucket(values["native_bucket_url"], cloud_type)
        except ValueError as exc:
            problems.append(f"NATIVE_BUCKET_URL: {exc}")
    # A replacement needs its access account before it can read the backup: missing fields are
    # found now, at every backup, rather than on the day of the disaster.
    needed: tuple[str, ...] = ()
    if cloud_type in AWS_FAMILY:
        needed = ("native_aws_account_number",)
    elif cloud_type == OCI:
        needed = ("native_region",)
    elif cloud_type in AZURE_FAMILY:
        needed = (
            "native_region",
            "native_arm_subscription_id",
            "native_arm_directory_id",
            "native_arm_client_id",
            "native_arm_client_secret_ref",
        )
    elif cloud_type == GCP:
        needed = ("native_gcp_project_id", "native_gcp_credentials_ref")
    problems += [
        f"{_ENV_NAMES[name]} is required for a native {cloud_name(cloud_type)} controller"
        for name in needed
        if values.get(name) is None
    ]
    return problems


#: field -> (environment variable, parser)
_PARSERS: dict[str, tuple[str, Callable[..., Any]]] = {
    "allow_http": ("CONTROLLER_ALLOW_HTTP", _parse_bool),
    "controller_url": (
        "CONTROLLER_URL",
        lambda raw, allow_http: parse_controller_url(raw, allow_http=allow_http),
    ),
    "username": ("CONTROLLER_USERNAME", _non_empty),
    "password_ref": ("CONTROLLER_PASSWORD", _non_empty),
    "ca_bundle": ("CONTROLLER_CA_BUNDLE", _non_empty),
    "tls_server_name": (
        "CONTROLLER_TLS_SERVER_NAME",
        _pattern(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", "a host name or IP address"),
    ),
    "verify_tls": ("CONTROLLER_VERIFY_TLS", _parse_bool),
    "backup_url": ("BACKUP_URL", _parse_backup_url),
    "copy_urls": ("BACKUP_COPY_URLS", _parse_copy_urls),
    "copy_credentials": ("BACKUP_COPY_CREDENTIALS", _parse_copy_credentials),
    "min_size_ratio": ("BACKUP_MIN_SIZE_RATIO", _parse_ratio),
    "request_timeout": ("CONTROLLER_TIMEOUT", _positive(float)),
    "ready_timeout": ("CONTROLLER_READY_TIMEOUT", _positive(float)),
    "retry_attempts": ("CONTROLLER_RETRY_ATTEMPTS", _positive(int)),
    "retry_seconds": ("CONTROLLER_RETRY_SECONDS", _positive(float)),
    "keep_versions": ("BACKUP_KEEP_VERSIONS", _positive(int)),
    "kms_key_id": ("BACKUP_KMS_KEY_ID", _non_empty),
    "retention_days": ("BACKUP_RETENTION_DAYS", _parse_retention_days),
    "retention_mode": ("BACKUP_RETENTION_MODE", _parse_retention_mode),
    "mode": ("CONTROLLER_BACKUP_MODE", _parse_mode),
    "restore_max_backup_age": ("RESTORE_MAX_BACKUP_AGE", parse_duration),
    "restore_time_limit": ("RESTORE_TIME_LIMIT", parse_duration),
    "controller_private_ip": ("CONTROLLER_PRIVATE_IP", _parse_ip),
    "native_cloud_type": ("NATIVE_CLOUD_TYPE", parse_cloud_type),
    "native_account_name": ("NATIVE_ACCOUNT_NAME", _pattern(r"^[\w.@-]{1,128}$", "letters, digits, . _ - @")),
    "native_bucket_url": ("NATIVE_BUCKET_URL", _non_empty),
    "native_region": ("NATIVE_REGION", _non_empty),
    "customer_id_ref": ("CONTROLLER_CUSTOMER_ID", _non_empty),
    "restore_allowed_targets": ("RESTORE_ALLOWED_TARGETS", parse_allowlist),
    "replacement_url": ("REPLACEMENT_URL", parse_replacement_url),
    "replacement_tag": ("REPLACEMENT_TAG", parse_tag),
    "replacement_name_pattern": (
        "REPLACEMENT_NAME_PATTERN",
        _pattern(r"^[^\s,]{1,255}$", "a glob of a name (no spaces or commas)"),
    ),
    "native_backup_wait": ("NATIVE_BACKUP_WAIT", parse_duration),
    "native_aws_account_number": ("NATIVE_AWS_ACCOUNT_NUMBER", _pattern(r"^\d{12}$", "12 digits")),
    "native_aws_role_app": ("NATIVE_AWS_ROLE_APP", _pattern(_ROLE_ARN, "an IAM role ARN")),
    "native_aws_role_ec2": ("NATIVE_AWS_ROLE_EC2", _pattern(_ROLE_ARN, "an IAM role ARN")),
    "native_arm_subscription_id": ("NATIVE_ARM_SUBSCRIPTION_ID", _pattern(_GUID, "a GUID")),
    "native_arm_directory_id": ("NATIVE_ARM_DIRECTORY_ID", _pattern(_GUID, "a GUID")),
    "native_arm_client_id": ("NATIVE_ARM_CLIENT_ID", _pattern(_GUID, "a GUID")),
    "native_arm_client_secret_ref": ("NATIVE_ARM_CLIENT_SECRET", _non_empty),
    "native_gcp_project_id": (
        "NATIVE_GCP_PROJECT_ID",
        _pattern(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", "a project id (6-30 lowercase letters, digits, -)"),
    ),
    "native_gcp_credentials_ref": ("NATIVE_GCP_CREDENTIALS", _non_empty),
}
_ENV_NAMES = {name: env for name, (env, _) in _PARSERS.items()}
#: parsers that take (raw, allow_http): the URLs held to https unless http was allowed
_URL_FIELDS = {"controller_url", "replacement_url"}
_REQUIRED = {"controller_url", "backup_url", "password_ref"}
