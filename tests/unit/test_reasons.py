"""The controller's answers, classified as REFERENCE.md lists them."""

from __future__ import annotations

import pytest
from controller_backup.controller.client import is_expired_reason, is_not_ready_reason
from controller_backup.controller.driver import parse_version
from controller_backup.errors import ControllerError


@pytest.mark.parametrize(
    "reason",
    [
        "CID is invalid or expired.",
        "Invalid session. Please login again.",
        "Session RwuXX5KoJsTrOBAjXl9N not found",
        "Session RwuXX5KoJsTrOBAjXl9N expired",
    ],
)
def test_expired_session_reasons(reason: str) -> None:
    assert is_expired_reason(reason)
    assert not is_not_ready_reason(reason)


@pytest.mark.parametrize(
    "reason",
    ["RequestRefused", "valid action required", "Valid action required: login", "account_password required."],
)
def test_not_ready_reasons(reason: str) -> None:
    assert is_not_ready_reason(reason)
    assert not is_expired_reason(reason)


@pytest.mark.parametrize(
    "reason", ["Invalid username or password", "Failed to export configuration: disk full", "not run"]
)
def test_other_reasons_are_neither(reason: str) -> None:
    assert not is_expired_reason(reason) and not is_not_ready_reason(reason)


def test_version_parsing() -> None:
    assert parse_version("UserConnect-7.1.1794") == "7.1.1794"
    assert parse_version("6.9.308") == "6.9.308"
    with pytest.raises(ControllerError):
        parse_version("<html>")
