"""The restore function: a replacement controller's event, a direct invoke, or `POST /restore`.

Events it takes:

- Auto Scaling `EC2 Instance Launch Successful`, and the launch lifecycle action
  (`EC2 Instance-launch Lifecycle Action`), which it completes: CONTINUE once restored, ABANDON on
  a permanent failure, and left open on a transient one so the retry can resume;
- EC2 `EC2 Instance State-change Notification` with state `running`, kept only when the instance
  carries the controller tag (`CONTROLLER_TAG_KEY`=`CONTROLLER_TAG_VALUE`; the rule cannot filter
  on tags, so this is checked here);
- a direct invoke `{"action": "restore", "version_id": ..., "dry_run": ..., "force": ...,
  "allow_version_mismatch": ..., "controller_url"/"private_ip" or "instance_id"}`;
- a Function URL request `POST /restore` with the same fields as a JSON body.

The new instance's private IP (the fresh controller's admin password) comes from
`ec2:DescribeInstances`; the address to call is `CONTROLLER_URL` (an EIP or DNS name that follows
the controller) unless `RESTORE_TARGET` says `private_ip` or `public_ip`. Events arrive at least
once: the instance id is the idempotency key, so a repeated event answers "already-restored".
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from controller_backup.errors import BackupError, BadRequest, SettingsError
from controller_backup.restore import run_restore
from controller_backup.results import JobResult
from controller_backup.settings import Settings

from .common import (
    aws_clients,
    check_keys,
    correlation_id,
    error_response,
    get_bool,
    get_str,
    is_function_url_event,
    json_body,
    lambda_entry,
    logger,
    record_restore,
)

app = LambdaFunctionUrlResolver()

_REQUEST_KEYS = {
    "version_id",
    "dry_run",
    "force",
    "allow_version_mismatch",
    "controller_url",
    "private_ip",
    "instance_id",
    "idempotency_key",
}
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_LAUNCH_SUCCESSFUL = "EC2 Instance Launch Successful"
_LAUNCH_LIFECYCLE = "EC2 Instance-launch Lifecycle Action"
_STATE_CHANGE = "EC2 Instance State-change Notification"
_IGNORED_AUTOSCALING = {
    "EC2 Instance Launch Unsuccessful",
    "EC2 Instance Terminate Successful",
    "EC2 Instance Terminate Unsuccessful",
    "EC2 Instance-terminate Lifecycle Action",
}
#: a new instance may not be visible to DescribeInstances for a few seconds
_DESCRIBE_ATTEMPTS = 5
_DESCRIBE_DELAY = 2.0


@dataclass(frozen=True)
class LifecycleAction:
    hook_name: str
    group_name: str
    token: str
    instance_id: str


@dataclass
class RestoreRequest:
    controller_url: str | None = None
    private_ip: str | None = None
    version_id: str | None = None
    dry_run: bool = False
    force: bool = False
    allow_version_mismatch: bool = False
    idempotency_key: str | None = None
    instance_id: str | None = None
    lifecycle: LifecycleAction | None = None
    trigger: str = "manual"
    details: dict[str, Any] = field(default_factory=dict)


class Ignored(Exception):
    """The event is not for us (another instance, another state); answered, not an error."""


# -- parsing --------------------------------------------------------------------------------------


def _controller_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise BadRequest("controller_url must be https://host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadRequest("controller_url must be https://host, without a path")
    return f"{parts.scheme}://{parts.netloc}"


def _private_ip(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadRequest("private_ip must be an IP address") from None


def _instance_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _INSTANCE_ID.match(value):
        raise BadRequest(f"{what}: no valid EC2 instance id in the event")
    return value


def parse_request(payload: Mapping[str, Any], *, what: str, trigger: str) -> RestoreRequest:
    """A direct invoke's or a Function URL body's fields."""
    check_keys(payload, _REQUEST_KEYS, what)
    instance_id = get_str(payload, "instance_id", max_length=32)
    request = RestoreRequest(
        controller_url=_controller_url(get_str(payload, "controller_url", max_length=512)),
        private_ip=_private_ip(get_str(payload, "private_ip", max_length=64)),
        version_id=get_str(payload, "version_id"),
        dry_run=get_bool(payload, "dry_run"),
        force=get_bool(payload, "force"),
        allow_version_mismatch=get_bool(payload, "allow_version_mismatch"),
        idempotency_key=get_str(payload, "idempotency_key", max_length=128),
        instance_id=_instance_id(instance_id, what) if instance_id else None,
        trigger=trigger,
    )
    if request.instance_id and (request.controller_url or request.private_ip):
        raise BadRequest(f"{what}: give instance_id, or controller_url/private_ip, not both")
    return request


def parse_event(event: Any) -> RestoreRequest:
    """A direct invoke or an EventBridge event; `Ignored` for events about other things."""
    if not isinstance(event, Mapping):
        raise BadRequest('the event must be a JSON object such as {"action": "restore"}')
    if "detail-type" in event and "source" in event:
        return _parse_eventbridge(event)
    if event.get("action") != "restore":
        raise BadRequest('a direct invoke must say {"action": "restore", ...}')
    payload = {k: v for k, v in event.items() if k != "action"}
    return parse_request(payload, what="restore invoke", trigger="manual")


def _parse_eventbridge(event: Mapping[str, Any]) -> RestoreRequest:
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise BadRequest(f"{detail_type}: the event has no detail object")
    if source == "aws.autoscaling":
        if detail_type in _IGNORED_AUTOSCALING:
            raise Ignored(f"{detail_type} needs no restore")
        instance_id = _instance_id(detail.get("EC2InstanceId"), str(detail_type))
        if detail_type == _LAUNCH_SUCCESSFUL:
            return RestoreRequest(idempotency_key=instance_id, instance_id=instance_id, trigger="asg-launch")
        if detail_type == _LAUNCH_LIFECYCLE:
            if detail.get("LifecycleTransition") != "autoscaling:EC2_INSTANCE_LAUNCHING":
                raise Ignored(f"lifecycle transition {detail.get('LifecycleTransition')!r} needs no restore")
            fields = [
                detail.get(k) for k in ("LifecycleHookName", "AutoScalingGroupName", "LifecycleActionToken")
            ]
            if not all(isinstance(f, str) and f for f in fields):
                raise BadRequest(f"{detail_type}: hook name, group name and action token are required")
            hook, group, token = (str(f) for f in fields)
            return RestoreRequest(
                idempotency_key=instance_id,
                instance_id=instance_id,
                lifecycle=LifecycleAction(hook, group, token, instance_id),
                trigger="asg-lifecycle",
            )
    elif source == "aws.ec2" and detail_type == _STATE_CHANGE:
        instance_id = _instance_id(detail.get("instance-id"), _STATE_CHANGE)
        if detail.get("state") != "running":
            raise Ignored(f"instance {instance_id} is {detail.get('state')!r}, not running")
        return RestoreRequest(
            idempotency_key=instance_id,
            instance_id=instance_id,
            trigger="ec2-running",
            details={"require_tag": True},
        )
    raise BadRequest(
        f"the restore function does not handle {str(source)[:40]} / {str(detail_type)[:60]} events"
    )


# -- the replacement instance ---------------------------------------------------------------------


def describe_instance(instance_id: str) -> Mapping[str, Any]:
    """The instance as EC2 describes it, waiting a little for a brand-new one to become visible."""
    from botocore.exceptions import BotoCoreError, ClientError

    ec2 = aws_clients.get("ec2")
    for attempt in range(1, _DESCRIBE_ATTEMPTS + 1):
        try:
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "InvalidInstanceID.NotFound":
                if attempt < _DESCRIBE_ATTEMPTS:
                    time.sleep(_DESCRIBE_DELAY)
                    continue
                raise BadRequest(f"instance {instance_id} does not exist") from None
            raise BackupError(f"ec2:DescribeInstances for {instance_id} failed ({code})") from None
        except BotoCoreError as exc:
            raise BackupError(
                f"ec2:DescribeInstances for {instance_id} failed ({type(exc).__name__})"
            ) from None
        instances: list[Mapping[str, Any]] = [i for r in reservations for i in r.get("Instances", [])]
        if instances:
            return instances[0]
    raise BadRequest(f"instance {instance_id} does not exist")


def _controller_tag() -> tuple[str, str]:
    key = os.environ.get("CONTROLLER_TAG_KEY", "").strip()
    value = os.environ.get("CONTROLLER_TAG_VALUE", "").strip()
    if not key or not value:
        raise SettingsError(
            "CONTROLLER_TAG_KEY and CONTROLLER_TAG_VALUE are required to tell a controller's "
            "'running' event from any other instance's"
        )
    return key, value


def _target_url(instance: Mapping[str, Any], instance_id: str) -> str | None:
    """Which address to call on the replacement, by RESTORE_TARGET."""
    target = os.environ.get("RESTORE_TARGET", "controller_url").strip() or "controller_url"
    if target == "controller_url":
        return None
    if target not in ("private_ip", "public_ip"):
        raise SettingsError(f"RESTORE_TARGET must be controller_url, private_ip or public_ip, got {target!r}")
    address = instance.get("PrivateIpAddress" if target == "private_ip" else "PublicIpAddress")
    if not address:
        raise BadRequest(f"instance {instance_id} has no {target.replace('_', ' ')}")
    return f"https://{address}"


def resolve_instance(request: RestoreRequest) -> None:
    """Fill the request's address and admin password (private IP) from its instance."""
    if not request.instance_id:
        return
    instance = describe_instance(request.instance_id)
    if request.details.pop("require_tag", False):
        key, value = _controller_tag()
        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
        if tags.get(key) != value:
            raise Ignored(f"instance {request.instance_id} is not a controller (no tag {key}={value})")
    state = instance.get("State", {}).get("Name")
    if state in ("shutting-down", "terminated", "stopping", "stopped"):
        raise BadRequest(f"instance {request.instance_id} is {state}")
    private_ip = instance.get("PrivateIpAddress")
    if not private_ip:
        raise BadRequest(f"instance {request.instance_id} has no private IP yet")
    request.private_ip = str(private_ip)
    request.controller_url = _target_url(instance, request.instance_id)
    request.idempotency_key = request.idempotency_key or request.instance_id
    logger.append_keys(instance_id=request.instance_id)


