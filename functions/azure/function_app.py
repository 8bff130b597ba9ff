"""Azure Functions (Python v2 programming model): thin adapters around the core jobs.

Functions (names are what Terraform's alert queries and the README refer to):

* `scheduled_backup`  timer `%BACKUP_SCHEDULE%` (six NCRONTAB fields, seconds first; UTC on Linux
  Consumption and Flex plans). Raises on failure, so the run is recorded as failed; the retry
  policy runs it again twice, 10 minutes apart (timers are otherwise never retried).
* `backup`            `POST /api/backup`  body `{"force": false}` (optional); with the body
  `{"action": "check"}` it runs the preflight check instead, changing nothing, and answers 200
  with the report (`"status": "ok"` or `"fail"`).
* `restore`           `POST /api/restore` body (all optional) `{"version_id", "dry_run", "force",
  "allow_version_mismatch", "controller_url", "private_ip", "vm_id"}`.
* `replacement_controller`  queue `controller-replacements`, fed by an Event Grid subscription on
  the controller's resource group (VM write / start events). Through a queue rather than an Event
  Grid trigger because Event Grid retries a delivery after 30 s, while a restore waits minutes
  for a booting controller.

HTTP answers: the core's `http_status` (README, "Function results"). Logs go through the standard library
logger, which the Functions host forwards to Application Insights; the core's log-record factory
masks every secret before any handler sees it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import azure.functions as func
from controller_backup.backup import run_backup
from controller_backup.check import CheckReport, run_check
from controller_backup.errors import BackupError, BadRequest, RefusedError, http_status
from controller_backup.restore import run_restore
from controller_backup.results import JobResult
from controller_backup.settings import Settings

log = logging.getLogger("controller_backup.azure")
logging.getLogger("controller_backup").setLevel(logging.INFO)
# The SDKs log every HTTP request at INFO; their warnings are enough in a function's log.
logging.getLogger("azure").setLevel(logging.WARNING)

REPLACEMENT_QUEUE = "controller-replacements"
#: how the replacement's URL is built from its private IP (a template with {private_ip})
REPLACEMENT_URL_ENV = "REPLACEMENT_CONTROLLER_URL"
#: only VMs carrying this tag (NAME=VALUE) are treated as replacement controllers
REPLACEMENT_TAG_ENV = "REPLACEMENT_VM_TAG"
DEFAULT_REPLACEMENT_URL = "https://{private_ip}"
DEFAULT_REPLACEMENT_TAG = "controller-backup-role=replacement"

_BACKUP_FIELDS: dict[str, type] = {"force": bool, "action": str}
_RESTORE_FIELDS: dict[str, type] = {
    "version_id": str,
    "dry_run": bool,
    "force": bool,
    "allow_version_mismatch": bool,
    "controller_url": str,
    "private_ip": str,
    "vm_id": str,
}

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


# -- timer -----------------------------------------------------------------------------------


@app.function_name("scheduled_backup")
@app.timer_trigger(schedule="%BACKUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:10:00")
def scheduled_backup(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.warning(
            "the scheduled backup is past due (missed while the app was stopped or busy); running now"
        )
    result = run_backup(Settings.from_env(), trigger="schedule")
    _log_result(result)


# -- HTTP ------------------------------------------------------------------------------------


@app.function_name("backup")
@app.route(route="backup", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def backup(req: func.HttpRequest) -> func.HttpResponse:
    def job() -> JobResult | CheckReport:
        body = _body(req, _BACKUP_FIELDS)
        action = body.get("action", "backup")
        if action == "check":
            if "force" in body:
                raise BadRequest("a check takes no other field than action")
            return run_check()
        if action != "backup":
            raise BadRequest(f'action must be "backup" or "check", got {action[:40]!r}')
        return run_backup(Settings.from_env(), force=bool(body.get("force", False)), trigger="manual")

    return _answer(job)


@app.function_name("restore")
@app.route(route="restore", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def restore(req: func.HttpRequest) -> func.HttpResponse:
    def job() -> JobResult:
        body = _body(req, _RESTORE_FIELDS)
        settings = Settings.from_env()
        controller_url = body.get("controller_url")
        if controller_url is not None:
            try:
                settings.for_controller(controller_url)
            except ValueError as exc:
                raise BadRequest(f"controller_url: {exc}") from None
        private_ip = body.get("private_ip")
        if private_ip is not None:
            _check_ip("private_ip", private_ip)
        return run_restore(
            settings,
            controller_url=controller_url,
            private_ip=private_ip,
            version_id=body.get("version_id") or None,
            dry_run=bool(body.get("dry_run", False)),
            force=bool(body.get("force", False)),
            allow_version_mismatch=bool(body.get("allow_version_mismatch", False)),
            idempotency_key=body.get("vm_id") or None,
        )

    return _answer(job)


# -- replacement controller (Event Grid -> storage queue) ------------------------------------


@app.function_name("replacement_controller")
@app.queue_trigger(arg_name="msg", queue_name=REPLACEMENT_QUEUE, connection="AzureWebJobsStorage")
def replacement_controller(msg: func.QueueMessage) -> None:
    import replacement_vm

    event = replacement_vm.parse_event(msg.get_body())
    if event is None:
        log.info("queue message %s is not a VM write/start event; ignored", msg.id)
        return
    vm = _arm_reader().replacement(event.resource_id)
    tag_name, _, tag_value = (os.environ.get(REPLACEMENT_TAG_ENV) or DEFAULT_REPLACEMENT_TAG).partition("=")
    if vm.tags.get(tag_name) != tag_value:
        log.info(
            "VM %s is not tagged %s=%s; not a replacement controller, ignored", vm.name, tag_name, tag_value
        )
        return
    template = os.environ.get(REPLACEMENT_URL_ENV) or DEFAULT_REPLACEMENT_URL
    controller_url = template.replace("{private_ip}", vm.private_ip)
    log.info(
        "replacement controller VM %s (vm id %s, %s, event %s) at %s",
        vm.name,
        vm.vm_id,
        event.operation,
        event.event_id,
        controller_url,
    )
    try:
        result = run_restore(
            Settings.from_env(),
            controller_url=controller_url,
            private_ip=vm.private_ip,
            idempotency_key=vm.vm_id,
        )
    except RefusedError as exc:
        # A retry cannot change a refusal (a configured controller, another restore running, a
        # version mismatch): complete the message, and log an error the failure alert sees.
        log.error("restore onto VM %s refused [%s]: %s", vm.name, exc.code, exc.message)
        return
    _log_result(result)


def _arm_reader() -> Any:
    """The ARM reader with the function's managed identity (replaced in tests)."""
    from azure.identity import DefaultAzureCredential
    from replacement_vm import ArmReader

    return ArmReader(DefaultAzureCredential(exclude_interactive_browser_credential=True))


