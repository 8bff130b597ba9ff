"""The preflight check: can this deployment work? One verdict per line, and nothing changed.

Run it after deploying or changing anything (settings, secrets, the controller, a bucket's
policy): it finds in seconds what a backup would otherwise find at midnight, and every problem at
once, not one per failed run. Each line is `ok`, `warn` (works, but something is off), `fail`
(a backup or restore would fail) or `skip` (with the reason it could not be checked).

Read-only by construction: the controller is asked only what backups already ask (login,
`list_version_info`, `initial_setup subaction=check`, `get_cloudn_backup_config`); stores answer
`head()`, `versioning()` and `probe_write()`, a write whose precondition cannot hold. Secrets are
named by reference scheme and name only, and every line passes through the redactor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from controller_backup.controller import ControllerApi, ControllerClient, RetryPolicy, connector
from controller_backup.controller.client import TLS_FAILURE
from controller_backup.controller.native import config_file_name, version_file_name
from controller_backup.durations import in_words
from controller_backup.errors import (
    BackupError,
    ControllerTimeout,
    NotReadyError,
    SettingsError,
)
from controller_backup.native_bucket import cloud_name
from controller_backup.redact import redact
from controller_backup.secrets import is_reference, known_schemes, resolve_secret
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, open_store, store_kind

log = logging.getLogger("controller_backup.check")

Verdict = Literal["ok", "warn", "fail", "skip"]
VERDICTS: tuple[Verdict, ...] = ("ok", "warn", "fail", "skip")

#: a preflight answers in seconds: it reports a booting controller instead of waiting it out
_MAX_ATTEMPTS = 3
_MAX_RETRY_SECONDS = 30.0
#: what the controller's backup configuration calls each setting, and the variable that sets it
_NATIVE_KEYS = {
    "cloud_type": "NATIVE_CLOUD_TYPE",
    "acct_name": "NATIVE_ACCOUNT_NAME",
    "bucket_name": "NATIVE_BUCKET_URL",
    "storage_name": "NATIVE_BUCKET_URL",
    "container_name": "NATIVE_BUCKET_URL",
}
#: every line after `settings`, in order (all skipped when the settings do not load)
_LATER = (
    "secret:CONTROLLER_PASSWORD",
    "tls",
    "login",
    "version",
    "setup",
    "native-config",
    "store-read",
    "store-write",
    "store-versioning",
    "native-file",
    "native-version-file",
)


@dataclass(frozen=True)
class CheckLine:
    """One check's verdict; `detail` says what was found (for `skip`: why it was not checked)."""

    name: str
    verdict: Verdict
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "verdict": self.verdict, "detail": self.detail}


@dataclass(frozen=True)
class CheckReport:
    """Every line of one check; `ok` unless a line failed (warnings and skips do not fail it)."""

    lines: tuple[CheckLine, ...]
    duration_ms: int = 0
    job: ClassVar[str] = "check"

    @property
    def ok(self) -> bool:
        return all(line.verdict != "fail" for line in self.lines)

    @property
    def status(self) -> str:
        return "ok" if self.ok else "fail"

    def counts(self) -> dict[str, int]:
        return {verdict: sum(line.verdict == verdict for line in self.lines) for verdict in VERDICTS}

    def line(self, name: str) -> CheckLine:
        """The line called `name` (KeyError when the report has none)."""
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "job": self.job,
            "counts": self.counts(),
            "checks": [line.to_dict() for line in self.lines],
            "duration_ms": self.duration_ms,
        }


def run_check(
    env: Mapping[str, str] | None = None, *, load_settings: Callable[[], Settings] | None = None
) -> CheckReport:
    """Check a deployment without changing anything; never raises for a failed line.

    Settings come from `env` (default: the process environment), or from `load_settings` when a
    caller has its own way of loading them (the CLI's flags).
    """
    started = time.monotonic()
    try:
        settings = load_settings() if load_settings is not None else Settings.from_env(env)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the settings line
        lines = [_line("settings", "fail", _message(exc))]
        lines += [_line(name, "skip", "the settings did not load") for name in _LATER]
    else:
        lines = [_line("settings", "ok", _describe_settings(settings)), *_Preflight(settings).lines()]
    report = CheckReport(tuple(lines), int((time.monotonic() - started) * 1000))
    failed = [line.name for line in report.lines if line.verdict == "fail"]
    counts = ", ".join(f"{number} {verdict}" for verdict, number in report.counts().items())
    # one summary line: the functions log the whole report as their result, the CLI prints it
    log.log(
        logging.WARNING if failed else logging.INFO,
        "check %s (%s)%s",
        report.status,
        counts,
        f"; failed: {', '.join(failed)}" if failed else "",
    )
    return report


