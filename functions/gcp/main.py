"""Google Cloud Functions (2nd gen) entry points: parse the trigger, call the core, map the result.

Entry points (functions-framework targets):

- `backup_http`   Cloud Scheduler (OIDC-authenticated POST, body `{"trigger": "schedule"}`) and
                  on-demand calls; body `{"force": bool, "trigger": str}`, both optional. The body
                  `{"action": "check"}` runs the preflight check instead, changing nothing: 200
                  with the report (`"status": "ok"` or `"fail"`).
- `backup_event`  a Pub/Sub message through Eventarc; the message data is the same optional JSON.
- `restore_http`  on-demand restore; body `{"version_id", "dry_run", "force",
                  "allow_version_mismatch", "controller_url", "private_ip", "idempotency_key"}`.
- `restore_event` an Eventarc Cloud Audit Logs event for `compute.instances.insert`: a replacement
                  controller was created. Restores into it once per instance id.

HTTP answers: the core's `http_status` (README, "Function results"), so Cloud Scheduler
retries and the error alerts see failures. CloudEvent functions raise on failure (the
platform retries and counts the error) but acknowledge a malformed event after logging why,
because retrying it cannot help.

Logs are one JSON object per line on stdout with `severity` and `message`, which Cloud Logging
parses into structured entries; every line passes through the core's redactor.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping
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
from controller_backup.errors import BackupError, BadRequest, SettingsError, http_status
from controller_backup.redact import redact
from controller_backup.restore import run_restore
from controller_backup.settings import Settings

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
        if type(handler) is logging.StreamHandler or isinstance(handler, _CurrentStdoutHandler):
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

# -- input parsing ------------------------------------------------------------------------------

_BOOL_TEXT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.lower()]
    raise BadRequest(f"{name} must be true or false")


def _text(name: str, value: object, limit: int = 512) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"{name} must be a non-empty string of at most {limit} characters")
    return value.strip()


def _ip(name: str, value: object) -> str:
    text = _text(name, value, 64)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise BadRequest(f"{name} must be an IP address") from None


def _controller_url(name: str, value: object) -> str:
    text = _text(name, value)
    if not re.match(r"^https?://[^/\s@]+/?$", text):
        raise BadRequest(f"{name} must look like https://host[:port]")
    return text.rstrip("/")


_TRIGGER = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def _trigger(name: str, value: object) -> str:
    text = _text(name, value, 32)
    if not _TRIGGER.match(text):
        raise BadRequest(f"{name} must be a short lowercase word such as 'schedule' or 'manual'")
    return text


_BACKUP_FIELDS: dict[str, Callable[[str, object], Any]] = {"force": _bool, "trigger": _trigger}
_RESTORE_FIELDS: dict[str, Callable[[str, object], Any]] = {
    "version_id": lambda n, v: _text(n, v, 128),
    "dry_run": _bool,
    "force": _bool,
    "allow_version_mismatch": _bool,
    "controller_url": _controller_url,
    "private_ip": _ip,
    "idempotency_key": lambda n, v: _text(n, v, 128),
}


def _fields(raw: Mapping[str, object], allowed: Mapping[str, Callable[[str, object], Any]]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return {key: allowed[key](key, value) for key, value in raw.items() if value is not None}


def _request_fields(request: flask.Request) -> dict[str, object]:
    """The JSON object body merged over the query string; an empty body is an empty object."""
    fields: dict[str, object] = dict(request.args.items())
    body = request.get_data(cache=True)
    if body.strip():
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise BadRequest("the body must be a JSON object")
        fields.update(parsed)
    return fields


# -- result mapping -----------------------------------------------------------------------------


def _respond(job: Callable[[], dict[str, Any]], what: str) -> flask.Response:
    started = time.monotonic()
    try:
        result = job()
    except BackupError as exc:
        status = http_status(exc)
        body = exc.to_dict()
        # a caller's bad input is a warning; a deployment's bad settings and every failure are errors
        log.log(
            logging.WARNING if isinstance(exc, BadRequest) else logging.ERROR,
            "%s failed [%s]: %s",
            what,
            exc.code,
            exc.message,
            extra={"json_fields": {"result": body, "http_status": status}},
        )
        return _json_response(body, status)
    except Exception as exc:  # the one place an unexpected failure becomes a 500
        log.exception("%s failed unexpectedly", what)
        body = {"status": "error", "code": "internal", "error": redact(f"{type(exc).__name__}: {exc}")[:300]}
        return _json_response(body, 500)
    log.info(
        "%s %s in %d ms",
        result.get("job") or what,  # a backup call may have run the check
        result.get("status"),
        int((time.monotonic() - started) * 1000),
        extra={"json_fields": {"result": result}},
    )
    return _json_response(result, 200)


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


# -- backup -------------------------------------------------------------------------------------


def _backup(fields: Mapping[str, Any], default_trigger: str) -> dict[str, Any]:
    settings = Settings.from_env()
    result = run_backup(
        settings, force=fields.get("force", False), trigger=fields.get("trigger", default_trigger)
    )
    return result.to_dict()


def _action(name: str, value: object) -> str:
    if value not in ("backup", "check"):
        raise BadRequest(f'{name} must be "backup" or "check"')
    return str(value)


def _backup_or_check(request: flask.Request) -> dict[str, Any]:
    fields = _fields(_request_fields(request), {**_BACKUP_FIELDS, "action": _action})
    if fields.pop("action", "backup") == "check":
        if fields:
            raise BadRequest(f"a check takes no other field than action (got {', '.join(sorted(fields))})")
        return run_check().to_dict()
    return _backup(fields, "manual")


@functions_framework.http
def backup_http(request: flask.Request) -> flask.Response:
    """Back up now: Cloud Scheduler's daily call or an on-demand POST; or the preflight check."""
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _respond(lambda: _backup_or_check(request), "backup")


