"""The backup function: EventBridge Scheduler, a direct invoke, or a Function URL `POST /backup`.

Events it takes:

- the Scheduler's input (our own JSON, no EventBridge envelope):
  `{"source": "scheduler", "action": "backup", "scheduled_time": "<aws.scheduler.scheduled-time>"}`
- a direct invoke: `{"action": "backup", "force": false}` (an empty `{}` is a manual backup too)
- an EventBridge scheduled rule ("Scheduled Event"), for deployments that still use one
- a Function URL request `POST /backup` with an optional body `{"force": true}` or `?force=true`
- the preflight check, changing nothing: a direct invoke `{"action": "check"}` or a Function URL
  `POST /check`; it returns the report (`"status": "ok"` or `"fail"`), a failed line included

A direct or scheduled run that fails raises, so Lambda's retries, the dead-letter queue and the
error alarm see it; a Function URL request answers 4xx/5xx with the error's code and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from controller_backup.backup import run_backup
from controller_backup.check import run_check
from controller_backup.errors import BackupError, BadRequest
from controller_backup.results import JobResult
from controller_backup.settings import Settings

from .common import (
    check_keys,
    correlation_id,
    error_response,
    get_bool,
    get_str,
    is_function_url_event,
    json_body,
    lambda_entry,
    logger,
    record_backup,
)

app = LambdaFunctionUrlResolver()

_INVOKE_KEYS = {"action", "force", "source", "scheduled_time", "schedule_arn", "execution_id", "trigger"}


def backup(*, force: bool, trigger: str) -> JobResult:
    """Run the core's backup with settings from the environment; record metrics either way."""
    try:
        settings = Settings.from_env()
        result = run_backup(settings, force=force, trigger=trigger)
    except Exception as exc:
        record_backup(None, exc)
        raise
    record_backup(result)
    return result


def check() -> dict[str, Any]:
    """The preflight report: a failed line is part of the answer, never an exception."""
    report = run_check().to_dict()
    logger.info("check result", extra={"result": report})
    return report


def is_check(event: Any) -> bool:
    """A direct invoke of the preflight check, `{"action": "check"}` (and nothing else)."""
    if not isinstance(event, Mapping) or event.get("action") != "check":
        return False
    check_keys(event, {"action"}, "check event")
    return True


def parse_invoke(event: Any) -> tuple[bool, str]:
    """(force, trigger) of a Scheduler or direct-invoke event; BadRequest saying what is wrong."""
    if event is None:
        event = {}
    if not isinstance(event, Mapping):
        raise BadRequest('the event must be a JSON object such as {"action": "backup"}')
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return False, "schedule"
    check_keys(event, _INVOKE_KEYS, "backup event")
    action = event.get("action", "backup")
    if action != "backup":
        raise BadRequest(
            f'the backup function does not do {str(action)[:40]!r}; send {{"action": "backup"}} '
            '(or {"action": "check"})'
        )
    source = get_str(event, "source", max_length=64)
    trigger = get_str(event, "trigger", max_length=64) or ("schedule" if source == "scheduler" else "manual")
    if trigger == "schedule":
        logger.append_keys(scheduled_time=get_str(event, "scheduled_time", max_length=64))
    return get_bool(event, "force"), trigger


@app.post("/backup")
def http_backup() -> dict[str, Any]:
    event = app.current_event
    body = json_body(event.decoded_body)
    check_keys(body, {"force"}, "POST /backup body")
    query = dict(event.query_string_parameters or {})
    check_keys(query, {"force"}, "POST /backup query")
    force = get_bool(body, "force") or get_bool(query, "force", from_query=True)
    return backup(force=force, trigger="function-url").to_dict()


@app.post("/check")
def http_check() -> dict[str, Any]:
    event = app.current_event
    body = json_body(event.decoded_body)
    check_keys(body, {"action"}, "POST /check body")
    if body.get("action", "check") != "check":
        raise BadRequest('POST /check takes no body, or {"action": "check"}')
    check_keys(dict(event.query_string_parameters or {}), set(), "POST /check query")
    return check()


@app.exception_handler(BackupError)  # type: ignore[untyped-decorator]  # Powertools ships it untyped
def _http_error(exc: BackupError) -> Response[str]:
    return error_response(exc)


@lambda_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event, context))
    if is_function_url_event(event):
        return app.resolve(event, context)
    if is_check(event):
        return check()
    force, trigger = parse_invoke(event)
    return backup(force=force, trigger=trigger).to_dict()