def _line(name: str, verdict: Verdict, detail: str) -> CheckLine:
    """A line whose text has passed the redactor: a second guard after building it from names."""
    return CheckLine(name, verdict, redact(detail))


def _message(exc: BaseException) -> str:
    if isinstance(exc, BackupError):
        return exc.message
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _guarded(name: str, probe: Callable[[], CheckLine]) -> CheckLine:
    """`probe()`'s line, or a failed line naming what went wrong: one line never stops the rest."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - the check reports, it does not raise
        return _line(name, "fail", _message(exc))


def _describe_settings(settings: Settings) -> str:
    return (
        f"{settings.mode} mode; controller {settings.controller_url} as {settings.username!r}; "
        f"backup {settings.backup_url}"
    )


def _age(info: ObjectInfo) -> str:
    return in_words((datetime.now(UTC) - info.last_modified).total_seconds())


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


@dataclass
class _Login:
    """What logging in found: the TLS and login lines, and a session when it worked."""

    tls: CheckLine
    login: CheckLine
    client: ControllerClient | None = None


class _Preflight:
    """The checks after the settings loaded, each one line, in the order an operator fixes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.native = settings.mode == "native"

    def lines(self) -> list[CheckLine]:
        secrets, password = self._secrets()
        lines = list(secrets)
        if password is None:
            reason = "CONTROLLER_PASSWORD did not resolve"
            lines += [_line(name, "skip", reason) for name in ("tls", "login")]
            lines += self._controller(None, reason)
        else:
            login = self._login(password)
            lines += [login.tls, login.login]
            lines += self._controller(login.client, "not logged in (see login)")
        lines += self._our_bucket()
        lines += self._controllers_bucket()
        return lines

    # -- secrets -----------------------------------------------------------------------------

    def _references(self) -> list[tuple[str, str]]:
        settings = self.settings
        references = [("CONTROLLER_PASSWORD", settings.password_ref)]
        if self.native:
            for variable, reference in (
                ("NATIVE_ARM_CLIENT_SECRET", settings.native_arm_client_secret_ref),
                ("NATIVE_GCP_CREDENTIALS", settings.native_gcp_credentials_ref),
            ):
                if reference:
                    references.append((variable, reference))
        if settings.customer_id_ref:
            references.append(("CONTROLLER_CUSTOMER_ID", settings.customer_id_ref))
        return references

    def _secrets(self) -> tuple[list[CheckLine], str | None]:
        """A line per secret reference, and the password when it resolved."""
        lines, password = [], None
        for variable, reference in self._references():
            line, value = _secret_line(variable, reference)
            lines.append(line)
            if variable == "CONTROLLER_PASSWORD":
                password = value
        return lines, password

    # -- the controller ----------------------------------------------------------------------

    def _login(self, password: str) -> _Login:
        settings = self.settings
        retry = RetryPolicy(
            attempts=min(settings.retry_attempts, _MAX_ATTEMPTS),
            deadline=min(settings.retry_seconds, _MAX_RETRY_SECONDS),
        )
        try:
            client = connector(settings, retry)(settings.username, password)
            client.login()
        except BackupError as exc:
            return self._login_failed(exc)
        except Exception as exc:  # noqa: BLE001 - the check reports, it does not raise
            tls = _line("tls", "skip", "not determined: the login failed unexpectedly (see login)")
            return _Login(tls, _line("login", "fail", _message(exc)))
        tls_verdict, tls_detail = _tls_mode(settings)
        where = _host_port(settings.controller_url)
        tls = _line("tls", tls_verdict, f"{tls_detail}; {where} answered")
        detail = f"logged in to {where} as {settings.username!r} (API {client.api_version})"
        return _Login(tls, _line("login", "ok", detail), client)

    def _login_failed(self, exc: BackupError) -> _Login:
        """Which of TLS and login a failed login blames: the client's error says how far it got."""
        tls_verdict, tls_detail = _tls_mode(self.settings)
        where = _host_port(self.settings.controller_url)
        if isinstance(exc, SettingsError):  # an unreadable CA bundle: no connection was tried
            return _Login(
                _line("tls", "fail", exc.message), _line("login", "skip", "TLS is not set up (see tls)")
            )
        if isinstance(exc, ControllerTimeout):
            verdict: Verdict = "skip" if tls_verdict == "ok" else tls_verdict
            tls = _line("tls", verdict, f"{tls_detail}; handshake not reached: the controller did not answer")
            return _Login(tls, _line("login", "fail", f"cannot reach {where}: {exc.message}"))
        if TLS_FAILURE in exc.message:
            tls = _line("tls", "fail", f"{tls_detail}; the handshake failed: {exc.message}")
            return _Login(tls, _line("login", "skip", "the TLS handshake failed (see tls)"))
        # anything else came back over HTTP(S): the connection, and any handshake, worked
        tls = _line("tls", tls_verdict, f"{tls_detail}; {where} answered")
        if isinstance(exc, NotReadyError):
            detail = f"{where} answers but is not ready yet (booting or upgrading?): {exc.message}"
            return _Login(tls, _line("login", "warn", detail))
        return _Login(tls, _line("login", "fail", exc.message))

    def _controller(self, client: ControllerClient | None, reason: str) -> list[CheckLine]:
        native_reason = reason if self.native else "export mode: the controller's own backup is not used"
        if client is None:
            return [_line(name, "skip", r) for name, r in (("version", reason), ("setup", reason))] + [
                _line("native-config", "skip", native_reason)
            ]
        api = ControllerApi()
        api.client = client
        lines = [
            _guarded("version", lambda: _line("version", "ok", str(api.version()))),
            _guarded("setup", lambda: _setup_line(api)),
        ]
        if self.native:
            lines.append(_guarded("native-config", lambda: self._native_config(client)))
        else:
            lines.append(_line("native-config", "skip", native_reason))
        return lines

    def _native_config(self, client: ControllerClient) -> CheckLine:
        """The controller's own backup destination against ours; never changes it."""
        settings = self.settings
        answer = client.call_envelope("get_cloudn_backup_config", method="GET")
        if not answer.get("return"):
            reason = str(answer.get("reason") or "no reason given")
            return _line("native-config", "fail", f"get_cloudn_backup_config failed: {reason[:200]}")
        results = answer.get("results")
        if not isinstance(results, dict):
            return _line("native-config", "fail", "get_cloudn_backup_config answered without results")
        bucket = settings.native_bucket
        ours = {"cloud_type": str(bucket.cloud_type), "acct_name": str(settings.native_account_name)}
        ours.update(bucket.params)
        shown = ", ".join(f"{key} {_shown(key, value)}" for key, value in ours.items())
        if str(results.get("enabled", "")).strip().lower() not in ("yes", "true"):
            detail = f"the controller's own backup is off (the first backup enables it: {shown})"
            return _line("native-config", "warn", detail)
        theirs = {key: results.get(key) for key in ours}
        if theirs["acct_name"] in (None, ""):
            theirs["acct_name"] = results.get("account_name")  # v1's name for it
        differences = [
            f"{key}: the controller has {_shown(key, str(value))}, "
            f"{_NATIVE_KEYS[key]} names {_shown(key, ours[key])}"
            for key, value in theirs.items()
            if value not in (None, "") and str(value) != ours[key]
        ]
        if differences:
            return _line("native-config", "fail", "; ".join(differences))
        unreported = [key for key, value in theirs.items() if value in (None, "")]
        note = f" (not reported: {', '.join(unreported)})" if unreported else ""
        return _line("native-config", "ok", f"enabled: {shown}, as configured{note}")

    # -- stores ------------------------------------------------------------------------------

    def _our_bucket(self) -> list[CheckLine]:
        settings = self.settings
        try:
            store = settings.backup_store()
        except Exception as exc:  # noqa: BLE001 - a store that cannot open is this line's finding
            reason = "BACKUP_URL's store could not be opened (see store-read)"
            return [
                _line("store-read", "fail", _message(exc)),
                _line("store-write", "skip", reason),
                _line("store-versioning", "skip", reason),
            ]

        def read() -> CheckLine:
            info = store.head()
            if info is None:
                return _line(
                    "store-read", "warn", f"{store.url}: no backup stored yet (the first backup is pending)"
                )
            detail = (
                f"{store.url}: present, {info.size} bytes, version {info.version_id}, "
                f"written {_age(info)} ago"
            )
            age = (datetime.now(UTC) - info.last_modified).total_seconds()
            if age > settings.restore_max_backup_age:
                detail += (
                    "; older than RESTORE_MAX_BACKUP_AGE: a restore would refuse it (unless allow_old_backup)"
                )
                return _line("store-read", "warn", detail)
            return _line("store-read", "ok", detail)

        def write() -> CheckLine:
            store.probe_write()
            return _line(
                "store-write", "ok", f"{store.url}: this identity may write it (probed; nothing written)"
            )

        def versioning() -> CheckLine:
            if store_kind(settings.backup_url) == "local":
                kept = settings.keep_versions
                detail = f"a local folder keeps the last {kept} versions itself (BACKUP_KEEP_VERSIONS)"
                return _line("store-versioning", "ok", detail)
            try:
                enabled = store.versioning()
            except BackupError as exc:
                return _line("store-versioning", "warn", f"cannot tell: {exc.message}")
            if enabled:
                return _line(
                    "store-versioning", "ok", "on: every backup keeps the ones before it as versions"
                )
            if enabled is None:
                detail = "unknown (no object to tell by, and the setting is not readable here); turn it on"
                return _line("store-versioning", "warn", detail)
            return _line("store-versioning", "warn", "off: each backup would overwrite the only copy")

        return [
            _guarded("store-read", read),
            _guarded("store-write", write),
            _guarded("store-versioning", versioning),
        ]

    def _controllers_bucket(self) -> list[CheckLine]:
        if not self.native:
            reason = "export mode: the controller writes no backup of its own"
            return [_line("native-file", "skip", reason), _line("native-version-file", "skip", reason)]
        settings = self.settings
        ip = str(settings.controller_private_ip)

        def file_line(name: str, file_name: str) -> CheckLine:
            url = settings.native_bucket.file_url(file_name)
            info = open_store(url).head()
            if info is None:
                return _line(name, "warn", f"{url}: not written yet (the controller has not backed up there)")
            return _line(name, "ok", f"{url}: present, {info.size} bytes, written {_age(info)} ago")

        return [
            _guarded("native-file", lambda: file_line("native-file", config_file_name(ip))),
            _guarded("native-version-file", lambda: file_line("native-version-file", version_file_name(ip))),
        ]


