"""Google Cloud Functions (2nd gen) entry points: turn the trigger into the core's request, run it,
map the result.

Every body and message goes through the core's one request contract
(`controller_backup.job_requests`, README "Function results"): the same fields, JSON booleans
only, no query parameters, an unknown field named in a 400. Entry points (functions-framework
targets):

- `backup_http`   Cloud Scheduler (OIDC-authenticated POST, body `{"action": "backup", "trigger":
                  "schedule"}`) and on-demand calls: `{"action": "backup"|"check", "allow_shrink",
                  "trigger", "scheduled_time"}`, all optional. `check` runs the preflight check,
                  changing nothing: 200 with the report (`"status": "ok"` or `"fail"`). `verify`
                  runs the readiness check (`"all": false`: the primary alone), 500 when a
                  destination would not restore.
- `backup_event`  a Pub/Sub message through Eventarc; the message data is the same JSON object
                  (the readiness check's scheduler job publishes `{"action": "verify", "trigger":
                  "schedule"}`).
- `restore_http`  on-demand restore: `{"instance_id"}` (a replacement the Compute Engine API
                  describes) or `{"controller_url", "private_ip", "idempotency_key"}` (the configured
                  controller or a RESTORE_ALLOWED_TARGETS address), with `version_id`, `dry_run`,
                  and the rules' overrides (`overwrite_configured`, `allow_old_backup`,
                  `allow_version_mismatch`, `allow_shrink`).
- `restore_event` an Eventarc Cloud Audit Logs event for `compute.instances.insert`: restores into
                  the new instance once per instance id, if the Compute Engine API shows it carries
                  the replacement's label (REPLACEMENT_TAG) and/or name (REPLACEMENT_NAME_PATTERN).
                  Only the instance's project, zone, name and id come from the log entry; its
                  addresses and labels come from the API.

HTTP answers: the core's `http_status`, so Cloud Scheduler retries and the error alerts see
failures. CloudEvent functions raise on failure (the platform retries and counts the error) but
acknowledge, after logging why, an event that cannot succeed on retry: a malformed one, or an
instance that is no controller replacement (logged as information, not as an error).

Logs are one JSON object per line on stdout with `severity` and `message`, which Cloud Logging
parses into structured entries; every line passes through the core's redactor.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The storage SDK loads with the module (during the instance's start-up), not inside the first
# request; Secret Manager's loads on the first gcp-sm: fetch (once per cold start).
import controller_backup.stores.gcs  # noqa: F401
import flask
import functions_framework
from cloudevents.http import CloudEvent
from controller_backup.backup import run_backup
from controller_backup.check import run_check
from controller_backup.errors import (
    BackupError,
    BadRequest,
    NotAReplacement,
    SettingsError,
    http_status,
    unexpected_failure,
)
from controller_backup.job_requests import (
    BackupRequest,
    RestoreRequest,
    as_object,
    parse_backup_request,
    parse_body,
    parse_restore_request,
    replacement_request,
)
from controller_backup.redact import redact
from controller_backup.restore import run_restore_request
from controller_backup.settings import Settings
from controller_backup.targets import Describe, Instance
from controller_backup.verify import run_verify

log = logging.getLogger("controller_backup.gcp")

# -- structured logging -----------------------------------------------------------------------

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
_TRACE_HEADER = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?")


def _trace_fields() -> dict[str, str]:
    """Cloud Logging's trace correlation, from the request's X-Cloud-Trace-Context header."""
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project or not flask.has_request_context():
        return {}
    match = _TRACE_HEADER.match(flask.request.headers.get("X-Cloud-Trace-Context", ""))
    if not match:
        return {}
    fields = {"logging.googleapis.com/trace": f"projects/{project}/traces/{match.group(1)}"}
    if match.group(2):
        fields["logging.googleapis.com/spanId"] = match.group(2)
    return fields


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per record: `severity`, `message`, `time`, `logger`, and `json_fields`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # Cloud Error Reporting reads a stack trace that follows the message.
            message = f"{message}\n{''.join(traceback.format_exception(*record.exc_info))}"
        payload: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": redact(message),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                payload.setdefault(str(key), value)
        payload.update(_trace_fields())
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time, so the framework's per-request
    redirection (which adds the execution id label) sees our lines."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Route every log record (ours, the core's, Flask's) through one JSON handler on stdout."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # by name: a second load of this module (functions-framework loads it per app) has its own class
        if type(handler) is logging.StreamHandler or type(handler).__name__ == _CurrentStdoutHandler.__name__:
            root.removeHandler(handler)
    handler = _CurrentStdoutHandler()
    handler.setFormatter(CloudLoggingFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # The framework's dictConfig (LOG_EXECUTION_ID) disables every logger that exists when it runs.
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("controller_backup") and isinstance(logger, logging.Logger):
            logger.disabled = False


configure_logging(getattr(logging, os.environ.get("LOG_LEVEL", "INFO").upper(), logging.INFO))

# -- requests and results ---------------------------------------------------------------------


def _http_body(request: flask.Request) -> dict[str, Any]:
    """The request's JSON object body; the query string carries nothing, so it must be empty
    (a `?dry_run=true` silently ignored would be a surprise)."""
    if request.args:
        names = ", ".join(sorted(name[:40] for name in request.args)[:5])
        raise BadRequest(f"query parameters are not accepted ({names}); send the fields as a JSON body")
    return parse_body(request.get_data(cache=True))


def _respond(job: Callable[[], dict[str, Any]], what: str) -> flask.Response:
    started = time.monotonic()
    try:
        result = job()
    except BackupError as exc:
        status = http_status(exc)
        body = exc.to_dict()
        # a caller's bad input is a warning; a refused target, bad settings and failures are errors
        log.log(
            logging.WARNING if isinstance(exc, BadRequest) else logging.ERROR,
            "%s failed [%s]: %s",
            what,
            exc.code,
            exc.message,
            extra={"json_fields": {"result": body, "http_status": status}},
        )
        return _json_response(body, status)
    except Exception:  # the one place an unexpected failure becomes a 500; its text only in the log
        body = unexpected_failure()
        log.exception("%s failed unexpectedly", what, extra={"json_fields": {"result": body}})
        return _json_response(body, 500)
    log.log(
        _level(result),
        "%s %s in %d ms",
        result.get("job") or what,  # a backup call may have run the check
        result.get("status"),
        int((time.monotonic() - started) * 1000),
        extra={"json_fields": {"result": result}},
    )
    return _json_response(result, 200)


def _level(result: Mapping[str, Any]) -> int:
    """A degraded backup (the primary stored, a copy failed) is a success with a warning: 200, and
    the copy's own `backup copy failed` ERROR line is what the alert matches."""
    return logging.WARNING if result.get("status") == "degraded" else logging.INFO


