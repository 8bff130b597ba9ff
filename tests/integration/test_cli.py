"""The command line, run as an operator runs it: a real process, real emulator, documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.integration.check_helpers import LINES
from tests.integration.helpers import run_cli as _cli


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
    assert status["kind"] == status["metadata"]["kind"] == "tar"

    verified = _cli("verify", "--json", env=env)
    assert verified.returncode == 0 and json.loads(verified.stdout)["kind"] == "tar"

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


def test_mode_flag_overrides_the_native_default(env: dict[str, str], controller: Emulator) -> None:
    """Without CONTROLLER_BACKUP_MODE the settings are native ones; `--mode export` names the
    emulator's API instead, and the error without it says so."""
    plain = {key: value for key, value in env.items() if key != "CONTROLLER_BACKUP_MODE"}
    refused = _cli("backup", "--json", env=plain)
    assert refused.returncode == 2
    assert "CONTROLLER_BACKUP_MODE=export" in json.loads(refused.stdout)["error"]
    done = _cli("backup", "--json", "--mode", "export", env=plain)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["sha256"] == controller.export_sha256()


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


def test_emulator_command_hands_every_word_to_the_emulator() -> None:
    """The command line knows none of the emulator's flags: `-h` after the command lists the
    emulator's own, and a bad value is the emulator's usage error."""
    done = _cli("emulator", "-h")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: controller-backup emulator") and "--bucket-root" in done.stdout
    bad = _cli("emulator", "--port", "many")
    assert bad.returncode == 2 and "controller-backup emulator: error: argument --port" in bad.stderr


# -- check ----------------------------------------------------------------------------------------


