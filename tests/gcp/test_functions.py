"""The Cloud Functions end to end: functions-framework serving main.py over real HTTP (and its test
client), fake-gcs-server as the bucket, the controller emulators as source and replacement."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from controller_backup.errors import unexpected_failure
from controller_backup.stores import SizedSource, open_store
from controller_emulator import Emulator
from google.cloud import storage

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.fixtures.listener import Listener
from tests.integration.helpers import actions

from .conftest import PROJECT, FakeCompute, ServedFunction, create_app, load_event

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


def _send_recorded(fn: ServedFunction, name: str) -> requests.Response:
    """The HTTP request recorded in tests/events/gcp as `name`, sent to `fn` over real HTTP."""
    call = load_event(name)
    return requests.post(fn.url, json=call["body"], headers=call["headers"], timeout=60)


# -- backup --------------------------------------------------------------------------------------


def test_scheduled_backup_over_http(
    function_env: dict[str, str], controller: Emulator, serve: Serve, capfd: pytest.CaptureFixture[str]
) -> None:
    """Cloud Scheduler's request, as recorded in tests/events/gcp, through a real HTTP server."""
    fn = serve("backup_http")
    capfd.readouterr()
    response = _send_recorded(fn, "scheduler_backup_request.json")
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
    controller.state.add_account({"account_name": "another", "cloud_type": 1})  # a changed configuration
    second = client.post("/", json={"allow_shrink": True, "trigger": "manual"})
    assert second.status_code == 200
    assert second.get_json()["allow_shrink"] is True
    assert second.get_json()["version_id"] != first.get_json()["version_id"]
    assert len(_generations(function_env)) == 2


def test_query_parameters_are_refused(function_env: dict[str, str], controller: Emulator) -> None:
    """The query string carries nothing: a `?force=true` is refused, not silently ignored."""
    response = create_app("backup_http").test_client().post("/?force=true", json={})
    assert response.status_code == 400
    assert "query parameters are not accepted (force)" in response.get_json()["error"]
    assert _stored(function_env) is None


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_pubsub_backup_event(
    function_env: dict[str, str],
    controller: Emulator,
    serve: Serve,
    mode: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fn = serve("backup_event")
    capfd.readouterr()
    response = _post_event(fn, load_event("pubsub_backup.json"), mode)
    assert response.status_code == 200, response.text
    assert any("backup started (trigger=pubsub)" in e["message"] for e in _json_lines(capfd.readouterr().out))
    blob = _stored(function_env)
    assert blob is not None and blob.metadata["sha256"] == controller.export_sha256()
    assert blob.metadata["controller"] == controller.url


def test_pubsub_empty_message_backs_up(function_env: dict[str, str], controller: Emulator) -> None:
    client = create_app("backup_event").test_client()
    headers, body = _binary_mode(_pubsub_event(b""))
    assert client.post("/", data=body, headers=headers).status_code == 200
    assert _stored(function_env) is not None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            base64.b64encode(b'{"allow_shrink": "true"}').decode(),
            "allow_shrink must be true or false (a JSON boolean)",
        ),
        ("not base64!", "the request body is not valid base64"),
    ],
)
def test_pubsub_malformed_message_is_acknowledged_not_retried(
    function_env: dict[str, str],
    controller: Emulator,
    capfd: pytest.CaptureFixture[str],
    data: str,
    reason: str,
) -> None:
    event = load_event("pubsub_backup.json")
    event["data"]["message"]["data"] = data
    client = create_app("backup_event").test_client()
    capfd.readouterr()
    headers, body = _binary_mode(event)
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 200  # acked: a retry cannot fix it
    assert _stored(function_env) is None
    logs = _json_lines(capfd.readouterr().out)
    assert any(e["severity"] == "ERROR" and reason in e["message"] for e in logs)


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


