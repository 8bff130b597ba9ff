"""One exception family with a stable code per failure kind.

Every failure the jobs can meet maps to one of these codes, so logs, metrics, function results
and the CLI's exit status all classify a failure the same way. Messages never carry secrets:
callers build them from names and sizes, never from passwords, CIDs or tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BackupError(Exception):
    """Base of every classified failure; `code` is stable and documented."""

    code = "error"
    exit_code = 1
    #: transient failures may be retried by the caller; the rest never are
    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"status": "error", "code": self.code, "error": self.message}


class SettingsError(BackupError):
    """A setting is missing or malformed; names every bad variable at once."""

    code = "settings"
    exit_code = 2


class BadRequest(BackupError):
    """A trigger's event or an operator's arguments make no sense."""

    code = "bad-request"
    exit_code = 2


class AuthError(BackupError):
    """The controller refused the credentials. Never retried."""

    code = "auth"
    exit_code = 3


class NotReadyError(BackupError):
    """The controller is still booting or not set up within the allowed wait."""

    code = "not-ready"
    exit_code = 4
    transient = True


class ControllerTimeout(BackupError):
    """The controller did not answer within the bounded time."""

    code = "timeout"
    exit_code = 5
    transient = True


class ControllerError(BackupError):
    """The controller answered, but with a logical failure or nonsense."""

    code = "controller"
    exit_code = 6


class InvalidExport(BackupError):
    """The export failed a check; the stored backup was left untouched."""

    code = "invalid-export"
    exit_code = 7


class StoreError(BackupError):
    """The object store failed or refused an operation."""

    code = "store"
    exit_code = 8


class ObjectNotFound(StoreError):
    """The stored object (or the asked-for version) does not exist."""

    code = "not-found"


class AccessDenied(StoreError):
    """The store refused access; told apart from not-found on purpose."""

    code = "access-denied"


class PreconditionFailed(StoreError):
    """The object changed since it was read: a concurrent writer won."""

    code = "precondition-failed"


class IntegrityError(BackupError):
    """Stored bytes do not match their recorded hash or size, or a restore did not verify."""

    code = "integrity"
    exit_code = 9


class RefusedError(BackupError):
    """A safety rule refused the operation, and one named option lifts exactly that rule.

    `override` is the option's name in a request (`allow_shrink`); the message names it and its
    command-line flag (`--allow-shrink`), so whoever reads the refusal knows how to lift it. A rule
    that nothing lifts is not a refusal: it is a Conflict, or a setting to fix.
    """

    code = "refused"
    exit_code = 10

    def __init__(self, message: str, *, override: str) -> None:
        flag = "--" + override.replace("_", "-")
        super().__init__(f"{message} ({flag}, or {override} in a request, lifts this rule)")
        self.override = override


class Conflict(BackupError):
    """The request contradicts an earlier one under the same name (a restore key with another
    target or backup, or a run under that key still going). No flag overrides it: use another
    key."""

    code = "conflict"
    exit_code = 12


class ForbiddenTarget(BackupError):
    """A restore target that does not belong: not the configured controller, not a replacement the
    cloud's API vouches for, not in RESTORE_ALLOWED_TARGETS. Refused before any connection."""

    code = "forbidden-target"
    exit_code = 13


class NotAReplacement(ForbiddenTarget):
    """An instance the cloud's API describes, but without the replacement's tag or name."""


class StaleBackup(BackupError):
    """A stored backup older than a restore would take (RESTORE_MAX_BACKUP_AGE): the readiness
    check's finding for one destination, under the code `status` gives the same verdict."""

    code = "stale"
    exit_code = 14


class VerifyFailed(BackupError):
    """The readiness check found a destination whose backup would not restore today (missing,
    unreadable, tampered with, too old, or disagreeing with the controller's own file). Each one
    was logged on its own ERROR line; `failed` counts them and `result` is the whole check."""

    code = "verify-failed"
    exit_code = 16

    def __init__(self, message: str, *, failed: int, result: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.failed = failed
        self.result = dict(result)


#: the attribute that marks the one ERROR record a job writes about its own failure: the functions'
#: alarms watch for it; the command line, which prints the error itself, leaves it out
FAILURE_RECORD = "job_failure"

#: the code of a failure that is no BackupError: a bug, reported without its text (it may hold
#: anything), with the details in the log
INTERNAL_CODE = "internal"


def unexpected_failure() -> dict[str, str]:
    """The one result every entry point gives for an exception that is not a BackupError."""
    return {"status": "error", "code": INTERNAL_CODE, "error": "unexpected failure; see the log"}


#: exit codes the CLI documents, one per code
EXIT_CODES: dict[str, int] = {
    cls.code: cls.exit_code
    for cls in (
        BackupError,
        SettingsError,
        BadRequest,
        AuthError,
        NotReadyError,
        ControllerTimeout,
        ControllerError,
        InvalidExport,
        StoreError,
        ObjectNotFound,
        AccessDenied,
        PreconditionFailed,
        IntegrityError,
        RefusedError,
        Conflict,
        ForbiddenTarget,
        StaleBackup,
        VerifyFailed,
    )
}


def http_status(exc: BackupError) -> int:
    """The HTTP status every cloud's HTTP trigger answers for `exc`.

    4xx only for what the caller can change: bad input, a target that does not belong (403), a
    missing object or version, a safety refusal, a conflicting request or a lost race (409). A
    controller that fails or answers nonsense is a bad gateway, one that is booting or silent a
    503/504 worth retrying; everything else, a broken deployment (SettingsError) included, is a
    500 so the platform's error alarms see it.
    """
    for cls in type(exc).__mro__:
        if cls in _HTTP_STATUS:
            return _HTTP_STATUS[cls]
    return 500


_HTTP_STATUS: dict[type[BackupError], int] = {
    BadRequest: 400,
    ForbiddenTarget: 403,
    ObjectNotFound: 404,
    Conflict: 409,
    RefusedError: 409,
    PreconditionFailed: 409,
    AuthError: 502,
    ControllerError: 502,
    InvalidExport: 502,
    NotReadyError: 503,
    ControllerTimeout: 504,
}
