"""Each Azure function, end to end: Azurite for the backup blob, the controller emulator over HTTP.

Malformed requests are the core's business (tests/unit/test_job_requests.py); here each entry
point only shows it answers the core's errors. The replacement route is in test_replacement.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from azure.functions import meta
from azure.functions.timer import TimerRequestConverter
from controller_backup.errors import InvalidExport, SettingsError, VerifyFailed, unexpected_failure
from controller_backup.stores import SizedSource, open_store
from controller_emulator import Emulator

from tests.fixtures.azurite_server import Azurite
from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.fixtures.listener import Listener

from .conftest import (
    EVENTS,
    App,
    arm,
    call,
    http_request,
    indexed,
    load_app,
    load_event,
    queue_message,
    timer_request,
)


def stored(env: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    buf = io.BytesIO()
    info = open_store(env["BACKUP_URL"]).download(buf)
    return buf.getvalue(), dict(info.metadata)


def answer(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


# -- the function groups and the bindings the host indexes -----------------------------------


def bindings(functions: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The function.json the worker reports to the host for `name`."""
    return list(json.loads(functions[name].get_function_json())["bindings"])


def test_each_app_registers_only_its_group() -> None:
    assert set(indexed(load_app("backup"))) == {"scheduled_backup", "scheduled_verify", "backup"}
    assert set(indexed(load_app("restore"))) == {"restore", "replacement_controller"}


@pytest.mark.parametrize("value", [None, "", "both", "Backup"])
def test_an_app_without_a_valid_group_fails_at_import(value: str | None) -> None:
    with pytest.raises(SettingsError) as caught:
        load_app(value)
    message = caught.value.message
    assert "CONTROLLER_BACKUP_FUNCTIONS must be backup" in message and "or restore" in message
    assert ("not set" in message) if not value else (repr(value) in message)


def test_bindings(functions: dict[str, Any]) -> None:
    assert set(functions) == {
        "scheduled_backup",
        "scheduled_verify",
        "backup",
        "restore",
        "replacement_controller",
    }
    for name, schedule in (
        ("scheduled_backup", "%BACKUP_SCHEDULE%"),
        ("scheduled_verify", "%VERIFY_SCHEDULE%"),
    ):
        timer = bindings(functions, name)[0]
        assert timer["type"] == "timerTrigger" and timer["schedule"] == schedule
        assert timer["runOnStartup"] is False  # it would fire on every scale-out
    retry = functions["scheduled_backup"].get_setting("retry_policy").get_dict_repr()
    assert int(retry["max_retry_count"]) >= 1  # timers are never retried unless told
    for name in ("backup", "restore"):
        trigger = bindings(functions, name)[0]
        assert trigger["type"] == "httpTrigger" and trigger["route"] == name
        assert trigger["methods"] == ["POST"] and trigger["authLevel"] == "FUNCTION"
    queue = bindings(functions, "replacement_controller")[0]
    assert queue["type"] == "queueTrigger" and queue["queueName"] == "controller-replacements"
    assert queue["connection"] == "AzureWebJobsStorage"


def test_host_json() -> None:
    host = json.loads((EVENTS.parents[2] / "functions" / "azure" / "host.json").read_text())
    assert host["version"] == "2.0"
    hours, minutes, _ = (int(p) for p in host["functionTimeout"].split(":"))
    assert hours * 60 + minutes >= 30  # a restore waits for a booting controller
    excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")
    assert {"Request", "Exception"} <= set(excluded)  # the alerts count requests: never sample them
    assert host["extensions"]["queues"]["batchSize"] == 1


# -- backups ---------------------------------------------------------------------------------


