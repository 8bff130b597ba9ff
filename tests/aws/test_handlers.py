"""The Lambda handlers end to end: stored events -> handler -> core -> moto server S3 + emulators.

Everything is real over HTTP (moto in server mode for S3, Secrets Manager and EC2; the controller
emulators) except Auto Scaling's CompleteLifecycleAction, which moto does not implement (its server
answers 500 NotImplementedError): that one call is checked with botocore's Stubber on the handler's
own client, which also asserts the exact parameters sent.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.stub import Stubber
from controller_backup.errors import AuthError, BadRequest, ObjectNotFound, SettingsError, VerifyFailed
from controller_backup.settings import Settings
from controller_backup.stores import SizedSource, open_store
from controller_backup.targets import replacement_target
from controller_emulator import Emulator

from functions.aws import backup_handler, common, restore_handler
from tests.fixtures.aws import MotoServer
from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.fixtures.listener import Listener

from .conftest import FakeLambdaContext, emf_metrics, load_event

SAMPLE_INSTANCE = "i-0a1b2c3d4e5f60718"
# a 400 answer or an ignored event publishes no metric; Powertools warns, which is expected here
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def _stored(s3_url: str) -> tuple[bytes, dict[str, str]]:
    buf = io.BytesIO()
    info = open_store(s3_url).download(buf)
    return buf.getvalue(), dict(info.metadata)


def _actions(emu: Emulator, action: str) -> int:
    return sum(1 for _, _, a in emu.requests if a == action)


@dataclass(frozen=True)
class Scene:
    """The configured controller, the function's environment on moto and what the handlers print:
    the fixtures most tests here share, so each test names only what sets it apart."""

    controller: Emulator
    env: dict[str, str]
    context: FakeLambdaContext
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def backup(self, event: Any = "invoke_backup.json") -> Any:
        """The backup handler's answer to a stored event (by name) or to `event` itself."""
        return backup_handler.handler(load_event(event) if isinstance(event, str) else event, self.context)

    def restore(self, event: Any) -> Any:
        return restore_handler.handler(event, self.context)

    def metrics(self) -> dict[str, list[float]]:
        """The EMF metrics printed since the last read."""
        return emf_metrics(self.capsys.readouterr().out)

    def stored(self) -> tuple[bytes, dict[str, str]]:
        return _stored(self.env["BACKUP_URL"])

    def wrong_password(self) -> None:
        """The deployment's password reference now resolves to a password the controller refuses."""
        self.monkeypatch.setenv("TEST_WRONG_PASSWORD", "not-the-password")
        self.monkeypatch.setenv("CONTROLLER_PASSWORD", "env:TEST_WRONG_PASSWORD")