def complete_lifecycle(action: LifecycleAction, result: str) -> None:
    """Tell Auto Scaling to go on (CONTINUE) or give the instance up (ABANDON)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws_clients.get("autoscaling").complete_lifecycle_action(
            LifecycleHookName=action.hook_name,
            AutoScalingGroupName=action.group_name,
            LifecycleActionToken=action.token,
            LifecycleActionResult=result,
            InstanceId=action.instance_id,
        )
    except (ClientError, BotoCoreError) as exc:
        # A repeated event finds the action already completed; the restore's outcome stands.
        logger.warning(f"could not complete lifecycle action with {result}: {type(exc).__name__}: {exc}")
        return
    logger.info(f"lifecycle action completed with {result}", extra={"instance_id": action.instance_id})


# -- running --------------------------------------------------------------------------------------


def restore(request: RestoreRequest) -> JobResult:
    """Run the core's restore for `request`; metrics, logs and the lifecycle action either way."""
    try:
        settings = Settings.from_env()
        resolve_instance(request)
        result = run_restore(
            settings,
            controller_url=request.controller_url,
            private_ip=request.private_ip,
            version_id=request.version_id,
            dry_run=request.dry_run,
            force=request.force,
            allow_version_mismatch=request.allow_version_mismatch,
            idempotency_key=request.idempotency_key,
        )
    except Ignored:
        if request.lifecycle:
            complete_lifecycle(request.lifecycle, "CONTINUE")
        raise
    except Exception as exc:
        record_restore(None, exc)
        if request.lifecycle and not (isinstance(exc, BackupError) and exc.transient):
            complete_lifecycle(request.lifecycle, "ABANDON")
        # A transient failure (time limit, a controller still booting) leaves the lifecycle action
        # open: the event's retry resumes the restore before the hook's heartbeat runs out.
        raise
    record_restore(result)
    if request.lifecycle:
        complete_lifecycle(request.lifecycle, "CONTINUE")
    return result


def _ignored(reason: str) -> dict[str, Any]:
    logger.info(f"event ignored: {reason}")
    return {"status": "ignored", "reason": reason}


@app.post("/restore")
def http_restore() -> dict[str, Any]:
    request = parse_request(
        json_body(app.current_event.decoded_body), what="POST /restore body", trigger="function-url"
    )
    try:
        return restore(request).to_dict()
    except Ignored as exc:  # pragma: no cover - direct requests carry no tag filter
        return _ignored(str(exc))


@app.exception_handler(BackupError)  # type: ignore[untyped-decorator]  # Powertools ships it untyped
def _http_error(exc: BackupError) -> Response[str]:
    return error_response(exc)


@lambda_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event, context))
    if is_function_url_event(event):
        return app.resolve(event, context)
    try:
        request = parse_event(event)
        logger.append_keys(trigger=request.trigger)
        return restore(request).to_dict()
    except Ignored as exc:
        return _ignored(str(exc))