def _json_response(body: Mapping[str, Any], status: int) -> flask.Response:
    return flask.Response(
        redact(json.dumps(body, default=str)) + "\n", status=status, mimetype="application/json"
    )


def _method_not_allowed(request: flask.Request) -> flask.Response | None:
    if request.method == "POST":
        return None
    response = _json_response(
        {"status": "error", "code": "bad-request", "error": "use POST with a JSON body"}, 405
    )
    response.headers["Allow"] = "POST"
    return response


def _run_event(event: CloudEvent, what: str, job: Callable[[], dict[str, Any] | None]) -> None:
    """Run an event's job and log its result. Acknowledge what a retry cannot change (a malformed
    event, an instance that is no replacement); raise every failure, so the platform retries."""
    context = {
        "event_id": event.get("id"),
        "event_type": event.get("type"),
        "event_source": event.get("source"),
    }
    started = time.monotonic()
    try:
        result = job()
    except NotAReplacement as exc:
        # every instance created in the project arrives here: most are not ours, and that is fine
        log.info("%s: event ignored: %s", what, exc.message, extra={"json_fields": context})
        return
    except BadRequest as exc:
        log.error(
            "%s: event ignored, it cannot succeed on retry: %s",
            what,
            exc.message,
            extra={"json_fields": {**context, "result": exc.to_dict()}},
        )
        return
    except BackupError as exc:  # SettingsError included: a broken deployment fails every event loudly
        log.error(
            "%s failed [%s]: %s",
            what,
            exc.code,
            exc.message,
            extra={"json_fields": {**context, "result": exc.to_dict()}},
        )
        raise
    except Exception:
        log.exception(
            "%s failed unexpectedly", what, extra={"json_fields": {**context, "result": unexpected_failure()}}
        )
        raise
    if result is None:
        return
    log.log(
        _level(result),
        "%s %s in %d ms",
        result.get("job") or what,  # a backup event may have run the readiness check
        result.get("status"),
        int((time.monotonic() - started) * 1000),
        extra={"json_fields": {**context, "result": result}},
    )


