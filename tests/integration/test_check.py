"""The preflight check in export mode, against the controller emulator over real HTTP(S) and a
local-folder store: one clear verdict per line, and nothing changed. (No cloud SDK here: this
suite also runs on the core-only Python 3.12/3.13 venvs; the S3 and Azure cases are in
tests/aws/test_check_s3.py and tests/azure/test_check_blob.py.)"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_backup.backup import run_backup
from controller_backup.check import run_check
from controller_backup.settings import Settings
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

from .check_helpers import LINES, NATIVE_LINES, assert_read_only, tree, verdicts


@pytest.fixture(scope="module")
def tls_controller() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, tls=True, seed=31)) as emu:
        yield emu


@pytest.fixture
def tls_env(tls_controller: Emulator, controller_env: dict[str, str]) -> dict[str, str]:
    """The HTTPS controller, its certificate pinned through CONTROLLER_CA_BUNDLE."""
    assert tls_controller.ca_file is not None
    return controller_env | {
        "CONTROLLER_URL": tls_controller.url,
        "CONTROLLER_CA_BUNDLE": tls_controller.ca_file,
    }


# -- a deployment that works -------------------------------------------------------------------


def test_a_working_deployment_is_all_ok(tls_env: dict[str, str], tls_controller: Emulator) -> None:
    env = tls_env
    run_backup(Settings.from_env(env))
    tls_controller.requests.clear()

    report = run_check(env)

    found = verdicts(report)
    assert {name: found[name] for name in NATIVE_LINES} == dict.fromkeys(NATIVE_LINES, "skip")
    assert {name: v for name, v in found.items() if name not in NATIVE_LINES} == dict.fromkeys(
        set(LINES) - NATIVE_LINES, "ok"
    ), report.to_dict()
    assert report.ok and report.status == "ok" and report.to_dict()["status"] == "ok"
    assert "pinned CA bundle" in report.line("tls").detail
    assert report.line("version").detail == "8.0.1-1000.1000"
    assert "export mode" in report.line("native-config").detail
    assert report.line("store-read").detail.startswith(f"{env['BACKUP_URL']}: present")
    assert_read_only(tls_controller)


def test_the_json_form_names_every_line(tls_env: dict[str, str]) -> None:
    report = run_check(tls_env)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["job"] == "check" and data["status"] == "ok"
    assert [c["name"] for c in data["checks"]] == LINES
    assert set(data["checks"][0]) == {"name", "verdict", "detail"}
    assert data["counts"] == {"ok": 8, "warn": 1, "fail": 0, "skip": 3}  # no backup stored yet: warn


# -- misconfigured deployments: one clear verdict per line ---------------------------------------


def test_settings_that_do_not_load_fail_and_skip_everything_else() -> None:
    report = run_check({"CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "ftp://nowhere/x"})
    found = verdicts(report)
    assert found["settings"] == "fail"
    assert "CONTROLLER_URL is required" in report.line("settings").detail
    assert "BACKUP_URL" in report.line("settings").detail
    assert all(found[name] == "skip" for name in LINES[1:])
    assert all(line.detail == "the settings did not load" for line in report.lines[1:])
    assert not report.ok


def test_wrong_password_fails_the_login_and_is_never_shown(
    controller_env: dict[str, str], controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WRONG_PASSWORD", "Wr0ng-Passw0rd-Value")
    report = run_check(controller_env | {"CONTROLLER_PASSWORD": "env:TEST_WRONG_PASSWORD"})
    found = verdicts(report)
    assert found["secret:CONTROLLER_PASSWORD"] == "ok"
    assert found["login"] == "fail" and "login as 'admin' refused" in report.line("login").detail
    assert found["tls"] == "warn" and "http://" in report.line("tls").detail  # it answered, in clear
    assert found["version"] == found["setup"] == "skip"
    assert report.line("version").detail == "not logged in (see login)"
    assert found["store-read"] == "warn" and found["store-write"] == "ok"  # stores are still checked
    assert _actions(controller, "login") == 1, "bad credentials are never retried"
    assert "Wr0ng-Passw0rd-Value" not in json.dumps(report.to_dict())
    assert not report.ok


def test_an_unreachable_controller_fails_naming_host_and_port(controller_env: dict[str, str]) -> None:
    port = _free_port()  # bound and released: nothing listens there
    env = controller_env | {
        "CONTROLLER_URL": f"http://127.0.0.1:{port}",
        "CONTROLLER_RETRY_ATTEMPTS": "2",
        "CONTROLLER_RETRY_SECONDS": "2",
    }
    report = run_check(env)
    found = verdicts(report)
    assert found["login"] == "fail"
    assert report.line("login").detail.startswith(f"cannot reach 127.0.0.1:{port}")
    assert found["tls"] == "warn" and "handshake not reached" in report.line("tls").detail
    assert found["version"] == found["setup"] == "skip"


def test_a_blank_controller_is_reported_blank(
    controller_env: dict[str, str], blank_controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BLANK_PASSWORD", BLANK_PRIVATE_IP)  # a fresh controller's admin password
    env = controller_env | {
        "CONTROLLER_URL": blank_controller.url,
        "CONTROLLER_PASSWORD": "env:TEST_BLANK_PASSWORD",
    }
    report = run_check(env)
    found = verdicts(report)
    assert found["login"] == "ok"
    assert found["setup"] == "fail" and report.line("setup").detail.startswith("blank:")
    assert "backups of it are refused" in report.line("setup").detail
    assert not blank_controller.state.initialized
    assert_read_only(blank_controller)


def test_an_unresolvable_secret_reference_fails_and_names_only_the_reference(
    controller_env: dict[str, str], controller: Emulator
) -> None:
    report = run_check(controller_env | {"CONTROLLER_PASSWORD": "env:TEST_NO_SUCH_VARIABLE"})
    found = verdicts(report)
    line = report.line("secret:CONTROLLER_PASSWORD")
    assert line.verdict == "fail"
    assert line.detail.startswith("env reference TEST_NO_SUCH_VARIABLE does not resolve")
    assert found["tls"] == found["login"] == found["version"] == found["setup"] == "skip"
    assert report.line("login").detail == "CONTROLLER_PASSWORD did not resolve"
    assert controller.requests == [], "no login without a password"
    assert found["store-write"] == "ok"


def test_a_literal_password_warns_and_is_never_shown(
    controller_env: dict[str, str], controller: Emulator
) -> None:
    report = run_check(controller_env | {"CONTROLLER_PASSWORD": CONTROLLER_PASSWORD})
    line = report.line("secret:CONTROLLER_PASSWORD")
    assert line.verdict == "warn" and "a literal value, not a secret reference" in line.detail
    assert report.line("login").verdict == "ok"  # the literal works, for local use
    assert CONTROLLER_PASSWORD not in json.dumps(report.to_dict())


def test_a_certificate_without_a_pinned_bundle_fails_tls(
    tls_env: dict[str, str], tls_controller: Emulator
) -> None:
    env = {k: v for k, v in tls_env.items() if k != "CONTROLLER_CA_BUNDLE"}
    report = run_check(env)
    found = verdicts(report)
    assert found["tls"] == "fail"
    assert "system CAs" in report.line("tls").detail
    assert "pin the controller's certificate with CONTROLLER_CA_BUNDLE" in report.line("tls").detail
    assert found["login"] == "skip" and found["version"] == "skip"


def test_verification_off_warns(tls_env: dict[str, str]) -> None:
    env = {k: v for k, v in tls_env.items() if k != "CONTROLLER_CA_BUNDLE"} | {
        "CONTROLLER_VERIFY_TLS": "false"
    }
    report = run_check(env)
    assert report.line("tls").verdict == "warn"
    assert "verification is OFF" in report.line("tls").detail
    assert report.line("login").verdict == "ok"


def test_an_unreadable_ca_bundle_fails_tls(tls_env: dict[str, str]) -> None:
    report = run_check(tls_env | {"CONTROLLER_CA_BUNDLE": "/nonexistent/ca.pem"})
    assert report.line("tls").verdict == "fail" and "CONTROLLER_CA_BUNDLE" in report.line("tls").detail
    assert report.line("login").verdict == "skip"


def test_a_booting_controller_warns(controller_env: dict[str, str], controller: Emulator) -> None:
    controller.faults.become_not_ready(60)
    env = controller_env | {"CONTROLLER_RETRY_ATTEMPTS": "2", "CONTROLLER_RETRY_SECONDS": "2"}
    report = run_check(env)
    assert report.line("login").verdict == "warn"
    assert "not ready yet" in report.line("login").detail
    assert report.line("version").verdict == "skip"


# -- read-only -----------------------------------------------------------------------------------


def test_a_check_writes_nothing(controller_env: dict[str, str], controller: Emulator, tmp_path: Path) -> None:
    env = controller_env | {"BACKUP_KEEP_VERSIONS": "3"}
    run_backup(Settings.from_env(env))
    run_backup(Settings.from_env(env), allow_shrink=True)
    before = tree(tmp_path)
    controller.requests.clear()
    exported = controller.export_sha256()

    report = run_check(env)

    assert report.ok
    assert tree(tmp_path) == before
    assert_read_only(controller)
    assert controller.export_sha256() == exported


def test_no_secret_in_any_check_log_or_report(
    controller_env: dict[str, str],
    controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Invariant 4 for the check: every log line (at DEBUG) and every report, good and failing."""
    caplog.set_level(logging.DEBUG)
    controller.faults.fail_next_5xx = 1  # a retry, and its log line
    monkeypatch.setenv("TEST_WRONG_PASSWORD", "Wr0ng-Passw0rd-Value")
    reports = [
        run_check(controller_env),
        run_check(controller_env | {"CONTROLLER_PASSWORD": "env:TEST_WRONG_PASSWORD"}),
        run_check(controller_env | {"CONTROLLER_PASSWORD": CONTROLLER_PASSWORD}),  # a literal
    ]
    issued = controller.state.issued
    assert len(issued) >= 4, "the emulator issued no CID or token: the test would prove nothing"
    everything = "\n".join(
        [
            *(json.dumps(r.to_dict()) for r in reports),
            caplog.text,
            *(r.getMessage() for r in caplog.records),
            *capsys.readouterr(),
        ]
    )
    assert "check ok" in caplog.text and "check fail" in caplog.text
    for secret in [CONTROLLER_PASSWORD, "Wr0ng-Passw0rd-Value", *issued]:
        assert secret not in everything, "a secret leaked"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _actions(emu: Emulator, name: str) -> int:
    return sum(1 for _, _, action in emu.requests if action == name)