@pytest.fixture
def scene(
    controller: Emulator,
    lambda_env: dict[str, str],
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Scene:
    return Scene(controller, lambda_env, lambda_context, monkeypatch, capsys)


@pytest.fixture
def lifecycle_stub() -> Iterator[Stubber]:
    client = common.aws_clients.get("autoscaling")
    with Stubber(client) as stubber:
        yield stubber


# -- backup ---------------------------------------------------------------------------------------


def test_scheduled_backup_stores_the_export_with_its_metadata(scene: Scene) -> None:
    result = scene.backup("scheduler_backup.json")
    assert result["status"] == "ok"
    assert result["sha256"] == scene.controller.export_sha256()
    assert result["object"] == scene.env["BACKUP_URL"] and result["version_id"]
    body, metadata = scene.stored()
    assert hashlib.sha256(body).hexdigest() == scene.controller.export_sha256()
    assert metadata["sha256"] == result["sha256"] and metadata["size"] == str(len(body))
    assert metadata["controller_version"] == "8.0.1-1000.1000"
    metrics = scene.metrics()
    assert metrics["BackupSucceeded"] == [1.0]
    assert metrics["BackupBytes"] == [float(len(body))]
    assert metrics["BackupDurationMs"][0] >= 0
    assert "BackupFailed" not in metrics


def test_an_unchanged_configuration_is_a_successful_backup_that_adds_no_version(scene: Scene) -> None:
    first = scene.backup("scheduler_backup.json")
    scene.metrics()
    second = scene.backup("scheduler_backup.json")
    assert second["status"] == "unchanged" and second["version_id"] == first["version_id"]
    assert len(open_store(scene.env["BACKUP_URL"]).versions()) == 1
    metrics = scene.metrics()
    assert metrics["BackupSucceeded"] == [1.0]  # the 25-hour alarm counts it
    assert "BackupFailed" not in metrics


def test_on_demand_backup_by_direct_invoke_replaces_the_object(scene: Scene) -> None:
    first = scene.backup()
    scene.controller.state.add_account(
        {"account_name": "another", "cloud_type": 1}
    )  # a changed configuration
    second = scene.backup({"action": "backup", "allow_shrink": True})
    assert second["status"] == "ok" and second["version_id"] != first["version_id"]
    versions = open_store(scene.env["BACKUP_URL"]).versions()
    assert [v.version_id for v in versions] == [second["version_id"], first["version_id"]]


def test_function_url_backup(scene: Scene) -> None:
    response = scene.backup("function_url_backup.json")
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["status"] == "ok" and body["sha256"] == scene.controller.export_sha256()


def test_readiness_check_metrics_and_a_tampered_copy_named(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    copy = scene.env["BACKUP_URL"] + ".copy"
    scene.backup("scheduler_backup.json")
    scene.metrics()
    passed = scene.backup("scheduler_verify.json")
    assert passed["status"] == "ok" and passed["sha256"] == scene.controller.export_sha256()
    metrics = scene.metrics()
    assert metrics["BackupVerified"] == [1.0] and metrics["VerifyFailed"] == [0.0]
    # a copy (another key of the moto bucket), one byte altered under its recorded sha256
    body, metadata = scene.stored()
    open_store(copy).put(SizedSource.of(bytes([body[0] ^ 1]) + body[1:]), metadata)
    scene.monkeypatch.setenv("BACKUP_COPY_URLS", copy)
    with pytest.raises(VerifyFailed):
        scene.backup("scheduler_verify.json")
    metrics = scene.metrics()
    assert metrics["VerifyFailed"] == [1.0] and "BackupVerified" not in metrics
    assert f"verify failed [integrity] {copy}: " in caplog.text
    # the primary alone, through the Function URL
    response = scene.backup(
        load_event("function_url_backup.json") | {"body": '{"action": "verify", "all": false}'}
    )
    assert response["statusCode"] == 200, response
    assert [found["url"] for found in json.loads(response["body"])["destinations"]] == [
        scene.env["BACKUP_URL"]
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": '{"allow_shrink": "yes"}'}, "allow_shrink must be true or false"),
        ({"body": '{"force": true}'}, "unknown field"),
        ({"body": "[" * 8000 + "]" * 8000}, "nested more than 32 deep"),
        ({"body": "*** not base64 ***", "isBase64Encoded": True}, "not valid base64"),
        ({"body": "//79", "isBase64Encoded": True}, "not UTF-8"),
        ({"queryStringParameters": {"force": "true"}}, "query parameters are not read"),
    ],
)
def test_function_url_bad_request_answers_400_with_the_reason(
    scene: Scene, change: dict[str, Any], reason: str
) -> None:
    """The core's request contract reaches the Function URL (its own suite covers the rest)."""
    response = scene.backup(load_event("function_url_backup.json") | change)
    assert response["statusCode"] == 400
    answer = json.loads(response["body"])
    assert answer["code"] == "bad-request" and reason in answer["error"]
    assert _actions(scene.controller, "export_config") == 0


def test_function_url_unknown_route_is_404(scene: Scene) -> None:
    event = load_event("function_url_backup.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/restore"
    assert scene.backup(event)["statusCode"] == 404


def test_function_url_failure_answers_5xx_with_the_code(scene: Scene) -> None:
    scene.wrong_password()
    response = scene.backup("function_url_backup.json")
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["code"] == "auth"
    assert scene.metrics()["BackupFailed"] == [1.0]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"action": "restore"}, "action must be one of backup, check"),
        ({"action": "backup", "allow_shrink": "true"}, "allow_shrink must be true or false"),
        ({"action": "backup", "force": True}, "unknown field(s) force; allowed: action, all, allow_shrink"),
        ({"action": "backup", "dry_run": True}, "unknown field(s) dry_run"),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "unknown field(s) detail-type, source"),
        (["backup"], "must be a JSON object"),
        ({"action": "check", "allow_shrink": True}, "allow_shrink does not apply"),
        ({"action": "chek"}, "action must be one of backup, check"),
    ],
)
def test_bad_direct_invoke_raises_bad_request(scene: Scene, event: Any, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        backup_handler.handler(event, scene.context)
    assert reason in caught.value.message


def test_failed_scheduled_backup_raises_counts_and_keeps_the_stored_object(scene: Scene) -> None:
    good = scene.backup()
    scene.wrong_password()
    scene.metrics()
    with pytest.raises(AuthError):
        scene.backup("scheduler_backup.json")
    assert scene.metrics()["BackupFailed"] == [1.0]
    assert scene.stored()[1]["sha256"] == good["sha256"]


def test_missing_settings_raise_naming_every_variable(scene: Scene) -> None:
    scene.monkeypatch.delenv("CONTROLLER_URL")
    scene.monkeypatch.delenv("BACKUP_URL")
    with pytest.raises(SettingsError, match=r"CONTROLLER_URL is required.*BACKUP_URL is required"):
        scene.backup("scheduler_backup.json")


# -- the preflight check --------------------------------------------------------------------------


def test_direct_invoke_check_reports_and_changes_nothing(scene: Scene, function_logs: io.StringIO) -> None:
    good = scene.backup()
    versions = [v.to_dict() for v in open_store(scene.env["BACKUP_URL"]).versions()]
    scene.controller.requests.clear()
    scene.metrics()
    report = scene.backup("invoke_check.json")
    assert report["status"] == "ok" and report["job"] == "check"
    verdicts = {line["name"]: line["verdict"] for line in report["checks"]}
    assert verdicts["secret:CONTROLLER_PASSWORD"] == "ok"  # the aws-sm: reference on moto
    assert report["checks"][1]["detail"].startswith("aws-sm reference controller-password-")
    assert verdicts["login"] == verdicts["store-read"] == verdicts["store-write"] == "ok"
    assert verdicts["store-versioning"] == "ok"  # the versioned bucket on moto
    assert [v.to_dict() for v in open_store(scene.env["BACKUP_URL"]).versions()] == versions
    assert scene.stored()[1]["sha256"] == good["sha256"]
    assert _actions(scene.controller, "export_config") == 0
    # a check is not a backup: no backup metric, its own log line
    assert "BackupSucceeded" not in scene.metrics()
    assert "check result" in function_logs.getvalue()


def test_a_failing_check_answers_its_report_instead_of_raising(scene: Scene) -> None:
    scene.wrong_password()
    report = scene.backup({"action": "check"})
    assert report["status"] == "fail"
    assert {line["name"]: line["verdict"] for line in report["checks"]}["login"] == "fail"


def test_function_url_check(scene: Scene) -> None:
    check = load_event("function_url_backup.json") | {"body": '{"action": "check"}'}
    response = scene.backup(check)
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["status"] == "ok" and body["checks"][0]["name"] == "settings"
    assert open_store(scene.env["BACKUP_URL"]).head() is None
    scene.monkeypatch.delenv("CONTROLLER_URL")  # a broken deployment is a failed line, still a 200
    response = scene.backup(check)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["status"] == "fail" and body["checks"][0]["verdict"] == "fail"


# -- restore --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """A blank controller and its tagged EC2 instance on moto: the replacement an event announces."""

    scene: Scene
    blank: Emulator
    instance: str

    def announced(self, name: str) -> dict[str, Any]:
        """Stored event `name` about this instance, once CONTROLLER_URL (an EIP) leads to it."""
        self.scene.monkeypatch.setenv("CONTROLLER_URL", self.blank.url)
        return load_event(name, **{SAMPLE_INSTANCE: self.instance})

    def restored(self) -> bool:
        return self.blank.export_sha256() == self.scene.controller.export_sha256()


@pytest.fixture
def replacement(scene: Scene, blank_controller: Emulator, replacement_instance: str) -> Replacement:
    return Replacement(scene, blank_controller, replacement_instance)


def test_launch_event_restores_onto_the_blank_replacement_once(
    scene: Scene, replacement: Replacement
) -> None:
    stored = scene.backup("scheduler_backup.json")
    event = replacement.announced("asg_launch_successful.json")
    scene.metrics()
    result = scene.restore(event)
    assert result["status"] == "ok"
    assert result["sha256"] == stored["sha256"]
    assert replacement.restored()
    assert scene.metrics()["RestoreSucceeded"] == [1.0]
    # the same event again (at-least-once delivery) does not restore twice
    again = scene.restore(event)
    assert again["status"] == "already-restored"
    assert _actions(replacement.blank, "import_config") == 1


def _expect_lifecycle_result(stub: Stubber, instance_id: str, result: str) -> None:
    """The one CompleteLifecycleAction call the sample lifecycle event should end in."""
    stub.add_response(
        "complete_lifecycle_action",
        {},
        {
            "LifecycleHookName": "aviatrix-ctrl-backup-restore",
            "AutoScalingGroupName": "aviatrix-controller",
            "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
            "LifecycleActionResult": result,
            "InstanceId": instance_id,
        },
    )


def test_lifecycle_action_is_completed_with_continue_after_the_restore(
    scene: Scene, replacement: Replacement, lifecycle_stub: Stubber
) -> None:
    scene.backup()
    event = replacement.announced("asg_launch_lifecycle_action.json")
    _expect_lifecycle_result(lifecycle_stub, replacement.instance, "CONTINUE")
    result = scene.restore(event)
    assert result["status"] == "ok"
    assert replacement.restored()
    lifecycle_stub.assert_no_pending_responses()


def test_failed_restore_abandons_the_lifecycle_action_and_raises(
    scene: Scene, replacement: Replacement, lifecycle_stub: Stubber
) -> None:
    # nothing was ever backed up: there is nothing to restore
    event = replacement.announced("asg_launch_lifecycle_action.json")
    _expect_lifecycle_result(lifecycle_stub, replacement.instance, "ABANDON")
    with pytest.raises(ObjectNotFound):
        scene.restore(event)
    lifecycle_stub.assert_no_pending_responses()
    assert scene.metrics()["RestoreFailed"] == [1.0]
    assert _actions(replacement.blank, "import_config") == 0


def test_running_event_restores_a_tagged_controller(scene: Scene, replacement: Replacement) -> None:
    scene.backup()
    result = scene.restore(replacement.announced("ec2_state_running.json"))
    assert result["status"] == "ok"
    assert replacement.restored()


def test_running_event_of_another_instance_is_ignored(
    scene: Scene, blank_controller: Emulator, untagged_instance: str
) -> None:
    untagged = Replacement(scene, blank_controller, untagged_instance)
    result = scene.restore(untagged.announced("ec2_state_running.json"))
    assert result["status"] == "ignored" and "not a controller" in result["reason"]
    assert blank_controller.requests == []


def test_running_event_without_tag_settings_is_refused(scene: Scene, untagged_instance: str) -> None:
    scene.monkeypatch.delenv("REPLACEMENT_TAG")
    event = load_event("ec2_state_running.json", **{SAMPLE_INSTANCE: untagged_instance})
    with pytest.raises(SettingsError, match="REPLACEMENT_TAG or REPLACEMENT_NAME_PATTERN"):
        scene.restore(event)


@pytest.mark.parametrize("name", ["ec2_state_pending.json", "asg_terminate_successful.json"])
def test_events_that_need_no_restore_are_ignored(scene: Scene, name: str) -> None:
    result = scene.restore(load_event(name))
    assert result["status"] == "ignored"


def _operator_restore(scene: Scene, name: str, blank: Emulator) -> dict[str, Any]:
    """Back up, then the stored operator request `name` aimed at the blank controller."""
    scene.backup()
    return load_event(name, **{"https://controller.example.com": blank.url})


def test_direct_invoke_dry_run_touches_nothing(scene: Scene, blank_controller: Emulator) -> None:
    event = _operator_restore(scene, "invoke_restore.json", blank_controller)
    event["dry_run"] = True
    result = scene.restore(event)
    assert result["status"] == "dry-run"
    assert _actions(blank_controller, "import_config") == 0
    assert not blank_controller.state.initialized


def test_direct_invoke_restore_of_an_older_version(scene: Scene, blank_controller: Emulator) -> None:
    first = scene.backup()
    scene.backup({"action": "backup", "allow_shrink": True})
    event = load_event("invoke_restore.json", **{"https://controller.example.com": blank_controller.url})
    event["version_id"] = first["version_id"]
    result = scene.restore(event)
    assert result["status"] == "ok" and result["version_id"] == first["version_id"]


def test_function_url_restore(scene: Scene, blank_controller: Emulator) -> None:
    response = scene.restore(_operator_restore(scene, "function_url_restore.json", blank_controller))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["status"] == "dry-run"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"controller_url": "https://127.0.0.1:notaport"}, "controller_url is not a valid URL"),
        ({"instance_id": "vm-1"}, "not an EC2 instance id"),
        ({"target": "x"}, "unknown field(s) target"),
    ],
)
def test_function_url_restore_bad_request(
    scene: Scene, blank_controller: Emulator, body: dict[str, Any], reason: str
) -> None:
    event = load_event("function_url_restore.json")
    event["body"] = json.dumps(body)
    response = scene.restore(event)
    assert response["statusCode"] == 400
    assert reason in json.loads(response["body"])["error"]


