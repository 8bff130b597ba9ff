"""The controller's answers, classified as docs/controller-api.md lists them."""

from __future__ import annotations

import pytest
from controller_backup.controller.client import is_expired_reason, is_not_ready_reason


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