def _pubsub_fields(event: CloudEvent) -> dict[str, Any]:
    data = event.data
    if not isinstance(data, Mapping) or not isinstance(data.get("message"), Mapping):
        raise BadRequest("not a Pub/Sub CloudEvent: data.message is missing")
    encoded = data["message"].get("data") or ""
    if not encoded:
        return {}
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise BadRequest("the Pub/Sub message data is not base64 UTF-8 text") from None
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        raise BadRequest("the Pub/Sub message is not a JSON object") from None
    if not isinstance(parsed, dict):
        raise BadRequest("the Pub/Sub message is not a JSON object")
    return _fields(parsed, _BACKUP_FIELDS)


def _run_event(event: CloudEvent, what: str, job: Callable[[], dict[str, Any] | None]) -> None:
    """Run an event's job: log its result; ack a malformed event; raise every failure."""
    context = {
        "event_id": event.get("id"),
        "event_type": event.get("type"),
        "event_source": event.get("source"),
    }
    started = time.monotonic()
    try:
        result = job()
    except (BadRequest, SettingsError) as exc:
        if isinstance(exc, SettingsError):
            # A deployment fault: fail loudly so the platform's error alerts see every event.
            log.error("%s failed [%s]: %s", what, exc.code, exc.message, extra={"json_fields": context})
            raise
        log.error(
            "%s: event ignored, it cannot succeed on retry: %s",
            what,
            exc.message,
            extra={"json_fields": {**context, "result": exc.to_dict()}},
        )
        return
    except BackupError as exc:
        log.error(
            "%s failed [%s]: %s",
            what,
            exc.code,
            exc.message,
            extra={"json_fields": {**context, "result": exc.to_dict()}},
        )
        raise
    if result is None:
        return
    log.info(
        "%s %s in %d ms",
        what,
        result.get("status"),
        int((time.monotonic() - started) * 1000),
        extra={"json_fields": {**context, "result": result}},
    )


@functions_framework.cloud_event
def backup_event(event: CloudEvent) -> None:
    """Back up when a message arrives on the backup topic (Eventarc Pub/Sub trigger)."""
    _run_event(event, "backup", lambda: _backup(_pubsub_fields(event), "pubsub"))


# -- restore ------------------------------------------------------------------------------------


def _restore(fields: Mapping[str, Any]) -> dict[str, Any]:
    settings = Settings.from_env()
    result = run_restore(
        settings,
        controller_url=fields.get("controller_url"),
        private_ip=fields.get("private_ip"),
        version_id=fields.get("version_id"),
        dry_run=fields.get("dry_run", False),
        force=fields.get("force", False),
        allow_version_mismatch=fields.get("allow_version_mismatch", False),
        idempotency_key=fields.get("idempotency_key"),
    )
    return result.to_dict()


@functions_framework.http
def restore_http(request: flask.Request) -> flask.Response:
    """Restore on demand: a version, a dry run, force, a replacement controller as the target."""
    refused = _method_not_allowed(request)
    if refused is not None:
        return refused
    return _respond(lambda: _restore(_fields(_request_fields(request), _RESTORE_FIELDS)), "restore")


AUDIT_LOG_EVENT = "google.cloud.audit.log.v1.written"
_INSERT_METHODS = ("v1.compute.instances.insert", "beta.compute.instances.insert")
_INSTANCE_NAME = re.compile(r"^projects/([^/]+)/zones/([^/]+)/instances/([a-z]([-a-z0-9]{0,61}[a-z0-9])?)$")