def test_check_prints_one_aligned_line_per_check_and_exits_0(
    env: dict[str, str], controller: Emulator
) -> None:
    done = _cli("check", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    *lines, summary = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == LINES
    # verdict, name and detail columns line up
    detail_column = {len(line) - len(line.split(maxsplit=2)[2]) for line in lines}
    assert len(detail_column) == 1
    assert lines[3].startswith("ok    login ") and "logged in to 127.0.0.1:" in lines[3]
    assert lines[4].split()[-1] == "8.0.1-1000.1000"
    assert lines[7].startswith("warn  store-read ") and "no backup stored yet" in lines[7]
    assert summary == "check ok: 7 ok, 2 warn, 0 fail, 3 skip"
    assert CONTROLLER_PASSWORD not in done.stdout + done.stderr
    assert all(
        a in {"get_api_token", "login", "list_version_info", "initial_setup"}
        for _, _, a in controller.requests
    )


def test_check_json_form(env: dict[str, str], controller: Emulator) -> None:
    assert _cli("backup", env=env).returncode == 0
    done = _cli("check", "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "ok" and report["job"] == "check"
    assert report["counts"] == {"ok": 8, "warn": 1, "fail": 0, "skip": 3}
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["store-read"] == "ok" and verdicts["tls"] == "warn"  # plain http to the emulator
    # stderr holds nothing but the warning plain http earns on every run
    assert [line for line in done.stderr.splitlines() if "CONTROLLER_ALLOW_HTTP=true" not in line] == []
    assert "CONTROLLER_ALLOW_HTTP=true" in done.stderr


def test_check_with_a_failing_line_exits_11(env: dict[str, str], controller: Emulator) -> None:
    wrong = env | {"TEST_WRONG_PASSWORD": "Wr0ng-Passw0rd-Value"}
    done = _cli("check", "--password-ref", "env:TEST_WRONG_PASSWORD", env=wrong)  # the flag wins
    assert done.returncode == 11, done.stdout + done.stderr
    assert any(line.startswith("fail  login ") for line in done.stdout.splitlines())
    assert done.stdout.splitlines()[-1].startswith("check fail: ")
    as_json = _cli("check", "--json", "--password-ref", "env:TEST_WRONG_PASSWORD", env=wrong)
    assert as_json.returncode == 11 and json.loads(as_json.stdout)["status"] == "fail"
    assert "Wr0ng-Passw0rd-Value" not in done.stdout + done.stderr + as_json.stdout + as_json.stderr


def test_check_with_settings_that_do_not_load_exits_11_naming_them() -> None:
    done = _cli("check", "--json")
    assert done.returncode == 11
    report = json.loads(done.stdout)
    first, *rest = report["checks"]
    assert first["name"] == "settings" and first["verdict"] == "fail"
    assert "CONTROLLER_URL is required" in first["detail"]
    assert {line["verdict"] for line in rest} == {"skip"}


def test_check_is_in_the_help_with_its_exit_code() -> None:
    done = _cli("--help")
    assert "check" in done.stdout and "11 check: at least one line failed" in done.stdout


def test_an_unexpected_failure_exits_1_with_code_internal_and_no_detail(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from controller_backup import cli, inspection

    def broken(store: object, **options: object) -> object:
        raise RuntimeError("a bug whose text may hold anything")

    monkeypatch.setattr(inspection, "backup_status", broken)
    code = cli.main(["status", "--json", "--backup-url", str(tmp_path / "b.tar")])
    out = capsys.readouterr()
    assert code == 1
    assert json.loads(out.out) == {
        "status": "error",
        "code": "internal",
        "error": "unexpected failure; see the log",
    }
    assert "a bug whose text" in caplog.text  # the details go to the log, not the result


# -- messages -------------------------------------------------------------------------------------


def _error_lines(stderr: str) -> list[str]:
    """The error printed by the command, and any log line at ERROR."""
    return [line for line in stderr.splitlines() if line.startswith("error [") or " ERROR " in line]


def test_an_error_is_shown_once_on_stderr_naming_host_and_port(
    env: dict[str, str], controller: Emulator
) -> None:
    where = controller.url.removeprefix("http://")
    controller.power_off()
    done = _cli("backup", env=env | {"CONTROLLER_READY_TIMEOUT": "1"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = _error_lines(done.stderr)  # once: no ERROR log line repeating it
    assert line.startswith("error [not-ready]: ")
    assert f"cannot reach {where} (connection refused)" in line
    assert "NewConnectionError" not in done.stderr and "Error(" not in done.stderr


def test_with_json_the_error_stays_on_stdout_and_is_not_logged_again(
    env: dict[str, str], controller: Emulator
) -> None:
    controller.faults.export_html = True
    done = _cli("backup", "--json", env=env)
    assert done.returncode == 7 and json.loads(done.stdout)["code"] == "invalid-export"
    assert _error_lines(done.stderr) == []


def test_verbose_is_accepted_after_the_command(env: dict[str, str], controller: Emulator) -> None:
    quiet = _cli("backup", env=env)
    after = _cli("backup", "-v", env=env)
    before = _cli("-v", "backup", env=env)
    assert quiet.returncode == after.returncode == before.returncode == 0, after.stderr
    assert "logged in to" not in quiet.stderr  # the controller's INFO lines need -v
    assert "logged in to" in after.stderr and "logged in to" in before.stderr
    debug = _cli("-v", "backup", "-v", env=env)  # counted on both sides: -vv
    assert debug.returncode == 0 and " DEBUG " in debug.stderr


def test_https_to_a_plain_http_port_with_insecure_is_not_blamed_on_certificates(
    env: dict[str, str], controller: Emulator
) -> None:
    url = controller.url.replace("http://", "https://")
    done = _cli("backup", "--insecure", "--controller-url", url, env=env)
    assert done.returncode == 6, done.stdout + done.stderr
    [line] = _error_lines(done.stderr)
    assert "answers in plain HTTP, not HTTPS (check the URL's scheme and port)" in line
    assert "VERIFY_TLS" not in line and "--insecure" not in line and "certificate" not in line


# -- refusals and their flags ---------------------------------------------------------------------


def test_the_shrink_rule_exits_10_and_names_its_flag(env: dict[str, str], controller: Emulator) -> None:
    with Emulator(EmulatorConfig(archive_size=400 * 1024, password=CONTROLLER_PASSWORD)) as big:
        assert _cli("backup", "--controller-url", big.url, env=env).returncode == 0
    refused = _cli("backup", env=env)
    assert refused.returncode == 10, refused.stdout + refused.stderr
    [line] = _error_lines(refused.stderr)
    assert line.startswith("error [refused]: the export") and "--allow-shrink" in line
    allowed = _cli("backup", "--json", "--allow-shrink", env=env)
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["allow_shrink"] is True


def test_force_is_gone_each_rule_has_its_own_flag(env: dict[str, str]) -> None:
    for command in ("backup", "restore"):
        done = _cli(command, "--force", env=env)
        assert done.returncode == 2 and "unrecognized arguments: --force" in done.stderr


def test_restore_with_target_url_needs_no_controller_url(
    env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    assert _cli("backup", env=env).returncode == 0
    without = {name: value for name, value in env.items() if name != "CONTROLLER_URL"}
    missing = _cli("restore", "--json", env=without)
    assert missing.returncode == 2 and "CONTROLLER_URL is required" in json.loads(missing.stdout)["error"]
    target = ("--target-url", blank_controller.url, "--private-ip", BLANK_PRIVATE_IP)
    done = _cli("restore", "--json", *target, env=without)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["target_origin"] == "operator" and result["controller"] == blank_controller.url
    assert blank_controller.export_sha256() == controller.export_sha256()


def test_an_auth_refusal_on_a_blank_replacement_hints_at_private_ip(
    env: dict[str, str], blank_controller: Emulator
) -> None:
    """CONTROLLER_URL is a fresh replacement (it took over the address): the configured password is
    refused, and the message says what its password is and which flag gives it."""
    assert _cli("backup", env=env).returncode == 0
    done = _cli("restore", "--controller-url", blank_controller.url, env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    [line] = _error_lines(done.stderr)
    assert line.startswith("error [auth]: ")
    assert "a fresh replacement, its admin password is its private IP: name it with --private-ip" in line
    given = _cli(
        "restore", "--controller-url", blank_controller.url, "--private-ip", BLANK_PRIVATE_IP, env=env
    )
    assert given.returncode == 0, given.stdout + given.stderr


def test_a_wrong_private_ip_says_which_password_was_tried(
    env: dict[str, str], blank_controller: Emulator
) -> None:
    assert _cli("backup", env=env).returncode == 0
    done = _cli("restore", "--target-url", blank_controller.url, "--private-ip", "10.9.9.9", env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    [line] = _error_lines(done.stderr)
    assert "a fresh replacement's admin password is its private IP: is the private IP given" in line
    assert "10.9.9.9" not in line  # it was a password: never shown
