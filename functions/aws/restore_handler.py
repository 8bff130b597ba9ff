"""The restore function: a replacement controller's event, a direct invoke, or `POST /restore`.

Events it takes:

- Auto Scaling `EC2 Instance Launch Successful`, and the launch lifecycle action
  (`EC2 Instance-launch Lifecycle Action`), which it completes: CONTINUE once restored, ABANDON on
  a permanent failure, and left open on a transient one so the retry can resume;
- EC2 `EC2 Instance State-change Notification` with state `running`;
- a direct invoke `{"action": "restore", ...}` and a Function URL request `POST /restore` with the
  core's restore request as its JSON body (README, "Requests").

An event names an instance; everything else about it comes from `ec2:DescribeInstances`: its
tags, name and addresses. The core restores it only if it carries `REPLACEMENT_TAG` (and matches
`REPLACEMENT_NAME_PATTERN`, if set); an instance that does not is ignored, never restored. Events
arrive at least once: the instance id keys the restore, so a repeated event answers
"already-restored".
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller_backup.errors import BackupError, BadRequest, NotAReplacement
from controller_backup.job_requests import (
    RestoreRequest,
    as_object,
    parse_restore_request,
    replacement_request,
)
from controller_backup.restore import run_restore_request
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.targets import Instance

from .common import (
    aws_clients,
    function_url_answer,
    function_url_app,
    function_url_payload,
    lambda_entry,
    logger,
    record_restore,
)

app = function_url_app()

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
#: the triggers of EventBridge events: an instance without the replacement's marks is not ours
_EVENT_TRIGGERS = ("asg-launch", "asg-lifecycle", "ec2-running")


@dataclass(frozen=True)
class LifecycleAction:
    hook_name: str
    group_name: str
    token: str
    instance_id: str


@dataclass(frozen=True)
class Restore:
    """What an event or a call asks for, and the lifecycle action to complete, if any."""

    request: RestoreRequest
    lifecycle: LifecycleAction | None = None


class Ignored(Exception):
    """The event is not for us (another instance, another state); answered, not an error."""


# -- parsing --------------------------------------------------------------------------------------


def _instance_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _INSTANCE_ID.match(value):
        raise BadRequest(f"{what}: not an EC2 instance id (i- and 8 or 17 hex digits)")
    return value


def parse_event(event: Any) -> Restore:
    """A direct invoke or an EventBridge event; `Ignored` for events about other things."""
    payload = as_object(event, "the event")
    if "detail-type" in payload and "source" in payload:
        return _parse_eventbridge(payload)
    if payload.get("action") != "restore":
        raise BadRequest('a direct invoke must say {"action": "restore", ...}')
    return Restore(parse_restore_request(payload, trigger="invoke"))


def _parse_eventbridge(event: Mapping[str, Any]) -> Restore:
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise BadRequest(f"{detail_type}: the event has no detail object")
    if source == "aws.autoscaling":
        if detail_type in _IGNORED_AUTOSCALING:
            raise Ignored(f"{detail_type} needs no restore")
        instance_id = _instance_id(detail.get("EC2InstanceId"), str(detail_type))
        if detail_type == _LAUNCH_SUCCESSFUL:
            return Restore(replacement_request(instance_id, trigger="asg-launch"))
        if detail_type == _LAUNCH_LIFECYCLE:
            if detail.get("LifecycleTransition") != "autoscaling:EC2_INSTANCE_LAUNCHING":
                raise Ignored(f"lifecycle transition {detail.get('LifecycleTransition')!r} needs no restore")
            fields = [
                detail.get(k) for k in ("LifecycleHookName", "AutoScalingGroupName", "LifecycleActionToken")
            ]
            if not all(isinstance(f, str) and f for f in fields):
                raise BadRequest(f"{detail_type}: hook name, group name and action token are required")
            hook, group, token = (str(f) for f in fields)
            return Restore(
                replacement_request(instance_id, trigger="asg-lifecycle"),
                LifecycleAction(hook, group, token, instance_id),
            )
    elif source == "aws.ec2" and detail_type == _STATE_CHANGE:
        instance_id = _instance_id(detail.get("instance-id"), _STATE_CHANGE)
        if detail.get("state") != "running":
            raise Ignored(f"instance {instance_id} is {detail.get('state')!r}, not running")
        return Restore(replacement_request(instance_id, trigger="ec2-running"))
    raise BadRequest(
        f"the restore function does not handle {str(source)[:40]} / {str(detail_type)[:60]} events"
    )


# -- the replacement instance ---------------------------------------------------------------------


def describe_instance(instance_id: str) -> Instance:
    """The instance as EC2 describes it (waiting a little for a brand-new one to become visible)."""
    from botocore.exceptions import BotoCoreError, ClientError

    _instance_id(instance_id, "instance_id")
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
            return _instance(instances[0], instance_id)
    raise BadRequest(f"instance {instance_id} does not exist")


def _instance(found: Mapping[str, Any], instance_id: str) -> Instance:
    state = found.get("State", {}).get("Name")
    if state in ("shutting-down", "terminated", "stopping", "stopped"):
        raise BadRequest(f"instance {instance_id} is {state}")
    tags = {str(t.get("Key")): str(t.get("Value")) for t in found.get("Tags", [])}
    logger.append_keys(instance_id=instance_id)
    return Instance(
        instance_id=str(found.get("InstanceId") or instance_id),
        name=tags.get("Name", ""),
        private_ip=found.get("PrivateIpAddress") or None,
        public_ip=found.get("PublicIpAddress") or None,
        tags=tags,
    )


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


def restore(asked: Restore) -> JobResult:
    """Run the core's restore for `asked`; metrics, logs and the lifecycle action either way."""
    lifecycle = asked.lifecycle
    try:
        result = run_restore_request(Settings.from_env(), asked.request, describe_instance)
    except NotAReplacement as exc:
        if asked.request.trigger in _EVENT_TRIGGERS:
            if lifecycle:
                complete_lifecycle(lifecycle, "CONTINUE")
            raise Ignored(exc.message) from None
        record_restore(None, exc)
        raise
    except Exception as exc:
        record_restore(None, exc)
        if lifecycle and not (isinstance(exc, BackupError) and exc.transient):
            complete_lifecycle(lifecycle, "ABANDON")
        # A transient failure (time limit, a controller still booting) leaves the lifecycle action
        # open: the event's retry resumes the restore before the hook's heartbeat runs out.
        raise
    record_restore(result)
    if lifecycle:
        complete_lifecycle(lifecycle, "CONTINUE")
    return result


def _ignored(reason: str) -> dict[str, Any]:
    logger.info(f"event ignored: {reason}")
    return {"status": "ignored", "reason": reason}


@app.post("/restore")
def http_restore() -> dict[str, Any]:
    payload = function_url_payload(app.current_event)
    if payload.get("action", "restore") != "restore":
        raise BadRequest("POST /restore takes a restore request")
    return restore(Restore(parse_restore_request(payload, trigger="function-url"))).to_dict()


@lambda_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    answer = function_url_answer(app, event, context)
    if answer is not None:
        return answer
    try:
        asked = parse_event(event)
        logger.append_keys(trigger=asked.request.trigger)
        return restore(asked).to_dict()
    except Ignored as exc:
        return _ignored(str(exc))