# -- backup -------------------------------------------------------------------------------------


def _backup(request: BackupRequest) -> dict[str, Any]:
    if request.action == "check":
        return run_check().to_dict()
    settings = Settings.from_env()
    if request.action == "verify":
        return run_verify(
            settings, all_destinations=request.all_destinations, trigger=request.trigger
        ).to_dict()
    if request.scheduled_time:
        log.info("backup scheduled for %s", request.scheduled_time)
    return run_backup(settings, allow_shrink=request.allow_shrink, trigger=request.trigger).to_dict()


@functions_framework.http
def backup_http(request: flask.Request) -> flask.Response:
    """Back up now: Cloud Scheduler's daily call or an on-demand POST; or the preflight check."""
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _respond(lambda: _backup(parse_backup_request(_http_body(request), trigger="http")), "backup")


def _pubsub_body(event: CloudEvent) -> dict[str, Any]:
    """The Pub/Sub message's data (base64 in the envelope) as the request's JSON object."""
    data = as_object(event.data, "the Pub/Sub event's data")
    message = as_object(data.get("message"), "the Pub/Sub event's data.message")
    encoded = message.get("data")
    if encoded is not None and not isinstance(encoded, str):
        raise BadRequest("the Pub/Sub message's data must be a base64 string")
    return parse_body(encoded, base64_encoded=True)


@functions_framework.cloud_event
def backup_event(event: CloudEvent) -> None:
    """Back up when a message arrives on the backup topic (Eventarc Pub/Sub trigger)."""
    _run_event(event, "backup", lambda: _backup(parse_backup_request(_pubsub_body(event), trigger="pubsub")))


# -- the Compute Engine API: what an instance is, from the cloud itself -----------------------

_COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute.readonly"
#: an aggregatedList filtered on one id has one page; a bound, should the API page it anyway
_MAX_PAGES = 20
_INSTANCE_ID = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class ComputeApi:
    """The Compute Engine REST API with the function's identity.

    `COMPUTE_EMULATOR_HOST` (like `STORAGE_EMULATOR_HOST`) points the calls at a local server with
    anonymous credentials, for tests. `project` is GOOGLE_CLOUD_PROJECT, else the identity's own.
    """

    session: Any
    endpoint: str
    project: str | None

    @classmethod
    def open(cls) -> ComputeApi:
        import google.auth
        from google.auth import credentials as auth_credentials
        from google.auth import exceptions as auth_exceptions
        from google.auth.transport import requests as auth_requests

        emulator = os.environ.get("COMPUTE_EMULATOR_HOST", "").rstrip("/")
        credentials: Any
        project: str | None = None
        if emulator:
            anonymous: Any = auth_credentials.AnonymousCredentials  # untyped in google-auth
            credentials = anonymous()
        else:
            try:
                credentials, project = google.auth.default(scopes=[_COMPUTE_SCOPE])
            except auth_exceptions.GoogleAuthError as exc:
                raise BackupError(
                    f"no credentials for the Compute Engine API: {type(exc).__name__}"
                ) from None
        authorized_session: Any = auth_requests.AuthorizedSession  # untyped in google-auth
        return cls(
            authorized_session(credentials),
            emulator or "https://compute.googleapis.com",
            os.environ.get("GOOGLE_CLOUD_PROJECT") or project,
        )

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """GET `compute/v1/<path>`: the resource, or None when it does not exist (404)."""
        import requests
        from google.auth import exceptions as auth_exceptions

        try:
            response = self.session.get(f"{self.endpoint}/compute/v1/{path}", params=params, timeout=30)
        except (requests.RequestException, auth_exceptions.GoogleAuthError) as exc:  # retried
            raise BackupError(f"the Compute Engine API call failed: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            hint = (
                " (the function's service account needs compute.instances.get and compute.instances.list)"
                if response.status_code == 403
                else ""
            )
            raise BackupError(f"the Compute Engine API answered HTTP {response.status_code}{hint}")
        try:
            return as_object(response.json(), "the Compute Engine API's answer")
        except ValueError:
            raise BackupError("the Compute Engine API answered something that is not JSON") from None


