"""Error classification: one stable code, exit status and HTTP status per failure kind."""

from __future__ import annotations

import pytest
from controller_backup import errors


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.BadRequest("x"), 400),
        (errors.ObjectNotFound("x"), 404),
        (errors.RefusedError("x", override="allow_shrink"), 409),
        (errors.Conflict("x"), 409),
        (errors.ForbiddenTarget("x"), 403),
        (errors.NotAReplacement("x"), 403),
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


def _kinds() -> list[type[errors.BackupError]]:
    """Every error class, however deep, that names its own code."""
    found: list[type[errors.BackupError]] = []
    todo: list[type[errors.BackupError]] = [errors.BackupError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "code" in vars(cls):
            found.append(cls)
    return found


def test_every_kind_has_its_own_code_and_the_documented_exit_status() -> None:
    kinds = _kinds()
    codes = [cls.code for cls in kinds]
    assert len(codes) == len(set(codes)), sorted(codes)
    # EXIT_CODES is what the CLI documents: it must list every kind with the kind's own status
    assert {cls.code: cls.exit_code for cls in kinds} == errors.EXIT_CODES
    assert errors.EXIT_CODES["invalid-export"] == 7 and errors.EXIT_CODES["settings"] == 2
    assert errors.EXIT_CODES["conflict"] == 12 and errors.EXIT_CODES["forbidden-target"] == 13
    assert 0 not in errors.EXIT_CODES.values()


def test_an_unexpected_failure_says_nothing_but_internal() -> None:
    assert errors.unexpected_failure() == {
        "status": "error",
        "code": "internal",
        "error": "unexpected failure; see the log",
    }
    assert "internal" not in errors.EXIT_CODES


def test_only_waiting_kinds_are_transient() -> None:
    transient = {cls.code for cls in errors.BackupError.__subclasses__() if cls.transient}
    assert transient == {"not-ready", "timeout"}


def test_a_refusal_names_the_one_option_that_lifts_it() -> None:
    refused = errors.RefusedError("the export is much smaller", override="allow_shrink")
    assert refused.exit_code == 10 and refused.override == "allow_shrink"
    assert refused.message == (
        "the export is much smaller (--allow-shrink, or allow_shrink in a request, lifts this rule)"
    )
