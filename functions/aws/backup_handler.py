"""The backup function: EventBridge Scheduler, a direct invoke, or a Function URL `POST /backup`.

Events it takes:

- the Scheduler's input (our own JSON, no EventBridge envelope):
  `{"source": "scheduler", "action": "backup", "scheduled_time": "<aws.scheduler.scheduled-time>"}`
- a direct invoke: `{"action": "backup", "force": false}` (an empty `{}` is a manual backup too)
- an EventBridge scheduled rule ("Scheduled Event"), for deployments that still use one
- a Function URL request `POST /backup` with an optional body `{"force": true}` or `?force=true`

A direct or scheduled run that fails raises, so Lambda's retries, the dead-letter queue and the
error alarm see it; a Function URL request answers 4xx/5xx with the error's code and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from controller_backup.backup import run_backup
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
        raise BadRequest(f'the backup function does not do {str(action)[:40]!r}; send {{"action": "backup"}}')
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


@app.exception_handler(BackupError)  # type: ignore[untyped-decorator]  # Powertools ships it untyped
def _http_error(exc: BackupError) -> Response[str]:
    return error_response(exc)


@lambda_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event, context))
    if is_function_url_event(event):
        return app.resolve(event, context)
    force, trigger = parse_invoke(event)
    return backup(force=force, trigger=trigger).to_dict()
