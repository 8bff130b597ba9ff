"""A literal CONTROLLER_PASSWORD through the real command line: the run works (local use), every
run warns, naming the secret-reference forms, and the password shows in no output at any verbosity."""

from __future__ import annotations

import json

import pytest
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.helpers import run_cli as _cli


def _warnings(stderr: str) -> list[str]:
    """The log's lines about a literal password, each at WARNING."""
    lines = [line for line in stderr.splitlines() if "literal password" in line]
    assert all("WARNING" in line for line in lines), lines
    return lines


@pytest.mark.parametrize(
    "args",
    [["backup"], ["backup", "--json"], ["-vv", "backup"], ["check"], ["check", "--json"]],
    ids=["backup", "backup-json", "backup-debug", "check", "check-json"],
)
def test_a_literal_password_in_the_environment_is_warned_about_and_never_shown(
    controller_env: dict[str, str], controller: Emulator, args: list[str]
) -> None:
    env = controller_env | {"CONTROLLER_PASSWORD": CONTROLLER_PASSWORD}
    done = _cli(*args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(action == "login" for _, _, action in controller.requests)  # the literal logged in
    (warning,) = _warnings(done.stderr)
    assert "CONTROLLER_PASSWORD is a literal password" in warning and "in the environment" in warning
    assert "aws-sm:NAME" in warning and "gcp-sm:projects/" in warning and "env:NAME" in warning
    assert CONTROLLER_PASSWORD not in done.stdout + done.stderr
    if "--json" in args:
        json.loads(done.stdout)


def test_a_literal_password_flag_is_warned_about_and_never_shown(
    controller_env: dict[str, str], controller: Emulator
) -> None:
    done = _cli("-vv", "backup", "--json", "--password-ref", CONTROLLER_PASSWORD, env=controller_env)
    assert done.returncode == 0, done.stdout + done.stderr
    (warning,) = _warnings(done.stderr)
    assert "--password-ref is a literal password" in warning and "on the command line" in warning
    assert CONTROLLER_PASSWORD not in done.stdout + done.stderr


def test_a_secret_reference_is_not_warned_about(controller_env: dict[str, str], controller: Emulator) -> None:
    done = _cli("backup", env=controller_env)  # CONTROLLER_PASSWORD=env:TEST_CONTROLLER_PASSWORD
    assert done.returncode == 0, done.stdout + done.stderr
    assert _warnings(done.stderr) == []