def _replacement(event: CloudEvent) -> dict[str, str] | None:
    """The created instance's project, zone, name, id and (when the request named it) private IP;
    None when the event is not a finished controller insert."""
    if event.get("type") != AUDIT_LOG_EVENT:
        raise BadRequest(f"expected a {AUDIT_LOG_EVENT} event, got {event.get('type')!r}")
    entry = event.data
    if not isinstance(entry, Mapping) or not isinstance(entry.get("protoPayload"), Mapping):
        raise BadRequest("the audit log event has no protoPayload")
    payload = entry["protoPayload"]
    method = payload.get("methodName", "")
    if method not in _INSERT_METHODS:
        log.info("ignoring audit log entry for %s", method)
        return None
    operation = entry.get("operation") or {}
    if operation.get("first") and not operation.get("last"):
        log.info("ignoring the insert's first audit entry; acting on its completion entry")
        return None
    status = payload.get("status") or {}
    if status.get("code"):
        log.info("ignoring a failed insert (status %s)", status.get("code"))
        return None
    match = _INSTANCE_NAME.match(payload.get("resourceName", ""))
    if not match:
        raise BadRequest("protoPayload.resourceName is not projects/P/zones/Z/instances/NAME")
    project, zone, name = match.group(1), match.group(2), match.group(3)
    labels = (entry.get("resource") or {}).get("labels") or {}
    instance_id = str(labels.get("instance_id") or (payload.get("response") or {}).get("targetId") or "")
    if not instance_id.isdigit():
        raise BadRequest("the audit log entry names no instance id")
    found = {"project": project, "zone": zone, "name": name, "instance_id": instance_id}
    interfaces = (payload.get("request") or {}).get("networkInterfaces") or []
    if interfaces and isinstance(interfaces[0], Mapping) and interfaces[0].get("networkIP"):
        found["private_ip"] = _ip("networkInterfaces[0].networkIP", interfaces[0]["networkIP"])
    return found


def _instance_private_ip(project: str, zone: str, name: str) -> str:
    """The instance's first private IP, from the Compute Engine API with the function's identity.

    `COMPUTE_EMULATOR_HOST` (like `STORAGE_EMULATOR_HOST`) points the call at a local server with
    anonymous credentials, for tests.
    """
    import google.auth
    import requests
    from google.auth import credentials as auth_credentials
    from google.auth import exceptions as auth_exceptions
    from google.auth.transport import requests as auth_requests

    emulator = os.environ.get("COMPUTE_EMULATOR_HOST", "").rstrip("/")
    credentials: Any
    if emulator:
        anonymous: Any = auth_credentials.AnonymousCredentials  # untyped in google-auth
        credentials = anonymous()
    else:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/compute.readonly"])
    authorized_session: Any = auth_requests.AuthorizedSession  # untyped in google-auth
    session = authorized_session(credentials)
    endpoint = emulator or "https://compute.googleapis.com"
    url = f"{endpoint}/compute/v1/projects/{project}/zones/{zone}/instances/{name}"
    try:
        response = session.get(url, timeout=30)
    except (requests.RequestException, auth_exceptions.GoogleAuthError) as exc:  # retried with the event
        raise BackupError(f"instance lookup for {name} failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise BackupError(f"instance lookup for {name} answered HTTP {response.status_code}")
    interfaces = response.json().get("networkInterfaces") or []
    if not interfaces or not interfaces[0].get("networkIP"):
        raise BackupError(f"instance {name} has no private IP yet")
    return _ip("networkIP", interfaces[0]["networkIP"])


def _restore_replacement(event: CloudEvent) -> dict[str, Any] | None:
    found = _replacement(event)
    if found is None:
        return None
    pattern = os.environ.get("RESTORE_INSTANCE_NAME_PATTERN", "")
    if not pattern:
        raise SettingsError("RESTORE_INSTANCE_NAME_PATTERN is required (a regex matching controller names)")
    try:
        wanted = re.fullmatch(pattern, found["name"])
    except re.error:
        raise SettingsError("RESTORE_INSTANCE_NAME_PATTERN is not a valid regular expression") from None
    if not wanted:
        log.info("instance %s is not a controller (RESTORE_INSTANCE_NAME_PATTERN); ignored", found["name"])
        return None
    private_ip = found.get("private_ip") or _instance_private_ip(
        found["project"], found["zone"], found["name"]
    )
    template = os.environ.get("RESTORE_TARGET_URL", "https://{ip}")
    controller_url = template.replace("{ip}", private_ip)
    log.info("replacement controller %s (id %s) at %s", found["name"], found["instance_id"], private_ip)
    return _restore(
        {"controller_url": controller_url, "private_ip": private_ip, "idempotency_key": found["instance_id"]}
    )


@functions_framework.cloud_event
def restore_event(event: CloudEvent) -> None:
    """Restore into a replacement controller announced by a Compute Engine audit log entry."""
    _run_event(event, "restore", lambda: _restore_replacement(event))