#: secrets only a restore uses: the backup function's identity (where the check runs) may rightly
#: be unable to read them, so their failure is a warning that says whose access matters
_RESTORE_ONLY = frozenset({"NATIVE_ARM_CLIENT_SECRET", "NATIVE_GCP_CREDENTIALS", "CONTROLLER_CUSTOMER_ID"})


def _secret_line(variable: str, reference: str) -> tuple[CheckLine, str | None]:
    """Whether `reference` resolves, naming its scheme and name only; the value when it does."""
    name = f"secret:{variable}"
    if not is_reference(reference):
        value = resolve_secret(reference)  # a literal: registered with the redactor, never shown
        detail = (
            "a literal value, not a secret reference (known schemes: "
            f"{', '.join(known_schemes())}); fine for local use only"
        )
        return _line(name, "warn", detail), value
    scheme, _, target = reference.partition(":")
    try:
        value = resolve_secret(reference)
    except Exception as exc:  # noqa: BLE001 - an unresolvable secret is this line's finding
        detail = f"{scheme} reference {target} does not resolve: {_message(exc)}"
        if variable in _RESTORE_ONLY:
            detail += " (only restores read it: make sure the restore function's identity can)"
            return _line(name, "warn", detail), None
        return _line(name, "fail", detail), None
    return _line(name, "ok", f"{scheme} reference {target} resolves"), value


