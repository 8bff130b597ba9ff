"""Each Azure function, end to end: Azurite for the backup blob, the controller emulator over HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from types import ModuleType
from typing import Any

import pytest
import requests
from controller_backup.emulator import Emulator
from controller_backup.errors import InvalidExport, NotReadyError
from controller_backup.stores import open_store

from tests.fixtures.controller import CONTROLLER_PASSWORD

from .conftest import EVENTS, call, http_request, load_event, queue_message, timer_request
from .fakes import Answer, FakeCredential, fake_transport

VM_ID = "6e1f3b8a-2c4d-4f5e-9a7b-0c1d2e3f4a5b"


def stored(env: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    buf = io.BytesIO()
    info = open_store(env["BACKUP_URL"]).download(buf)
    return buf.getvalue(), dict(info.metadata)


def answer(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


# -- the bindings the host indexes -----------------------------------------------------------


def bindings(functions: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The function.json the worker reports to the host for `name`."""
    return list(json.loads(functions[name].get_function_json())["bindings"])


def test_bindings(functions: dict[str, Any]) -> None:
    assert set(functions) == {"scheduled_backup", "backup", "restore", "replacement_controller"}
    timer = bindings(functions, "scheduled_backup")[0]
    assert timer["type"] == "timerTrigger" and timer["schedule"] == "%BACKUP_SCHEDULE%"
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


def test_timer_backup_end_to_end(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator
) -> None:
    assert call(functions, "scheduled_backup", timer_request("timer.json")) is None
    body, metadata = stored(azure_env)
    assert hashlib.sha256(body).hexdigest() == controller.export_sha256() == metadata["sha256"]
    assert metadata["size"] == str(len(body))
    assert metadata["controller_version"]


def test_timer_logs_past_due(
    functions: dict[str, Any], azure_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call(functions, "scheduled_backup", timer_request("timer_past_due.json"))
    assert any("past due" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


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
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"force": "yes"}', "force must be a boolean"),
        (b'{"forse": true}', "unknown field"),
    ],
)
def test_http_backup_bad_input_is_400(
    functions: dict[str, Any], azure_env: dict[str, str], raw: bytes, reason: str
) -> None:
    status, result = answer(call(functions, "backup", http_request("http_backup.json", raw=raw)))
    assert status == 400 and reason in result["error"] and result["code"] == "bad-request"


# -- the preflight check ---------------------------------------------------------------------


def test_http_check_reports_and_changes_nothing(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    status, report = answer(call(functions, "backup", http_request("http_check.json")))
    assert status == 200, report
    assert report["status"] == "ok" and report["job"] == "check"
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["login"] == verdicts["store-write"] == "ok"
    # an empty Azurite container: no blob yet, and so no version id to read versioning by
    assert verdicts["store-read"] == verdicts["store-versioning"] == "warn"
    assert open_store(azure_env["BACKUP_URL"]).head() is None
    assert not any(action == "export_config" for _, _, action in controller.requests)
    assert "check result" in caplog.text and "backup result" not in caplog.text


def test_http_check_with_a_failing_line_is_200_with_status_fail(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_WRONG_PASSWORD", "not-the-password")
    monkeypatch.setenv("CONTROLLER_PASSWORD", "env:TEST_WRONG_PASSWORD")
    status, report = answer(call(functions, "backup", http_request("http_check.json")))
    assert status == 200 and report["status"] == "fail"
    assert {line["name"]: line["verdict"] for line in report["checks"]}["login"] == "fail"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"action": "check", "force": True}, "a check takes no other field"),
        ({"action": "restore"}, 'action must be "backup" or "check"'),
        ({"action": 1}, "action must be a string"),
    ],
)
def test_http_backup_bad_action_is_400(
    functions: dict[str, Any], azure_env: dict[str, str], body: dict[str, Any], reason: str
) -> None:
    status, result = answer(call(functions, "backup", http_request("http_check.json", body)))
    assert status == 400 and reason in result["error"], result


