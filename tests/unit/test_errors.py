"""Error classification: one stable code, exit status and HTTP status per failure kind."""

from __future__ import annotations

import pytest
from controller_backup import errors


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.BadRequest("x"), 400),
        (errors.ObjectNotFound("x"), 404),
        (errors.RefusedError("x"), 409),
        (errors.PreconditionFailed("x"), 409),
        (errors.AuthError("x"), 502),
        (errors.InvalidExport("x"), 502),
        (errors.NotReadyError("x"), 503),
        (errors.ControllerTimeout("x"), 504),
        (errors.SettingsError("x"), 500),  # a broken deployment must trip the error alarms
        (errors.IntegrityError("x"), 500),
        (errors.StoreError("x"), 500),
    ],
)
def test_http_status(exc: errors.BackupError, status: int) -> None:
    assert errors.http_status(exc) == status


def test_codes_and_exit_statuses_are_distinct_per_kind() -> None:
    assert len(set(errors.EXIT_CODES)) == len(errors.EXIT_CODES)
    assert errors.EXIT_CODES["invalid-export"] == 7 and errors.EXIT_CODES["settings"] == 2
    assert all(code != 0 for code in errors.EXIT_CODES.values())


def test_only_waiting_kinds_are_transient() -> None:
    transient = {cls.code for cls in errors.BackupError.__subclasses__() if cls.transient}
    assert transient == {"not-ready", "timeout"}