def _tls_mode(settings: Settings) -> tuple[Verdict, str]:
    """How the controller's certificate is checked, and whether that deserves a warning."""
    if not settings.controller_url.startswith("https://"):
        return (
            "warn",
            "http:// controller URL: no TLS, the password and configuration cross the network in clear",
        )
    if not settings.verify_tls:
        return "warn", (
            "certificate verification is OFF (CONTROLLER_VERIFY_TLS=false): anyone on the path can read "
            "the credentials; pin CONTROLLER_CA_BUNDLE instead"
        )
    name = f", for the name {settings.tls_server_name}" if settings.tls_server_name else ""
    if settings.ca_bundle:
        where = "PEM text" if "-----BEGIN CERTIFICATE-----" in settings.ca_bundle else settings.ca_bundle
        return "ok", f"certificate checked against the pinned CA bundle (CONTROLLER_CA_BUNDLE: {where}){name}"
    return "ok", f"certificate checked against the system CAs{name}"


def _setup_line(api: ControllerApi) -> CheckLine:
    if api.is_set_up():
        return _line("setup", "ok", "set up (initial setup has run)")
    return _line(
        "setup",
        "fail",
        "blank: initial setup has not run (a fresh replacement); backups of it are refused until it is "
        "restored or set up",
    )


def _shown(key: str, value: str) -> str:
    if key == "cloud_type" and value.isdigit():
        return f"{value} ({cloud_name(int(value))})"
    return repr(value)