def test_timer_backup_end_to_end(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert call(app.functions, "scheduled_backup", timer_request("timer.json")) is None
    body, metadata = stored(app.env)
    assert hashlib.sha256(body).hexdigest() == app.controller.export_sha256() == metadata["sha256"]
    assert metadata["size"] == str(len(body))
    assert metadata["controller_version"]
    # the occurrence this run stands for: the status the host hands over, before the run, says Next
    assert "scheduled backup for 2026-11-25T00:00:00+00:00" in caplog.text


def test_timer_logs_past_due(
    functions: dict[str, Any], azure_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call(functions, "scheduled_backup", timer_request("timer_past_due.json"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("2026-11-24T00:00:00+00:00 is past due" in m for m in warnings), warnings


def test_timer_without_a_schedule_status_is_scheduled_now(
    functions: dict[str, Any], azure_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = datetime.now(UTC).replace(microsecond=0)
    # what the host sends without a schedule monitor: no status at all
    timer = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False}
    datum = meta.Datum(value=json.dumps(timer), type="json")
    call(functions, "scheduled_backup", TimerRequestConverter.decode(datum, trigger_metadata={}))
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("scheduled backup for "))
    when = datetime.fromisoformat(line.removeprefix("scheduled backup for "))
    assert before <= when <= datetime.now(UTC)


def test_timer_failure_raises_and_keeps_the_last_backup(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator
) -> None:
    call(functions, "scheduled_backup", timer_request("timer.json"))
    before = stored(azure_env)
    controller.faults.truncate_export = True
    with pytest.raises(InvalidExport):
        call(functions, "scheduled_backup", timer_request("timer.json"))
    assert stored(azure_env) == before


def test_http_backup(functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator) -> None:
    status, result = answer(call(functions, "backup", http_request("http_backup.json")))
    assert status == 200, result
    assert result["status"] == "ok" and result["sha256"] == controller.export_sha256()
    assert result["object"] == azure_env["BACKUP_URL"]
    assert stored(azure_env)[1]["sha256"] == result["sha256"]


def test_http_backup_empty_body_is_a_plain_backup(
    functions: dict[str, Any], azure_env: dict[str, str]
) -> None:
    status, result = answer(call(functions, "backup", http_request("http_backup.json", raw=b"")))
    assert status == 200 and result["status"] == "ok"


def test_http_backup_failure_is_5xx(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator
) -> None:
    controller.faults.export_error_envelope = True
    status, result = answer(call(functions, "backup", http_request("http_backup.json")))
    assert status >= 500 and result["status"] == "error" and result["code"]


def test_broken_deployment_is_5xx_not_400(
    functions: dict[str, Any], azure_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONTROLLER_URL")
    status, result = answer(call(functions, "backup", http_request("http_backup.json")))
    assert status == 500 and "CONTROLLER_URL" in result["error"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "the request body is not JSON"),
        (
            b'{"force": true}',
            "unknown field(s) force; allowed: action, all, allow_shrink, scheduled_time, trigger",
        ),
    ],
)
def test_http_backup_answers_the_cores_bad_request(
    functions: dict[str, Any], azure_env: dict[str, str], raw: bytes, error: str
) -> None:
    status, result = answer(call(functions, "backup", http_request("http_backup.json", raw=raw)))
    assert (status, result) == (400, {"status": "error", "code": "bad-request", "error": error})


def test_an_unexpected_exception_is_500_without_its_text(
    app: App, backup_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise KeyError("internal detail 7f3a")

    app.monkeypatch.setattr(backup_app, "run_check", broken)
    status, result = answer(call(app.functions, "backup", http_request("http_check.json")))
    assert (status, result) == (500, unexpected_failure())
    assert "internal detail 7f3a" in caplog.text  # the traceback is in the log only


def test_readiness_check_by_timer_and_http_names_a_tampered_copy(
    app: App, azurite_env: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    functions, azure_env = app.functions, app.env
    caplog.set_level(logging.INFO)
    call(functions, "scheduled_backup", timer_request("timer.json"))
    assert call(functions, "scheduled_verify", timer_request("timer.json")) is None
    assert "verify passed: 1 destination(s)" in caplog.text
    # a copy in another container, one byte altered under its recorded sha256
    body, metadata = stored(azure_env)
    copy = f"azblob://devstoreaccount1/{azurite_env.new_container()}/controller-backup.enc"
    open_store(copy).put(SizedSource.of(bytes([body[0] ^ 1]) + body[1:]), metadata)
    app.monkeypatch.setenv("BACKUP_COPY_URLS", copy)
    with pytest.raises(VerifyFailed):
        call(functions, "scheduled_verify", timer_request("timer.json"))
    assert f"verify failed [integrity] {copy}: " in caplog.text
    status, result = answer(call(functions, "backup", http_request("http_backup.json", {"action": "verify"})))
    assert status == 500 and result["code"] == "verify-failed" and copy in result["error"]
    primary = http_request("http_backup.json", {"action": "verify", "all": False})
    status, result = answer(call(functions, "backup", primary))
    assert status == 200 and result["status"] == "ok" and result["sha256"] == metadata["sha256"]
    assert [found["url"] for found in result["destinations"]] == [azure_env["BACKUP_URL"]]


# -- the preflight check ---------------------------------------------------------------------


def test_http_check_reports_and_changes_nothing(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    status, report = answer(call(app.functions, "backup", http_request("http_check.json")))
    assert status == 200, report
    assert report["status"] == "ok" and report["job"] == "check"
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["login"] == verdicts["store-write"] == "ok"
    # an empty Azurite container: no blob yet, and so no version id to read versioning by
    assert verdicts["store-read"] == verdicts["store-versioning"] == "warn"
    assert open_store(app.env["BACKUP_URL"]).head() is None
    assert not any(action == "export_config" for _, _, action in app.controller.requests)
    assert "check result" in caplog.text and "backup result" not in caplog.text


def test_http_check_with_a_failing_line_is_200_with_status_fail(app: App) -> None:
    app.monkeypatch.setenv("TEST_WRONG_PASSWORD", "not-the-password")
    app.monkeypatch.setenv("CONTROLLER_PASSWORD", "env:TEST_WRONG_PASSWORD")
    status, report = answer(call(app.functions, "backup", http_request("http_check.json")))
    assert status == 200 and report["status"] == "fail"
    assert {line["name"]: line["verdict"] for line in report["checks"]}["login"] == "fail"


# -- restores to an address ------------------------------------------------------------------


def imports(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r[2] == "import_config"]


def test_http_restore_onto_blank_controller_then_idempotent(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    """A blank controller at CONTROLLER_URL's host, keyed by the caller: restored once."""
    assert answer(call(functions, "backup", http_request("http_backup.json")))[0] == 200
    body = {
        "controller_url": blank_controller.url,
        "private_ip": BLANK_PRIVATE_IP,
        "idempotency_key": "ticket-42",
    }
    status, result = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 200, result
    assert result["status"] == "ok" and result["verified"] is True
    assert result["target_origin"] == "allowed"
    assert blank_controller.export_sha256() == controller.export_sha256()
    done = imports(blank_controller)
    status, again = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 200 and again["status"] == "already-restored"
    assert imports(blank_controller) == done
    marker = open_store(f"{azure_env['BACKUP_URL']}.restores/request-ticket-42.json").head()
    assert marker is not None and marker.metadata["status"] == "done"


def test_http_restore_dry_run_changes_nothing(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    before = blank_controller.export_sha256()
    body = {**load_event("http_restore_dry_run.json")["body"], "controller_url": blank_controller.url}
    status, result = answer(call(functions, "restore", http_request("http_restore_dry_run.json", body)))
    assert status == 200 and result["status"] == "dry-run"
    assert blank_controller.export_sha256() == before
    assert not imports(blank_controller)


def test_http_restore_onto_configured_controller_is_refused_409(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    status, result = answer(call(functions, "restore", http_request("http_restore.json", {})))
    assert status == 409 and result["code"] == "refused"


def test_http_restore_without_backup_is_404(functions: dict[str, Any], azure_env: dict[str, str]) -> None:
    status, result = answer(call(functions, "restore", http_request("http_restore.json", {"dry_run": True})))
    assert status == 404 and result["code"] == "not-found"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[1, 2]", "the request body must be a JSON object"),
        (b'{"vm_id": "6e1f3b8a-2c4d-4f5e-9a7b-0c1d2e3f4a5b"}', "unknown field(s) vm_id; allowed: action, "),
    ],
)
def test_http_restore_answers_the_cores_bad_request(
    functions: dict[str, Any], azure_env: dict[str, str], raw: bytes, error: str
) -> None:
    status, result = answer(call(functions, "restore", http_request("http_restore.json", raw=raw)))
    assert status == 400 and result["code"] == "bad-request" and result["error"].startswith(error), result


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as it:
        yield it


def test_http_restore_to_a_url_not_allowed_is_403_before_any_connection(
    functions: dict[str, Any], azure_env: dict[str, str], listener: Listener
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    body = {"controller_url": listener.url.replace("127.0.0.1", "localhost"), "private_ip": "10.0.0.10"}
    status, result = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 403 and result["code"] == "forbidden-target", result
    assert "RESTORE_ALLOWED_TARGETS" in result["error"]
    assert listener.connections == 0 and listener.received == b""


# -- secrets never reach a log ---------------------------------------------------------------


def test_no_password_or_cid_in_any_log(
    app: App,
    blank_controller: Emulator,
    arm_fake: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    functions, controller = app.functions, app.controller
    caplog.set_level(logging.DEBUG)
    logging.getLogger("azure").setLevel(logging.DEBUG)
    outputs = []
    controller.faults.fail_next_5xx = 1
    call(functions, "scheduled_backup", timer_request("timer.json"))
    outputs.append(call(functions, "backup", http_request("http_backup.json")).get_body().decode())
    outputs.append(call(functions, "backup", http_request("http_check.json")).get_body().decode())
    controller.faults.export_error_envelope = True
    outputs.append(call(functions, "backup", http_request("http_backup.json")).get_body().decode())
    app.monkeypatch.setenv("REPLACEMENT_URL", blank_controller.url)
    arm_fake(arm())
    call(
        functions, "replacement_controller", queue_message((EVENTS / "eventgrid_vm_write.json").read_bytes())
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    issued = controller.state.issued + blank_controller.state.issued
    assert issued, "the emulators handed out no CID: the test would prove nothing"
    text = caplog.text + capsys.readouterr().err + "\n".join(outputs)
    assert "backup result" in caplog.text and "restore result" in caplog.text
    for secret in [CONTROLLER_PASSWORD, *issued]:
        assert secret not in text, "a secret reached a log line or an answer"