def test_readiness_check_by_pubsub_and_http_names_a_tampered_copy(
    function_env: dict[str, str],
    gcs_bucket: str,
    controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    backup = create_app("backup_http").test_client()
    assert backup.post("/", json={}).status_code == 200
    # a copy under another key, one byte altered under its recorded sha256
    primary = _stored(function_env)
    body = primary.download_as_bytes()
    copy = f"gs://{gcs_bucket}/copies/aviatrix-controller.tar"
    open_store(copy).put(SizedSource.of(bytes([body[0] ^ 1]) + body[1:]), primary.metadata)
    monkeypatch.setenv("BACKUP_COPY_URLS", copy)
    capfd.readouterr()
    headers, event = _binary_mode(_pubsub_event({"action": "verify", "trigger": "schedule"}))
    assert create_app("backup_event").test_client().post("/", data=event, headers=headers).status_code == 500
    logs = _json_lines(capfd.readouterr().out)
    failed = [e for e in logs if e["severity"] == "ERROR" and e["message"].startswith("verify failed")]
    assert len(failed) == 1 and failed[0]["message"].startswith(f"verify failed [integrity] {copy}: sha256")
    answer = backup.post("/", json={"action": "verify", "all": False})
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    assert [d["url"] for d in answer.get_json()["destinations"]] == [function_env["BACKUP_URL"]]
    # the fields a log-based metric counts: jsonPayload.result.job / .status
    done = [e for e in _json_lines(capfd.readouterr().out) if e.get("result", {}).get("job") == "verify"]
    assert done and done[-1]["result"]["status"] == "ok" and done[-1]["severity"] == "INFO"


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
    response = client.post("/", json={"allow_shrink": True})
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
        (b"{not json", "application/json", "the request body is not JSON"),
        (
            b'{"force": true}',
            "application/json",
            "unknown field(s) force; allowed: action, all, allow_shrink",
        ),
    ],
)
def test_backup_bad_input_is_the_cores_400(
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
    capfd.readouterr()
    response = _send_recorded(fn, "check_http_request.json")
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


# -- restore -------------------------------------------------------------------------------------

#: the replacement in tests/events/gcp: its audit log entry and restore request name it
REPLACEMENT_NAME = "aviatrix-controller-x7k2"
REPLACEMENT_ID = "8234962317750186311"
REPLACEMENT_LABEL = {"controller-backup-role": "replacement"}


def _backup_now() -> dict[str, Any]:
    response = create_app("backup_http").test_client().post("/", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


@pytest.fixture
def replacement_env(
    function_env: dict[str, str], blank_controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The core's replacement settings: a label and a name glob mark a replacement. The emulator
    listens on loopback, so the instance's external address (127.0.0.1) and its port reach it; a
    deployment keeps the default https://{private_ip}."""
    monkeypatch.setenv("REPLACEMENT_TAG", "controller-backup-role=replacement")
    monkeypatch.setenv("REPLACEMENT_NAME_PATTERN", "aviatrix-controller-*")
    monkeypatch.setenv("REPLACEMENT_URL", "http://{public_ip}:" + blank_controller.url.rsplit(":", 1)[1])
    return function_env


def _deliver(event: dict[str, Any]) -> Any:
    """The restore event function's answer to `event` in binary mode, through its test client."""
    headers, body = _binary_mode(event)
    return create_app("restore_event").test_client().post("/", data=body, headers=headers)


def _add_replacement(compute: FakeCompute, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "instance_id": REPLACEMENT_ID,
        "private_ip": BLANK_PRIVATE_IP,
        "nat_ip": "127.0.0.1",
        "labels": REPLACEMENT_LABEL,
        **changes,
    }
    return compute.add(fields.pop("name", REPLACEMENT_NAME), **fields)


@dataclass(frozen=True)
class Scene:
    """The controller with its backup settings, its blank replacement and the Compute Engine API
    that lists it: what every restore by instance id or by event here starts from."""

    env: dict[str, str]
    controller: Emulator
    blank: Emulator
    compute: FakeCompute

    def ready(self, **changes: Any) -> None:
        """A backup taken, and the replacement instance (with `changes`) in Compute Engine."""
        _backup_now()
        _add_replacement(self.compute, **changes)

    def ask(self, body: dict[str, Any], **kwargs: Any) -> Any:
        """The restore HTTP function's answer to `body`, through its test client."""
        return create_app("restore_http").test_client().post("/", json=body, **kwargs)

    def restored(self) -> bool:
        return self.blank.export_sha256() == self.controller.export_sha256()


@pytest.fixture
def scene(
    replacement_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    compute_api: FakeCompute,
) -> Scene:
    return Scene(replacement_env, controller, blank_controller, compute_api)


def test_restore_onto_a_blank_controller_over_http(
    function_env: dict[str, str], controller: Emulator, blank_controller: Emulator, serve: Serve
) -> None:
    """A caller's controller_url on CONTROLLER_URL's host is allowed (a replacement that took over
    its address); it is logged into as a fresh controller, admin / private_ip."""
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
    assert result["target_origin"] == "allowed"
    assert result["sha256"] == backed_up["sha256"] == controller.export_sha256()
    assert blank_controller.export_sha256() == controller.export_sha256()
    again = requests.post(fn.url, json=body, timeout=60)
    assert again.status_code == 200 and again.json()["status"] == "already-restored"
    assert actions(blank_controller, "import_config") == 1


def test_a_controller_url_that_is_not_allowed_is_403_and_never_contacted(
    function_env: dict[str, str], controller: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    _backup_now()
    client = create_app("restore_http").test_client()
    with Listener() as listener:
        elsewhere = listener.url.replace("127.0.0.1", "localhost")  # not CONTROLLER_URL's host
        capfd.readouterr()
        response = client.post("/", json={"controller_url": elsewhere, "private_ip": BLANK_PRIVATE_IP})
        assert response.status_code == 403, response.get_data(as_text=True)
        assert response.get_json()["code"] == "forbidden-target"
        assert "not in RESTORE_ALLOWED_TARGETS" in response.get_json()["error"]
    assert listener.connections == 0 and listener.received == b""
    # a refused target reaches the error alert
    assert any(e["severity"] == "ERROR" for e in _json_lines(capfd.readouterr().out))


def test_restore_by_instance_id_finds_the_replacement_through_the_compute_api(
    scene: Scene, serve: Serve
) -> None:
    _backup_now()
    scene.compute.add("web-1", instance_id="1111", private_ip="10.0.0.99", zone="us-east1-b")
    _add_replacement(scene.compute)
    fn = serve("restore_http")
    response = requests.post(fn.url, json={"instance_id": REPLACEMENT_ID}, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "ok" and result["target_origin"] == "discovered"
    assert result["controller"] == scene.blank.url
    assert scene.restored()
    lookup = urlsplit(scene.compute.requests[0])
    assert lookup.path == f"/compute/v1/projects/{PROJECT}/aggregated/instances"
    assert parse_qs(lookup.query)["filter"] == [f"id = {REPLACEMENT_ID}"]
    # keyed by the instance, like the event: the audit log's event for it is now a no-op
    again = requests.post(fn.url, json={"instance_id": REPLACEMENT_ID}, timeout=60)
    assert again.status_code == 200 and again.json()["status"] == "already-restored"
    assert actions(scene.blank, "import_config") == 1


@pytest.mark.parametrize(
    ("instance_id", "labels", "status", "reason"),
    [
        (
            REPLACEMENT_ID,
            {},
            403,
            "is not a controller replacement (no tag controller-backup-role=replacement)",
        ),
        ("4242", REPLACEMENT_LABEL, 400, f"no instance with id 4242 in project {PROJECT}"),
        ("i-0abc", REPLACEMENT_LABEL, 400, "instance_id must be a Compute Engine instance's numeric id"),
    ],
)
def test_restore_by_instance_id_of_anything_else_is_refused(
    scene: Scene, instance_id: str, labels: dict[str, str], status: int, reason: str
) -> None:
    scene.ready(labels=labels)
    response = scene.ask({"instance_id": instance_id})
    assert response.status_code == status, response.get_data(as_text=True)
    assert reason in response.get_json()["error"]
    assert actions(scene.blank, "login") == 0


def test_restore_by_instance_id_follows_the_lists_pages(scene: Scene) -> None:
    """A filtered aggregated list may answer pages without a result before the one with it."""
    _backup_now()
    scene.compute.one_zone_per_page = True
    scene.compute.add("web-1", instance_id="1111", private_ip="10.0.0.99", zone="asia-east1-a")
    _add_replacement(scene.compute, zone="us-central1-a")
    response = scene.ask({"instance_id": REPLACEMENT_ID})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "ok"
    assert [parse_qs(urlsplit(r).query).get("pageToken") for r in scene.compute.requests] == [None, ["1"]]


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("unreachable", "was not found, but zones/europe-west1-b did not answer; try again"),
        ("denied", "answered HTTP 403 (the function's service account needs compute.instances.get"),
        ("no-project", "GOOGLE_CLOUD_PROJECT is required to look instances up by id"),
    ],
)
def test_a_lookup_that_cannot_answer_is_a_5xx(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, breakage: str, reason: str
) -> None:
    """Not the caller's fault, and maybe not lasting: a 500 the caller (or Eventarc) retries."""
    _backup_now()
    if breakage == "unreachable":
        scene.compute.unreachable = ["zones/europe-west1-b"]
    elif breakage == "denied":
        scene.compute.fail_with = 403
    else:
        monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    response = scene.ask({"instance_id": REPLACEMENT_ID})
    assert response.status_code == 500, response.get_data(as_text=True)
    assert reason in response.get_json()["error"]
    assert actions(scene.blank, "login") == 0


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


def test_recorded_restore_request_is_a_dry_run_into_the_replacement(scene: Scene) -> None:
    """The operator's request stored in tests/events/gcp: a dry run by instance id."""
    scene.ready()
    call = load_event("restore_http_request.json")
    response = scene.ask(call["body"], headers=call["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "dry-run"
    assert actions(scene.blank, "import_config") == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"dry_run": "true"}, "dry_run must be true or false (a JSON boolean)"),
        ({"version": "1"}, "unknown field(s) version; allowed: action, allow_old_backup, allow_shrink"),
    ],
)
def test_restore_bad_input_is_the_cores_400(
    function_env: dict[str, str], controller: Emulator, body: dict[str, Any], reason: str
) -> None:
    _backup_now()
    response = create_app("restore_http").test_client().post("/", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert reason in response.get_json()["error"]
    assert actions(controller, "import_config") == 0


def test_restore_of_a_missing_backup_is_404(function_env: dict[str, str], blank_controller: Emulator) -> None:
    response = (
        create_app("restore_http")
        .test_client()
        .post("/", json={"controller_url": blank_controller.url, "private_ip": BLANK_PRIVATE_IP})
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "not-found"


# -- restore on a replacement instance (Eventarc, Cloud Audit Logs) ------------------------------


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_replacement_instance_is_restored_once(
    scene: Scene, serve: Serve, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    scene.ready()
    fn = serve("restore_event")
    event = load_event("audit_instance_insert_done.json")
    response = _post_event(fn, event, mode)
    assert response.status_code == 200, response.text
    assert scene.compute.requests == [
        f"/compute/v1/projects/{PROJECT}/zones/us-central1-a/instances/{REPLACEMENT_NAME}"
    ]
    assert scene.restored()
    # Eventarc delivers at least once: the same event again is a no-op.
    capfd.readouterr()
    again = _post_event(fn, event, mode)
    assert again.status_code == 200
    assert actions(scene.blank, "import_config") == 1
    results = [e["result"] for e in _json_lines(capfd.readouterr().out) if "result" in e]
    assert [r["status"] for r in results] == ["already-restored"]
    marker = storage.Client(project=PROJECT).bucket(scene.env["BACKUP_URL"].split("/")[2])
    names = [b.name for b in marker.list_blobs(prefix="controllers/aviatrix-controller.tar.restores/")]
    assert names == [f"controllers/aviatrix-controller.tar.restores/instance-{REPLACEMENT_ID}.json"]


def test_the_events_own_network_ip_is_never_used(scene: Scene) -> None:
    """The log entry's request says 10.9.9.9; the Compute Engine API says what the instance has."""
    scene.ready()
    event = load_event("audit_instance_insert_done.json")
    event["data"]["protoPayload"]["request"]["networkInterfaces"] = [{"networkIP": "10.9.9.9"}]
    assert _deliver(event).status_code == 200
    assert len(scene.compute.requests) == 1
    assert scene.restored()


def _rename(event: dict[str, Any], name: str) -> None:
    payload = event["data"]["protoPayload"]
    payload["resourceName"] = payload["resourceName"].rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize(
    ("instance", "name", "why"),
    [
        ({"labels": {}}, REPLACEMENT_NAME, "is not a controller replacement (no tag"),
        (
            {"labels": {"controller-backup-role": "other"}},
            REPLACEMENT_NAME,
            "is not a controller replacement",
        ),
        ({"name": "web-1"}, "web-1", "(web-1) does not match REPLACEMENT_NAME_PATTERN"),
    ],
)
def test_an_instance_without_the_replacements_marks_is_ignored_not_an_error(
    scene: Scene, capfd: pytest.CaptureFixture[str], instance: dict[str, Any], name: str, why: str
) -> None:
    scene.ready(**instance)
    event = load_event("audit_instance_insert_done.json")
    _rename(event, name)
    capfd.readouterr()
    response = _deliver(event)
    assert response.status_code == 200  # acknowledged: not retried
    assert len(scene.compute.requests) == 1
    assert actions(scene.blank, "login") == 0
    logs = _json_lines(capfd.readouterr().out)
    assert any(
        e["severity"] == "INFO" and "event ignored" in e["message"] and why in e["message"] for e in logs
    )
    assert not any(e["severity"] in ("ERROR", "CRITICAL") for e in logs)  # no error alert


@pytest.mark.parametrize(
    ("instances", "reason"),
    [
        ({}, f"instance {REPLACEMENT_NAME} (id {REPLACEMENT_ID}) no longer exists"),
        ({"instance_id": "999"}, "is now id 999, not"),
    ],
)
def test_an_instance_that_is_gone_is_acknowledged(
    scene: Scene, capfd: pytest.CaptureFixture[str], instances: dict[str, Any], reason: str
) -> None:
    """Deleted (or its name reused) before the event ran: a retry cannot bring it back."""
    if instances:
        _add_replacement(scene.compute, **instances)
    capfd.readouterr()
    response = _deliver(load_event("audit_instance_insert_done.json"))
    assert response.status_code == 200
    assert actions(scene.blank, "login") == 0
    assert any(reason in e["message"] for e in _json_lines(capfd.readouterr().out))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda e: e.update(load_event("audit_instance_insert_first.json")), "first audit entry"),
        (lambda e: e["data"]["protoPayload"].update(methodName="v1.compute.instances.delete"), "ignoring"),
        (lambda e: e["data"]["protoPayload"].update(status={"code": 3}), "failed insert"),
        (
            lambda e: e["data"]["protoPayload"].update(
                resourceName="projects/network-ops-prod/zones/us-central1-a?fields=id#/instances/x"
            ),
            "resourceName is not projects/P/zones/Z/instances/NAME",
        ),
    ],
)
def test_other_audit_entries_are_ignored(
    scene: Scene, change: Callable[[dict[str, Any]], None], why: str, capfd: pytest.CaptureFixture[str]
) -> None:
    event = load_event("audit_instance_insert_done.json")
    change(event)
    capfd.readouterr()
    response = _deliver(event)
    assert response.status_code == 200
    assert actions(scene.blank, "import_config") == 0 and scene.compute.requests == []
    assert any(why in e["message"] for e in _json_lines(capfd.readouterr().out))


def test_replacement_without_a_label_or_name_pattern_fails_loudly(
    function_env: dict[str, str], controller: Emulator, blank_controller: Emulator, compute_api: FakeCompute
) -> None:
    _backup_now()
    _add_replacement(compute_api)
    response = _deliver(load_event("audit_instance_insert_done.json"))
    assert response.status_code == 500  # a broken deployment: retried, and the error alert fires
    assert actions(blank_controller, "login") == 0


def test_not_an_audit_event_is_acknowledged(scene: Scene) -> None:
    response = _deliver(load_event("pubsub_backup.json"))
    assert response.status_code == 200
    assert actions(scene.blank, "import_config") == 0 and scene.compute.requests == []


def test_an_unexpected_failure_answers_the_cores_internal_error_with_details_only_in_the_log(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A bug (an exception that is no BackupError) may carry anything in its text: the answer is
    the core's fixed `internal` result, the traceback goes to the log, and an event is retried."""
    import controller_backup.restore

    def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug text 7f3a")

    # main.py binds the core's function when functions-framework loads it, below
    monkeypatch.setattr(controller_backup.restore, "run_restore_request", bug)
    _add_replacement(scene.compute)
    capfd.readouterr()
    response = scene.ask({})
    assert response.status_code == 500
    assert response.get_json() == unexpected_failure()
    assert _deliver(load_event("audit_instance_insert_done.json")).status_code == 500
    ours = [e for e in _json_lines(capfd.readouterr().out) if e["logger"] == "controller_backup.gcp"]
    failures = [e for e in ours if "failed unexpectedly" in e["message"]]
    assert len(failures) == 2
    for entry in failures:
        assert entry["severity"] == "ERROR" and "RuntimeError: bug text 7f3a" in entry["message"]
        assert entry["result"] == unexpected_failure()


# -- secrets never leak -------------------------------------------------------------------------


def test_no_password_cid_or_token_in_any_log_or_answer(
    scene: Scene, serve: Serve, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    _add_replacement(scene.compute)
    answers = [
        requests.post(serve("backup_http").url, json={"trigger": "schedule"}, timeout=60),
        requests.post(serve("backup_http").url, json={"action": "check"}, timeout=60),
        _post_event(serve("backup_event"), load_event("pubsub_backup.json"), "structured"),
        _post_event(serve("restore_event"), load_event("audit_instance_insert_done.json")),
        requests.post(
            serve("restore_http").url, json={"dry_run": True, "overwrite_configured": True}, timeout=60
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200], [a.text for a in answers]
    assert scene.restored()
    issued_secrets = scene.controller.state.issued + scene.blank.state.issued
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
