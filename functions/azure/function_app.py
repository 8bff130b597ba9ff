"""Azure Functions (Python v2 programming model): thin adapters around the core jobs.

Two function apps run this one package, one per job, so each has its own identity and keys: the
app setting `CONTROLLER_BACKUP_FUNCTIONS` says which functions this app registers (any other
value fails the import, which the host shows as an indexing error naming the setting).

`backup`:

* `scheduled_backup`  timer `%BACKUP_SCHEDULE%` (six NCRONTAB fields, seconds first; UTC on Linux
  Consumption and Flex plans). Raises on failure, so the run is recorded as failed; the retry
  policy runs it again twice, 10 minutes apart (timers are otherwise never retried).
* `scheduled_verify`  timer `%VERIFY_SCHEDULE%` (default 06:00): the readiness check of every
  destination (`{"action": "verify", "trigger": "schedule"}`). Raises when a destination would not
  restore, after one `verify failed` ERROR line each; not retried (the next day's run checks again).
* `backup`            `POST /api/backup`, the core's backup request (`{"allow_shrink": false}`,
  `{"action": "check"}` for the preflight check, which changes nothing and answers 200 with the
  report, `"status": "ok"` or `"fail"`, or `{"action": "verify", "all": true}`: the readiness check).

`restore`:

* `restore`           `POST /api/restore`, the core's restore request (`instance_id` is a VM's
  vmId, looked up in REPLACEMENT_RESOURCE_GROUPS; see replacement_vm).
* `replacement_controller`  queue `controller-replacements`, fed by an Event Grid subscription on
  the controller's resource group (VM write / start events). Through a queue rather than an Event
  Grid trigger because Event Grid retries a delivery after 30 s, while a restore waits minutes
  for a booting controller.

Every body and message goes through `controller_backup.job_requests`; HTTP answers are the core's
`http_status` (README, "Function results"). Logs go through the standard library logger, which
the Functions host forwards to Application Insights; the core's log-record factory masks every
secret before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func
from controller_backup.backup import run_backup
from controller_backup.check import CheckReport, run_check
from controller_backup.errors import (
    BackupError,
    Conflict,
    NotAReplacement,
    RefusedError,
    SettingsError,
    http_status,
    unexpected_failure,
)
from controller_backup.job_requests import (
    parse_backup_request,
    parse_body,
    parse_restore_request,
    replacement_request,
)
from controller_backup.restore import run_restore_request
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.targets import Describe, Instance
from controller_backup.verify import run_verify

if TYPE_CHECKING:  # the ARM reader loads azure-core's pipeline: only the restore app needs it
    from replacement_vm import ArmReader

log = logging.getLogger("controller_backup.azure")
logging.getLogger("controller_backup").setLevel(logging.INFO)
# The SDKs log every HTTP request at INFO; their warnings are enough in a function's log.
logging.getLogger("azure").setLevel(logging.WARNING)

#: the app setting that picks this app's functions
FUNCTIONS_SETTING = "CONTROLLER_BACKUP_FUNCTIONS"
REPLACEMENT_QUEUE = "controller-replacements"

# Blueprints, not FunctionApps: the worker indexes the one FunctionApp the module holds (`app`).
backup_functions = func.Blueprint()  # type: ignore[no-untyped-call]
restore_functions = func.Blueprint()  # type: ignore[no-untyped-call]


# -- backup: timer and HTTP --------------------------------------------------------------------


@backup_functions.function_name("scheduled_backup")
@backup_functions.timer_trigger(
    schedule="%BACKUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
@backup_functions.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:10:00")
def scheduled_backup(timer: func.TimerRequest) -> None:
    request = parse_backup_request(
        {"action": "backup", "trigger": "schedule", "scheduled_time": _scheduled_time(timer)},
        trigger="schedule",
    )
    if timer.past_due:
        log.warning(
            "the backup scheduled for %s is past due (missed while the app was stopped or busy); running now",
            request.scheduled_time,
        )
    else:
        log.info("scheduled backup for %s", request.scheduled_time)
    _log_result(run_backup(Settings.from_env(), allow_shrink=request.allow_shrink, trigger=request.trigger))


@backup_functions.function_name("scheduled_verify")
@backup_functions.timer_trigger(
    schedule="%VERIFY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def scheduled_verify(timer: func.TimerRequest) -> None:
    request = parse_backup_request(
        {"action": "verify", "trigger": "schedule", "scheduled_time": _scheduled_time(timer)},
        trigger="schedule",
    )
    log.info("scheduled readiness check for %s", request.scheduled_time)
    _log_result(
        run_verify(Settings.from_env(), all_destinations=request.all_destinations, trigger=request.trigger)
    )


@backup_functions.function_name("backup")
@backup_functions.route(route="backup", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def backup(req: func.HttpRequest) -> func.HttpResponse:
    def job() -> JobResult | CheckReport:
        request = parse_backup_request(parse_body(req.get_body()), trigger="manual")
        if request.action == "check":
            return run_check()
        if request.action == "verify":
            return run_verify(
                Settings.from_env(), all_destinations=request.all_destinations, trigger=request.trigger
            )
        return run_backup(Settings.from_env(), allow_shrink=request.allow_shrink, trigger=request.trigger)

    return _answer(job)


# -- restore: HTTP and the replacement controller (Event Grid -> storage queue) ---------------


@restore_functions.function_name("restore")
@restore_functions.route(route="restore", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def restore(req: func.HttpRequest) -> func.HttpResponse:
    def job() -> JobResult:
        request = parse_restore_request(parse_body(req.get_body()), trigger="manual")
        settings = Settings.from_env()
        return run_restore_request(settings, request, _find_vm(settings))

    return _answer(job)


@restore_functions.function_name("replacement_controller")
@restore_functions.queue_trigger(
    arg_name="msg", queue_name=REPLACEMENT_QUEUE, connection="AzureWebJobsStorage"
)
def replacement_controller(msg: func.QueueMessage) -> None:
    import replacement_vm

    event = replacement_vm.parse_event(parse_body(msg.get_body()))
    if event is None:
        log.info("queue message %s is not a VM write/start event; ignored", msg.id)
        return
    settings = Settings.from_env()
    vm = _arm_reader().instance(event.resource_id, public_ip=_needs_public_ip(settings))
    log.info("VM %s (vmId %s): %s, event %s", vm.name, vm.instance_id, event.operation, event.event_id)
    request = replacement_request(vm.instance_id, trigger="event")
    try:
        result = run_restore_request(settings, request, _described(vm))
    except NotAReplacement as exc:
        log.info("VM %s is not a controller replacement, ignored: %s", vm.name, exc.message)
        return
    except (RefusedError, Conflict) as exc:
        # A retry cannot change a refusal (a configured controller, another restore running, a
        # version mismatch) or a conflict: complete the message, and log an error the alert sees.
        log.error("restore onto VM %s refused [%s]: %s", vm.name, exc.code, exc.message)
        return
    _log_result(result)


def _find_vm(settings: Settings) -> Describe:
    """An HTTP caller's `instance_id` (a vmId) -> the VM, as ARM describes it."""
    import replacement_vm

    groups = replacement_vm.resource_groups(os.environ.get(replacement_vm.RESOURCE_GROUPS_ENV))

    def describe(vm_id: str) -> Instance:
        if groups is None:
            raise SettingsError(
                f"invalid settings: {replacement_vm.RESOURCE_GROUPS_ENV} is required to find a VM by its "
                "vmId (the controller's resource group id)"
            )
        return _arm_reader().find(vm_id, groups, public_ip=_needs_public_ip(settings))

    return describe