# -- restores --------------------------------------------------------------------------------


def test_http_restore_onto_blank_controller_then_idempotent(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    assert answer(call(functions, "backup", http_request("http_backup.json")))[0] == 200
    body = {**load_event("http_restore.json")["body"], "controller_url": blank_controller.url}
    status, result = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 200, result
    assert result["status"] == "ok" and result["verified"] is True
    assert blank_controller.export_sha256() == controller.export_sha256()
    imports = [r for r in blank_controller.requests if r[2] == "import_config"]
    status, again = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 200 and again["status"] == "already-restored"
    assert [r for r in blank_controller.requests if r[2] == "import_config"] == imports


def test_http_restore_dry_run_changes_nothing(
    functions: dict[str, Any], azure_env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    before = blank_controller.export_sha256()
    body = {**load_event("http_restore_dry_run.json")["body"], "controller_url": blank_controller.url}
    status, result = answer(call(functions, "restore", http_request("http_restore_dry_run.json", body)))
    assert status == 200 and result["status"] == "dry-run"
    assert blank_controller.export_sha256() == before
    assert not [r for r in blank_controller.requests if r[2] == "import_config"]


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
    ("body", "reason"),
    [
        ({"private_ip": "10.0.0.300"}, "private_ip must be an IP address"),
        ({"controller_url": "ftp://10.0.0.10"}, "controller_url"),
        ({"dry_run": "true"}, "dry_run must be a boolean"),
        ({"vm_id": "../../etc"}, "idempotency key"),
        ({"version": "x"}, "unknown field"),
    ],
)
def test_http_restore_bad_input_is_400(
    functions: dict[str, Any], azure_env: dict[str, str], body: dict[str, Any], reason: str
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    status, result = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 400 and reason in result["error"], result


# -- the replacement controller route --------------------------------------------------------


def arm(vm: dict[str, Any] | None = None, *, forbidden: bool = False):  # type: ignore[no-untyped-def]
    """An ARM fake answering the VM and NIC reads with the stored payloads."""
    vm = vm or load_event("arm_vm.json")
    nic = load_event("arm_nic.json")

    def handle(request: requests.PreparedRequest) -> Answer:
        assert request.headers["Authorization"] == "Bearer fake-aad-token-5f2c9d"
        path = (request.url or "").split("?")[0].removeprefix("https://management.azure.com")
        if forbidden:
            error = {
                "error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}
            }
            return 403, {"Content-Type": "application/json"}, json.dumps(error).encode()
        for resource in (vm, nic):
            if path.lower() == resource["id"].lower():
                return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(resource).encode()
        error = {"error": {"code": "ResourceNotFound", "message": "The Resource was not found."}}
        return 404, {"Content-Type": "application/json"}, json.dumps(error).encode()

    return handle


@pytest.fixture
def arm_fake(function_app: ModuleType, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import replacement_vm

    def install(handler: Any) -> list[requests.PreparedRequest]:
        transport, seen = fake_transport(handler)
        reader = replacement_vm.ArmReader(FakeCredential(), transport=transport)
        monkeypatch.setattr(function_app, "_arm_reader", lambda: reader)
        return seen

    return install


def test_replacement_vm_event_restores_once(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    arm_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    monkeypatch.setenv("REPLACEMENT_CONTROLLER_URL", blank_controller.url)
    seen = arm_fake(arm())
    write = (EVENTS / "eventgrid_vm_write.json").read_bytes()
    assert call(functions, "replacement_controller", queue_message(write)) is None
    assert blank_controller.export_sha256() == controller.export_sha256()
    assert any("networkInterfaces/avx-controller-2-nic" in (r.url or "") for r in seen)
    # the same VM's start event (at-least-once delivery, or a reboot) restores nothing again
    imports = [r for r in blank_controller.requests if r[2] == "import_config"]
    call(
        functions, "replacement_controller", queue_message((EVENTS / "eventgrid_vm_start.json").read_bytes())
    )
    assert [r for r in blank_controller.requests if r[2] == "import_config"] == imports
    marker = open_store(f"{azure_env['BACKUP_URL']}.restores/{VM_ID}.json").head()
    assert marker is not None and marker.metadata["status"] == "done"


def test_replacement_default_url_is_the_private_ip(
    functions: dict[str, Any],
    function_app: ModuleType,
    azure_env: dict[str, str],
    arm_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without REPLACEMENT_CONTROLLER_URL the target is https://<private ip>, keyed by the VM id."""
    calls: list[dict[str, Any]] = []

    def capture(settings: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise NotReadyError("still booting")

    monkeypatch.delenv("REPLACEMENT_CONTROLLER_URL", raising=False)
    monkeypatch.setattr(function_app, "run_restore", capture)
    arm_fake(arm())
    with pytest.raises(NotReadyError):  # raised, so the queue delivers the message again later
        call(
            functions,
            "replacement_controller",
            queue_message((EVENTS / "eventgrid_vm_write.json").read_bytes()),
        )
    assert calls == [
        {"controller_url": "https://10.0.0.10", "private_ip": "10.0.0.10", "idempotency_key": VM_ID}
    ]


def test_untagged_vm_and_other_resources_are_ignored(
    functions: dict[str, Any], azure_env: dict[str, str], arm_fake: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    vm = load_event("arm_vm.json")
    vm["tags"] = {"owner": "network-team"}
    seen = arm_fake(arm(vm))
    call(
        functions, "replacement_controller", queue_message((EVENTS / "eventgrid_vm_write.json").read_bytes())
    )
    assert "not tagged controller-backup-role=replacement" in caplog.text
    nic_event = (EVENTS / "eventgrid_nic_write.json").read_bytes()
    reads = len(seen)
    call(functions, "replacement_controller", queue_message(nic_event))
    assert len(seen) == reads  # not a VM event: no ARM read at all


def test_malformed_queue_message_raises(functions: dict[str, Any], azure_env: dict[str, str]) -> None:
    from controller_backup.errors import BadRequest

    with pytest.raises(BadRequest):
        call(functions, "replacement_controller", queue_message(b"not an event"))


def test_arm_forbidden_names_the_role(
    functions: dict[str, Any], azure_env: dict[str, str], arm_fake: Any
) -> None:
    from controller_backup.errors import AccessDenied

    arm_fake(arm(forbidden=True))
    with pytest.raises(AccessDenied, match="Reader"):
        call(
            functions,
            "replacement_controller",
            queue_message((EVENTS / "eventgrid_vm_write.json").read_bytes()),
        )


def test_replacement_onto_configured_controller_logs_error_without_retry(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    arm_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call(functions, "backup", http_request("http_backup.json"))
    monkeypatch.setenv("REPLACEMENT_CONTROLLER_URL", controller.url)
    arm_fake(arm())
    caplog.set_level(logging.INFO)
    call(
        functions, "replacement_controller", queue_message((EVENTS / "eventgrid_vm_start.json").read_bytes())
    )
    assert any(r.levelno == logging.ERROR and "refused" in r.getMessage() for r in caplog.records)


# -- secrets never reach a log ---------------------------------------------------------------


def test_no_password_or_cid_in_any_log(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    arm_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("azure").setLevel(logging.DEBUG)
    outputs = []
    controller.faults.fail_next_5xx = 1
    call(functions, "scheduled_backup", timer_request("timer.json"))
    outputs.append(call(functions, "backup", http_request("http_backup.json")).get_body().decode())
    outputs.append(call(functions, "backup", http_request("http_check.json")).get_body().decode())
    controller.faults.export_error_envelope = True
    outputs.append(call(functions, "backup", http_request("http_backup.json")).get_body().decode())
    monkeypatch.setenv("REPLACEMENT_CONTROLLER_URL", blank_controller.url)
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