def test_function_url_restore_to_a_caller_chosen_listener_is_403_and_sends_nothing(scene: Scene) -> None:
    with Listener() as listener:
        event = load_event("function_url_restore.json")
        event["body"] = json.dumps(
            {"controller_url": listener.url.replace("127.0.0.1", "localhost"), "private_ip": "10.0.0.1"}
        )
        response = scene.restore(event)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["code"] == "forbidden-target"
    assert listener.connections == 0


def test_function_url_restore_refusal_is_409(scene: Scene) -> None:
    scene.backup()
    event = load_event("function_url_restore.json")
    # the live, set-up controller holds configuration: refused, naming what lifts the rule
    event["body"] = json.dumps({"controller_url": scene.controller.url})
    response = scene.restore(event)
    assert response["statusCode"] == 409
    error = json.loads(response["body"])
    assert error["code"] == "refused" and "overwrite_configured in a request" in error["error"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"dry_run": True}, 'must say {"action": "restore"'),
        ({"action": "restore", "controller_url": "https://a/b"}, "without a path"),
        ({"action": "restore", "instance_id": "i-0123456789abcdef0", "private_ip": "10.1.1.1"}, "not both"),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, "does not handle aws.s3"),
        (
            {"source": "aws.autoscaling", "detail-type": "EC2 Instance Launch Successful", "detail": {}},
            "instance id",
        ),
    ],
)
def test_bad_restore_events_raise_bad_request(scene: Scene, event: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        scene.restore(event)
    assert reason in caught.value.message


def test_a_replacement_is_described_by_ec2_and_called_at_replacement_url(
    scene: Scene, replacement_instance: str
) -> None:
    # resolution only: nothing is sent to the (private, unreachable) address
    scene.monkeypatch.setenv("REPLACEMENT_URL", "https://{private_ip}:8443")
    instance = restore_handler.describe_instance(replacement_instance)
    assert instance.instance_id == replacement_instance and instance.private_ip == BLANK_PRIVATE_IP
    assert instance.tags["Name"] == "AviatrixController" and instance.name == "AviatrixController"
    target = replacement_target(Settings.from_env(), instance)
    assert target.url == f"https://{BLANK_PRIVATE_IP}:8443" and target.origin == "discovered"
    assert target.marker_key(None) == f"instance-{replacement_instance}"


def test_unknown_instance_is_a_bad_request(scene: Scene) -> None:
    scene.monkeypatch.setattr(restore_handler, "_DESCRIBE_DELAY", 0.01)
    event = load_event("asg_launch_successful.json", **{SAMPLE_INSTANCE: "i-0123456789abcdef0"})
    with pytest.raises(BadRequest, match="does not exist"):
        scene.restore(event)


# -- secrets never leak ---------------------------------------------------------------------------


def test_no_secret_in_any_log_metric_or_result(
    scene: Scene, replacement: Replacement, function_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    for name in ("scheduler_backup.json", "function_url_backup.json", "invoke_check.json"):
        outputs.append(json.dumps(scene.backup(name)))
    outputs.append(json.dumps(scene.restore(replacement.announced("asg_launch_successful.json"))))
    # a failing run logs its error too
    scene.monkeypatch.setenv("CONTROLLER_URL", scene.controller.url)
    scene.controller.faults.export_error_envelope = True
    with pytest.raises(Exception) as caught:
        scene.backup("scheduler_backup.json")
    outputs.append(str(caught.value))

    issued = scene.controller.state.issued + replacement.blank.state.issued
    assert len(issued) >= 3, "expected logins on both controllers"
    assert "backup result" in function_logs.getvalue() and "restore result" in function_logs.getvalue()
    everything = "\n".join(
        [
            *outputs,
            function_logs.getvalue(),
            caplog.text,
            *(r.getMessage() for r in caplog.records),
            *scene.capsys.readouterr(),
        ]
    )
    for secret in [CONTROLLER_PASSWORD, *issued]:
        assert secret not in everything, "a secret leaked"


def test_logs_carry_the_correlation_id(scene: Scene, function_logs: io.StringIO) -> None:
    scene.backup("function_url_backup.json")
    lines = [json.loads(line) for line in function_logs.getvalue().splitlines() if line.startswith("{")]
    result_line = next(line for line in lines if line["message"] == "backup result")
    assert result_line["correlation_id"] == "9f2d1c7e-8a4b-4b6e-bb0d-3e5f7a9c1d2e"
    assert result_line["function_request_id"] == scene.context.aws_request_id
    assert result_line["result"]["status"] == "ok"


def test_moto_server_is_what_the_handlers_talk_to(aws_env: MotoServer) -> None:
    assert common.aws_clients.get("ec2").meta.endpoint_url == aws_env.endpoint_url
