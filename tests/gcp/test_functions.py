"""The Cloud Functions end to end: functions-framework serving main.py over real HTTP (and its test
client), fake-gcs-server as the bucket, the controller emulators as source and replacement."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from controller_backup.emulator import Emulator
from google.cloud import storage

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.integration.helpers import actions

from .conftest import PROJECT, ServedFunction, create_app, load_event

Serve = Callable[[str], ServedFunction]


def _stored(env: dict[str, str]) -> Any:
    bucket, _, key = env["BACKUP_URL"].removeprefix("gs://").partition("/")
    return storage.Client(project=PROJECT).bucket(bucket).get_blob(key)


def _generations(env: dict[str, str]) -> list[int]:
    bucket, _, key = env["BACKUP_URL"].removeprefix("gs://").partition("/")
    blobs = storage.Client(project=PROJECT).list_blobs(bucket, prefix=key, versions="true")
    return sorted(int(b.generation) for b in blobs if b.name == key)


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object Cloud Logging can parse."""
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    for entry in parsed:
        assert entry["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, entry
        assert isinstance(entry["message"], str)
    return parsed


def _binary_mode(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The same CloudEvent in binary mode: attributes as ce- headers, data as the body."""
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = event.get("datacontenttype", "application/json")
    return headers, json.dumps(event["data"]).encode()


def _structured_mode(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/cloudevents+json; charset=utf-8"}, json.dumps(event).encode()


def _pubsub_event(body: object) -> dict[str, Any]:
    event = load_event("pubsub_backup.json")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    event["data"]["message"]["data"] = base64.b64encode(raw).decode()
    return event


def _post_event(fn: ServedFunction, event: dict[str, Any], mode: str = "binary") -> requests.Response:
    headers, body = (_binary_mode if mode == "binary" else _structured_mode)(event)
    return requests.post(fn.url, data=body, headers=headers, timeout=60)


# -- backup --------------------------------------------------------------------------------------


def test_scheduled_backup_over_http(
    function_env: dict[str, str], controller: Emulator, serve: Serve, capfd: pytest.CaptureFixture[str]
) -> None:
    """Cloud Scheduler's request, as recorded in tests/events/gcp, through a real HTTP server."""
    fn = serve("backup_http")
    call = load_event("scheduler_backup_request.json")
    capfd.readouterr()
    response = requests.post(fn.url, json=call["body"], headers=call["headers"], timeout=60)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "ok"
    assert result["object"] == function_env["BACKUP_URL"]
    assert result["sha256"] == controller.export_sha256()
    assert result["controller_version"] == "8.0.1-1000.1000"
    assert isinstance(result["duration_ms"], int)
    blob = _stored(function_env)
    assert str(blob.generation) == result["version_id"]
    assert blob.metadata["sha256"] == result["sha256"] and int(blob.metadata["size"]) == result["size"]
    logs = _json_lines(capfd.readouterr().out)
    # the fields the Terraform log-based metric counts: jsonPayload.result.job / .status
    done = [e for e in logs if e.get("result", {}).get("status") == "ok"]
    assert done and done[-1]["severity"] == "INFO" and done[-1]["result"]["job"] == "backup"
    assert (
        done[-1]["logging.googleapis.com/trace"]
        == f"projects/{PROJECT}/traces/105445aa7843bc8bf206b12000100000"
    )
    assert any("backup started (trigger=schedule)" in e["message"] for e in logs)


def test_on_demand_backup_through_the_test_client(function_env: dict[str, str], controller: Emulator) -> None:
    client = create_app("backup_http").test_client()
    first = client.post("/", json={})
    assert first.status_code == 200, first.get_data(as_text=True)
    second = client.post("/?force=true", json={"trigger": "manual"})
    assert second.status_code == 200
    assert second.get_json()["forced"] is True
    assert second.get_json()["version_id"] != first.get_json()["version_id"]
    assert len(_generations(function_env)) == 2


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_pubsub_backup_event(
    function_env: dict[str, str], controller: Emulator, serve: Serve, mode: str
) -> None:
    fn = serve("backup_event")
    response = _post_event(fn, load_event("pubsub_backup.json"), mode)
    assert response.status_code == 200, response.text
    blob = _stored(function_env)
    assert blob is not None and blob.metadata["sha256"] == controller.export_sha256()
    assert blob.metadata["controller"] == controller.url


def test_pubsub_empty_message_backs_up(function_env: dict[str, str], controller: Emulator) -> None:
    client = create_app("backup_event").test_client()
    headers, body = _binary_mode(_pubsub_event(b""))
    assert client.post("/", data=body, headers=headers).status_code == 200
    assert _stored(function_env) is not None


def test_pubsub_malformed_message_is_acknowledged_not_retried(
    function_env: dict[str, str], controller: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    client = create_app("backup_event").test_client()
    capfd.readouterr()
    headers, body = _binary_mode(_pubsub_event({"force": "perhaps"}))
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 200  # acked: a retry cannot fix it
    assert _stored(function_env) is None
    logs = _json_lines(capfd.readouterr().out)
    assert any(e["severity"] == "ERROR" and "force must be true or false" in e["message"] for e in logs)


def test_pubsub_backup_failure_raises_for_a_retry(
    function_env: dict[str, str], blank_controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blank controller's export must never replace a backup: the event fails loudly (HTTP 500)."""
    monkeypatch.setenv("CONTROLLER_URL", blank_controller.url)
    monkeypatch.setenv("CONTROLLER_PASSWORD", "env:BLANK_PW")
    monkeypatch.setenv("BLANK_PW", BLANK_PRIVATE_IP)
    client = create_app("backup_event").test_client()
    headers, body = _binary_mode(load_event("pubsub_backup.json"))
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 500
    assert _stored(function_env) is None


def test_failed_backup_answers_5xx_and_keeps_the_stored_object(
    function_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = create_app("backup_http").test_client()
    good = client.post("/", json={}).get_json()
    monkeypatch.setenv("CONTROLLER_URL", blank_controller.url)
    monkeypatch.setenv("CONTROLLER_PASSWORD", "env:BLANK_PW")
    monkeypatch.setenv("BLANK_PW", BLANK_PRIVATE_IP)
    response = client.post("/", json={"force": True})
    assert response.status_code == 502
    assert response.get_json()["code"] == "invalid-export"
    assert str(_stored(function_env).generation) == good["version_id"]


def test_wrong_password_is_a_5xx_auth_failure_and_never_shown(
    function_env: dict[str, str],
    controller: Emulator,
    secret_manager_server: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    name = secret_manager_server.add(PROJECT, "controller-password", b"not-the-password", version="1")
    assert name.endswith("/1")
    client = create_app("backup_http").test_client()
    capfd.readouterr()
    response = client.post("/", json={})
    assert response.status_code == 502
    assert response.get_json()["code"] == "auth"
    captured = capfd.readouterr()
    for text in (response.get_data(as_text=True), captured.out, captured.err):
        assert "not-the-password" not in text and CONTROLLER_PASSWORD not in text
    assert any(e["severity"] == "ERROR" for e in _json_lines(captured.out))


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "must be a JSON object"),
        (b'{"force": "perhaps"}', "application/json", "force must be true or false"),
        (b'{"forse": true}', "application/json", "unknown field(s) forse"),
        (b'{"trigger": "Drop Table"}', "application/json", "trigger must be"),
    ],
)
def test_backup_bad_input_is_400_with_the_reason(
    function_env: dict[str, str], controller: Emulator, body: bytes, content_type: str, reason: str
) -> None:
    client = create_app("backup_http").test_client()
    response = client.post("/", data=body, content_type=content_type)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert _stored(function_env) is None


def test_backup_get_is_405(function_env: dict[str, str]) -> None:
    response = create_app("backup_http").test_client().get("/")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_missing_settings_are_500_naming_each_variable_and_logged_as_errors(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP_URL")
    monkeypatch.setenv("CONTROLLER_URL", "ftp://controller")
    client = create_app("backup_http").test_client()
    capfd.readouterr()
    response = client.post("/", json={})
    assert response.status_code == 500  # the deployment is broken, not the caller's request
    error = response.get_json()["error"]
    assert "BACKUP_URL is required" in error and "CONTROLLER_URL" in error
    # a broken deployment must reach the error alert, unlike a caller's bad input
    logs = _json_lines(capfd.readouterr().out)
    assert any(e["severity"] == "ERROR" and "BACKUP_URL is required" in e["message"] for e in logs)


# -- the preflight check ------------------------------------------------------------------------


def test_check_over_http_reports_and_changes_nothing(
    function_env: dict[str, str], controller: Emulator, serve: Serve, capfd: pytest.CaptureFixture[str]
) -> None:
    """An operator's check, as recorded in tests/events/gcp, through a real HTTP server."""
    _backup_now()
    generations = _generations(function_env)
    controller.requests.clear()
    fn = serve("backup_http")
    call = load_event("check_http_request.json")
    capfd.readouterr()
    response = requests.post(fn.url, json=call["body"], headers=call["headers"], timeout=60)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "ok" and report["job"] == "check"
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["secret:CONTROLLER_PASSWORD"] == "ok"  # the gcp-sm: reference
    assert report["checks"][1]["detail"] == (
        f"gcp-sm reference projects/{PROJECT}/secrets/controller-password/versions/1 resolves"
    )
    assert verdicts["login"] == verdicts["store-read"] == verdicts["store-write"] == "ok"
    assert verdicts["store-versioning"] == "ok"  # the versioned bucket on fake-gcs-server
    assert _generations(function_env) == generations
    assert not any(action == "export_config" for _, _, action in controller.requests)
    logs = _json_lines(capfd.readouterr().out)
    # logged as a check, so the "backup succeeded" log-based metric (result.job=backup) ignores it
    done = [e for e in logs if e.get("result", {}).get("job") == "check"]
    assert done and done[-1]["message"].startswith("check ok in ")
    assert not any(e.get("result", {}).get("job") == "backup" for e in logs)


def test_a_failing_check_is_200_with_status_fail(
    function_env: dict[str, str], controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_URL", "gs://no-such-bucket-for-the-check/controller.tar")
    response = create_app("backup_http").test_client().post("/", json={"action": "check"})
    assert response.status_code == 200
    report = response.get_json()
    assert report["status"] == "fail"
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["store-write"] == "fail" and verdicts["login"] == "ok"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"action": "check", "force": True}, "a check takes no other field than action (got force)"),
        ({"action": "restore"}, 'action must be "backup" or "check"'),
    ],
)
def test_bad_action_is_400(function_env: dict[str, str], body: dict[str, Any], reason: str) -> None:
    response = create_app("backup_http").test_client().post("/", json=body)
    assert response.status_code == 400 and reason in response.get_json()["error"]


# -- restore -------------------------------------------------------------------------------------


def _backup_now() -> dict[str, Any]:
    response = create_app("backup_http").test_client().post("/", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def test_restore_onto_a_blank_controller_over_http(
    function_env: dict[str, str], controller: Emulator, blank_controller: Emulator, serve: Serve
) -> None:
    backed_up = _backup_now()
    fn = serve("restore_http")
    body = {
        "controller_url": blank_controller.url,
        "private_ip": BLANK_PRIVATE_IP,
        "idempotency_key": "manual-1",
    }
    dry = requests.post(fn.url, json={**body, "dry_run": True}, timeout=60)
    assert dry.status_code == 200, dry.text
    assert dry.json()["status"] == "dry-run"
    assert actions(blank_controller, "import_config") == 0
    response = requests.post(fn.url, json=body, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "ok" and result["verified"] is True
    assert result["sha256"] == backed_up["sha256"] == controller.export_sha256()
    assert blank_controller.export_sha256() == controller.export_sha256()
    again = requests.post(fn.url, json=body, timeout=60)
    assert again.status_code == 200 and again.json()["status"] == "already-restored"
    assert actions(blank_controller, "import_config") == 1


def test_restore_a_given_version(
    function_env: dict[str, str], controller: Emulator, blank_controller: Emulator
) -> None:
    first = _backup_now()
    _backup_now()
    client = create_app("restore_http").test_client()
    response = client.post(
        "/",
        json={
            "controller_url": blank_controller.url,
            "private_ip": BLANK_PRIVATE_IP,
            "version_id": first["version_id"],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["version_id"] == first["version_id"]


def test_recorded_restore_request_is_accepted(
    function_env: dict[str, str], controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's request stored in tests/events/gcp parses (a dry run into an unreachable IP
    then fails on the controller, not on the input)."""
    _backup_now()
    monkeypatch.setenv("CONTROLLER_READY_TIMEOUT", "1")
    call = load_event("restore_http_request.json")
    client = create_app("restore_http").test_client()
    body = {**call["body"], "controller_url": "http://127.0.0.1:9"}
    response = client.post("/", json=body, headers=call["headers"])
    assert response.status_code in (500, 503)
    assert response.get_json()["code"] in ("not-ready", "timeout", "controller")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"dry_run": "maybe"}, "dry_run must be true or false"),
        ({"private_ip": "10.0.0.300"}, "private_ip must be an IP address"),
        ({"controller_url": "ftp://x"}, "controller_url must look like"),
        ({"version": "1"}, "unknown field(s) version"),
        ({"idempotency_key": "../../etc"}, "idempotency key"),
    ],
)
def test_restore_bad_input_is_400(
    function_env: dict[str, str], controller: Emulator, body: dict[str, Any], reason: str
) -> None:
    _backup_now()
    response = create_app("restore_http").test_client().post("/", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert reason in response.get_json()["error"]


def test_restore_of_a_missing_backup_is_404(function_env: dict[str, str], blank_controller: Emulator) -> None:
    response = (
        create_app("restore_http")
        .test_client()
        .post("/", json={"controller_url": blank_controller.url, "private_ip": BLANK_PRIVATE_IP})
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "not-found"


# -- restore on a replacement instance (Eventarc, Cloud Audit Logs) ------------------------------


@pytest.fixture
def replacement_env(
    function_env: dict[str, str], blank_controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("RESTORE_INSTANCE_NAME_PATTERN", r"aviatrix-controller-.*")
    # The emulator listens on loopback; a deployment keeps the default https://{ip}.
    monkeypatch.setenv("RESTORE_TARGET_URL", blank_controller.url)
    return function_env


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_replacement_instance_is_restored_once(
    replacement_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    compute_api: Any,
    serve: Serve,
    mode: str,
) -> None:
    _backup_now()
    compute_api.instances["aviatrix-controller-x7k2"] = BLANK_PRIVATE_IP
    fn = serve("restore_event")
    event = load_event("audit_instance_insert_done.json")
    response = _post_event(fn, event, mode)
    assert response.status_code == 200, response.text
    assert compute_api.requests == [
        f"/compute/v1/projects/{PROJECT}/zones/us-central1-a/instances/aviatrix-controller-x7k2"
    ]
    assert blank_controller.export_sha256() == controller.export_sha256()
    # Eventarc delivers at least once: the same event again is a no-op.
    again = _post_event(fn, event, mode)
    assert again.status_code == 200
    assert actions(blank_controller, "import_config") == 1
    marker = storage.Client(project=PROJECT).bucket(replacement_env["BACKUP_URL"].split("/")[2])
    names = [b.name for b in marker.list_blobs(prefix="controllers/aviatrix-controller.tar.restores/")]
    assert names == ["controllers/aviatrix-controller.tar.restores/8234962317750186311.json"]


def test_request_ip_is_used_without_a_lookup(
    replacement_env: dict[str, str], controller: Emulator, blank_controller: Emulator, compute_api: Any
) -> None:
    _backup_now()
    event = load_event("audit_instance_insert_done.json")
    event["data"]["protoPayload"]["request"]["networkInterfaces"] = [{"networkIP": BLANK_PRIVATE_IP}]
    headers, body = _binary_mode(event)
    assert create_app("restore_event").test_client().post("/", data=body, headers=headers).status_code == 200
    assert compute_api.requests == []
    assert blank_controller.export_sha256() == controller.export_sha256()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda e: e.update(load_event("audit_instance_insert_first.json")), "first audit entry"),
        (
            lambda e: e["data"]["protoPayload"].update(
                resourceName="projects/network-ops-prod/zones/us-central1-a/instances/web-1"
            ),
            "not a controller",
        ),
        (lambda e: e["data"]["protoPayload"].update(methodName="v1.compute.instances.delete"), "ignoring"),
        (lambda e: e["data"]["protoPayload"].update(status={"code": 3}), "failed insert"),
    ],
)
def test_other_audit_entries_are_ignored(
    replacement_env: dict[str, str],
    blank_controller: Emulator,
    compute_api: Any,
    change: Callable[[dict[str, Any]], None],
    why: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    event = load_event("audit_instance_insert_done.json")
    change(event)
    headers, body = _binary_mode(event)
    capfd.readouterr()
    response = create_app("restore_event").test_client().post("/", data=body, headers=headers)
    assert response.status_code == 200
    assert actions(blank_controller, "import_config") == 0 and compute_api.requests == []
    assert any(why in e["message"] for e in _json_lines(capfd.readouterr().out))


def test_replacement_without_a_name_pattern_fails_loudly(
    function_env: dict[str, str], blank_controller: Emulator
) -> None:
    headers, body = _binary_mode(load_event("audit_instance_insert_done.json"))
    response = create_app("restore_event").test_client().post("/", data=body, headers=headers)
    assert response.status_code == 500
    assert actions(blank_controller, "import_config") == 0


def test_not_an_audit_event_is_acknowledged(
    replacement_env: dict[str, str], blank_controller: Emulator
) -> None:
    headers, body = _binary_mode(load_event("pubsub_backup.json"))
    response = create_app("restore_event").test_client().post("/", data=body, headers=headers)
    assert response.status_code == 200
    assert actions(blank_controller, "import_config") == 0


# -- secrets never leak -------------------------------------------------------------------------


def test_no_password_cid_or_token_in_any_log_or_answer(
    replacement_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    compute_api: Any,
    serve: Serve,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    compute_api.instances["aviatrix-controller-x7k2"] = BLANK_PRIVATE_IP
    answers = [
        requests.post(serve("backup_http").url, json={"trigger": "schedule"}, timeout=60),
        requests.post(serve("backup_http").url, json={"action": "check"}, timeout=60),
        _post_event(serve("backup_event"), load_event("pubsub_backup.json"), "structured"),
        _post_event(serve("restore_event"), load_event("audit_instance_insert_done.json")),
        requests.post(serve("restore_http").url, json={"dry_run": True, "force": True}, timeout=60),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200], [a.text for a in answers]
    assert blank_controller.export_sha256() == controller.export_sha256()
    issued_secrets = controller.state.issued + blank_controller.state.issued
    assert len(issued_secrets) >= 4, "the emulators issued no CIDs: the check would prove nothing"
    captured = capfd.readouterr()
    everything = "\n".join([captured.out, captured.err, caplog.text, *(a.text for a in answers)])
    _json_lines(captured.out)
    assert CONTROLLER_PASSWORD not in everything
    for secret in issued_secrets:
        assert secret not in everything


def test_log_lines_carry_the_execution_id_the_runtime_adds(
    function_env: dict[str, str],
    controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Cloud Functions sets LOG_EXECUTION_ID=true; our JSON lines then get its label too."""
    monkeypatch.setenv("LOG_EXECUTION_ID", "true")
    client = create_app("backup_http").test_client()
    capfd.readouterr()
    response = client.post("/", json={}, headers={"Function-Execution-Id": "exec-42"})
    assert response.status_code == 200
    logs = _json_lines(capfd.readouterr().out)
    ours = [e for e in logs if e.get("logger", "").startswith("controller_backup")]
    assert ours and all(e["logging.googleapis.com/labels"]["execution_id"] == "exec-42" for e in ours)
