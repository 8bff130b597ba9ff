"""The backup function: EventBridge Scheduler, a direct invoke, or a Function URL `POST /backup`.

Every request is the core's backup request (README, "Requests"), whatever carries it:

- the Scheduler's input: `{"action": "backup", "trigger": "schedule", "scheduled_time": "..."}`;
- a direct invoke: `{"action": "backup", "allow_shrink": false}` (an empty `{}` is a manual backup too),
  or `{"action": "check"}` for the preflight check, which changes nothing and returns the report
  (`"status": "ok"` or `"fail"`), a failed line included;
- the readiness check, from its own schedule or an invoke: `{"action": "verify", "trigger": "schedule"}`
  (every destination; `"all": false` the primary alone), with the metrics `BackupVerified` and
  `VerifyFailed`;
- a Function URL request `POST /backup` with the same JSON body (query parameters are refused).

A direct or scheduled run that fails raises, so Lambda's retries, the dead-letter queue and the
error alarm see it; a Function URL request answers 4xx/5xx with the error's code and reason.
"""

from __future__ import annotations

from typing import Any

from controller_backup.backup import run_backup
from controller_backup.check import run_check
from controller_backup.job_requests import BackupRequest, as_object, parse_backup_request
from controller_backup.settings import Settings
from controller_backup.verify import run_verify

from .common import (
    function_url_answer,
    function_url_app,
    function_url_payload,
    lambda_entry,
    logger,
    record_backup,
    record_verify,
)

app = function_url_app()


def run(request: BackupRequest) -> dict[str, Any]:
    """The request's job: the preflight report, or a backup with its metrics either way."""
    logger.append_keys(trigger=request.trigger)
    if request.scheduled_time:
        logger.append_keys(scheduled_time=request.scheduled_time)
    if request.action == "check":
        report = run_check().to_dict()
        logger.info("check result", extra={"result": report})
        return report
    if request.action == "verify":
        return verify(request)
    try:
        result = run_backup(Settings.from_env(), allow_shrink=request.allow_shrink, trigger=request.trigger)
    except Exception as exc:
        record_backup(None, exc)
        raise
    record_backup(result)
    return result.to_dict()


def verify(request: BackupRequest) -> dict[str, Any]:
    """The readiness check, its metrics recorded whether it passes, fails or breaks."""
    try:
        result = run_verify(
            Settings.from_env(), all_destinations=request.all_destinations, trigger=request.trigger
        )
    except Exception as exc:
        record_verify(None, exc)
        raise
    record_verify(result)
    return result.to_dict()


@app.post("/backup")
def http_backup() -> dict[str, Any]:
    return run(parse_backup_request(function_url_payload(app.current_event), trigger="function-url"))


@lambda_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    answer = function_url_answer(app, event, context)
    if answer is not None:
        return answer
    payload = as_object({} if event is None else event, "the event")
    return run(parse_backup_request(payload, trigger="invoke"))