# -- helpers ---------------------------------------------------------------------------------


def _log_result(result: JobResult | CheckReport) -> None:
    log.info("%s result: %s", result.job, json.dumps(result.to_dict(), sort_keys=True))


def _body(req: func.HttpRequest, fields: dict[str, type]) -> dict[str, Any]:
    """The JSON object body, checked against `fields`; an empty body is `{}`."""
    raw = req.get_body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; accepted: {', '.join(fields)}")
    for name, kind in fields.items():
        value = body.get(name)
        if value is not None and not isinstance(value, kind):
            raise BadRequest(f"{name} must be a {'boolean' if kind is bool else 'string'}")
    return body


def _check_ip(name: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise BadRequest(f"{name} must be an IP address, got {value[:45]!r}") from None


def _answer(job: Callable[[], JobResult | CheckReport]) -> func.HttpResponse:
    try:
        result = job()
    except BackupError as exc:
        status = http_status(exc)
        log.log(
            logging.WARNING if status < 500 else logging.ERROR, "answering %d [%s]: %s", status, exc.code, exc
        )
        return _json(exc.to_dict(), status)
    except Exception:
        log.exception("unexpected failure")
        return _json({"status": "error", "code": "internal", "error": "unexpected failure; see the log"}, 500)
    _log_result(result)
    return _json(result.to_dict(), 200)


def _json(body: dict[str, Any], status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
