"""Fixtures shared by the integration tests (the servers' and emulators' are in tests/fixtures)."""

from __future__ import annotations

from typing import Protocol

import pytest


class CliEnv(Protocol):
    def __call__(self, **extra: str) -> None: ...


@pytest.fixture
def cli_env(controller_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliEnv:
    """Puts the controller's settings, and `extra`, in the environment the command line reads."""

    def apply(**extra: str) -> None:
        for name, value in (controller_env | extra).items():
            monkeypatch.setenv(name, value)

    return apply