def instance_facts(resource: Mapping[str, Any]) -> Instance:
    """An instance resource as the core's `Instance`: its numeric id, name, labels, the first
    interface's private IP and that interface's external (NAT) IP."""
    interfaces = resource.get("networkInterfaces") or []
    first = interfaces[0] if isinstance(interfaces, list) and interfaces else {}
    first = first if isinstance(first, Mapping) else {}
    configs = first.get("accessConfigs") or []
    nat = next(
        (c["natIP"] for c in configs if isinstance(c, Mapping) and c.get("natIP")),
        None,
    )
    labels = resource.get("labels") or {}
    return Instance(
        instance_id=str(resource.get("id", "")),
        name=str(resource.get("name", "")),
        private_ip=_address(first.get("networkIP")),
        public_ip=_address(nat),
        tags={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
    )


def _address(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def describe_in_zone(project: str, zone: str, name: str) -> Describe:
    """The lookup for an audit log event: `instances.get` of the named instance, which must
    still be the event's instance (a name can be reused by a newer one)."""

    def describe(instance_id: str) -> Instance:
        found = ComputeApi.open().get(f"projects/{project}/zones/{zone}/instances/{name}")
        if found is None:
            raise BadRequest(f"instance {name} (id {instance_id}) no longer exists in {zone}")
        instance = instance_facts(found)
        if instance.instance_id != instance_id:
            raise BadRequest(
                f"instance {name} in {zone} is now id {instance.instance_id[:24]}, not {instance_id}: "
                "the event's instance is gone"
            )
        return instance

    return describe


def describe_by_id(instance_id: str) -> Instance:
    """The lookup for a caller's `instance_id`: `instances.aggregatedList` filtered on the id, in
    the function's project (every zone)."""
    if not _INSTANCE_ID.match(instance_id):
        raise BadRequest(
            "instance_id must be a Compute Engine instance's numeric id "
            "(gcloud compute instances describe NAME --format='value(id)')"
        )
    api = ComputeApi.open()
    if not api.project:
        raise SettingsError("invalid settings: GOOGLE_CLOUD_PROJECT is required to look instances up by id")
    params = {"filter": f"id = {instance_id}", "returnPartialSuccess": "true"}
    unreachable: list[str] = []
    for _ in range(_MAX_PAGES):
        page = api.get(f"projects/{api.project}/aggregated/instances", params)
        if page is None:
            raise SettingsError(
                f"invalid settings: project {api.project} was not found by the Compute Engine API"
            )
        scopes = page.get("items") or {}
        for scope in scopes.values() if isinstance(scopes, Mapping) else ():
            for resource in (scope.get("instances") or []) if isinstance(scope, Mapping) else ():
                if isinstance(resource, Mapping) and str(resource.get("id")) == instance_id:
                    return instance_facts(resource)
        unreachable += [str(zone) for zone in page.get("unreachables") or []]
        token = page.get("nextPageToken")
        if not token:
            break
        params = {**params, "pageToken": str(token)}
    if unreachable:  # it may be in a zone that did not answer: worth a retry, unlike "no such id"
        raise BackupError(
            f"instance {instance_id} was not found, but {', '.join(unreachable[:3])} did not answer; "
            "try again"
        )
    raise BadRequest(f"no instance with id {instance_id} in project {api.project}")


# -- restore ------------------------------------------------------------------------------------


def _restore(request: RestoreRequest, describe: Describe) -> dict[str, Any]:
    return run_restore_request(Settings.from_env(), request, describe).to_dict()


@functions_framework.http
def restore_http(request: flask.Request) -> flask.Response:
    """Restore on demand: a version, a dry run, overrides; into the configured controller, an allowed
    address, or a replacement instance named by its id."""
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _respond(
        lambda: _restore(parse_restore_request(_http_body(request), trigger="http"), describe_by_id),
        "restore",
    )


AUDIT_LOG_EVENT = "google.cloud.audit.log.v1.written"
_INSERT_METHODS = ("v1.compute.instances.insert", "beta.compute.instances.insert")
#: project ids (domain-scoped ones too), zones and instance names as Compute Engine spells them: they
#: become a URL path
_INSTANCE_NAME = re.compile(
    r"^projects/([a-z][-a-z0-9.:]{0,62}[a-z0-9])/zones/([a-z][-a-z0-9]{0,62})"
    r"/instances/([a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


@dataclass(frozen=True)
class Inserted:
    """Which instance an audit log entry says was created: where to look it up, nothing more."""

    project: str
    zone: str
    name: str
    instance_id: str


def inserted_instance(event: CloudEvent) -> Inserted | None:
    """The created instance, or None when the event is not a finished, successful insert."""
    if event.get("type") != AUDIT_LOG_EVENT:
        raise BadRequest(f"expected a {AUDIT_LOG_EVENT} event, got {str(event.get('type'))[:80]!r}")
    entry = as_object(event.data, "the audit log event's data")
    payload = as_object(entry.get("protoPayload"), "the audit log entry's protoPayload")
    method = payload.get("methodName", "")
    if method not in _INSERT_METHODS:
        log.info("ignoring audit log entry for %s", str(method)[:80])
        return None
    operation = entry.get("operation") or {}
    if operation.get("first") and not operation.get("last"):
        log.info("ignoring the insert's first audit entry; acting on its completion entry")
        return None
    status = payload.get("status") or {}
    if status.get("code"):
        log.info("ignoring a failed insert (status %s)", status.get("code"))
        return None
    match = _INSTANCE_NAME.match(str(payload.get("resourceName", "")))
    if not match:
        raise BadRequest("protoPayload.resourceName is not projects/P/zones/Z/instances/NAME")
    labels = (entry.get("resource") or {}).get("labels") or {}
    instance_id = str(labels.get("instance_id") or (payload.get("response") or {}).get("targetId") or "")
    if not _INSTANCE_ID.match(instance_id):
        raise BadRequest("the audit log entry names no instance id")
    return Inserted(match.group(1), match.group(2), match.group(3), instance_id)


def _restore_replacement(event: CloudEvent) -> dict[str, Any] | None:
    inserted = inserted_instance(event)
    if inserted is None:
        return None
    log.info("instance %s (id %s) was created in %s", inserted.name, inserted.instance_id, inserted.zone)
    return _restore(
        replacement_request(inserted.instance_id, trigger="audit-log"),
        describe_in_zone(inserted.project, inserted.zone, inserted.name),
    )


@functions_framework.cloud_event
def restore_event(event: CloudEvent) -> None:
    """Restore into a replacement controller announced by a Compute Engine audit log entry."""
    _run_event(event, "restore", lambda: _restore_replacement(event))
