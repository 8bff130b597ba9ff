"""The command line, run as an operator runs it: a real process, real emulator, documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from controller_backup.emulator import Emulator

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "controller_backup.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(controller_env: dict[str, str]) -> dict[str, str]:
    return controller_env | {"TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD}


def test_backup_status_verify_restore(
    env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    done = _cli("backup", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and result["sha256"] == controller.export_sha256()

    status = json.loads(_cli("status", "--json", env=env).stdout)
    assert status["metadata"]["sha256"] == result["sha256"] and status["age_seconds"] < 60

    verified = _cli("verify", "--json", env=env)
    assert verified.returncode == 0 and json.loads(verified.stdout)["archive"] == "tar"

    dry = _cli(
        "restore",
        "--json",
        "--dry-run",
        "--target-url",
        blank_controller.url,
        "--private-ip",
        BLANK_PRIVATE_IP,
        env=env,
    )
    assert dry.returncode == 0 and json.loads(dry.stdout)["status"] == "dry-run"
    assert not blank_controller.state.initialized

    restored = _cli(
        "restore", "--target-url", blank_controller.url, "--private-ip", BLANK_PRIVATE_IP, env=env
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert restored.stdout.startswith("restore ok:")
    assert blank_controller.export_sha256() == controller.export_sha256()

    again = _cli(
        "restore", "--json", "--target-url", blank_controller.url, "--private-ip", BLANK_PRIVATE_IP, env=env
    )
    assert again.returncode == 10 and json.loads(again.stdout)["code"] == "refused"


def test_missing_settings_exit_2_naming_each(tmp_path: Path) -> None:
    done = _cli("backup", "--json")
    assert done.returncode == 2
    error = json.loads(done.stdout)
    for name in ("CONTROLLER_URL", "CONTROLLER_PASSWORD", "BACKUP_URL"):
        assert name in error["error"]


def test_flags_override_the_environment(env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.tar"
    done = _cli("backup", "--json", "--backup-url", str(other), env=env)
    assert done.returncode == 0 and other.exists()


def test_invalid_export_exit_code(env: dict[str, str], controller: Emulator) -> None:
    controller.faults.export_html = True
    done = _cli("backup", "--json", env=env)
    assert done.returncode == 7 and json.loads(done.stdout)["code"] == "invalid-export"


def test_status_without_a_backup_is_not_found(env: dict[str, str]) -> None:
    done = _cli("status", "--json", env=env)
    assert done.returncode == 8 and json.loads(done.stdout)["code"] == "not-found"


def test_demo_ends_with_matching_configuration(tmp_path: Path) -> None:
    done = _cli("demo", "--json", "--size", "256K", "--workdir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["match"] is True and summary["blank_backup_refused"] == "invalid-export"
    assert (tmp_path / "controller-backup.tar").stat().st_size == summary["size"]


def test_emulator_command_serves_the_api(tmp_path: Path) -> None:
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "controller_backup.cli", "emulator", "--port", "0", "--blank"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), line
        with urllib.request.urlopen(f"{url}/v2/api?action=get_api_token", timeout=10) as answer:
            assert json.load(answer)["return"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)