def _described(vm: Instance) -> Describe:
    """The lookup for an event: the VM was read already, by the resource id the event named."""

    def describe(vm_id: str) -> Instance:
        return vm

    return describe


def _needs_public_ip(settings: Settings) -> bool:
    """Read the VM's public IP only when REPLACEMENT_URL calls it there (one more ARM read)."""
    return "{public_ip}" in settings.replacement_url


def _arm_reader() -> ArmReader:
    """The ARM reader with the function's managed identity (replaced in tests)."""
    from azure.identity import DefaultAzureCredential
    from replacement_vm import ArmReader

    return ArmReader(DefaultAzureCredential(exclude_interactive_browser_credential=True))


# -- helpers ---------------------------------------------------------------------------------


def _scheduled_time(timer: func.TimerRequest) -> str:
    """When this run was scheduled: the host hands the status as it was before the run, so its
    `Next` is this occurrence (a missed one when past due); now, without a schedule monitor."""
    status = getattr(timer, "schedule_status", None) or {}  # the worker's TimerRequest has it
    raw = status.get("Next")
    try:
        when = datetime.fromisoformat(raw) if isinstance(raw, str) else datetime.now(UTC)
    except ValueError:
        when = datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the host's local time, UTC on Linux plans
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _log_result(result: JobResult | CheckReport) -> None:
    """A degraded backup (the primary stored, a copy failed) is a success with a warning: 200, and
    the copy's own `backup copy failed` ERROR line is what the alert matches."""
    level = logging.WARNING if result.status == "degraded" else logging.INFO
    log.log(level, "%s result: %s", result.job, json.dumps(result.to_dict(), sort_keys=True))


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
        return _json(unexpected_failure(), 500)
    _log_result(result)
    return _json(result.to_dict(), 200)


def _json(body: dict[str, Any], status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


# -- the app ---------------------------------------------------------------------------------

GROUPS: dict[str, func.Blueprint] = {"backup": backup_functions, "restore": restore_functions}


def _group() -> func.Blueprint:
    value = os.environ.get(FUNCTIONS_SETTING, "").strip()
    if value not in GROUPS:
        got = f"got {value[:40]!r}" if value else "it is not set"
        raise SettingsError(
            f"invalid settings: {FUNCTIONS_SETTING} must be backup (scheduled_backup, scheduled_verify, "
            f"backup) or restore (restore, replacement_controller); {got}"
        )
    return GROUPS[value]


app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(_group())
