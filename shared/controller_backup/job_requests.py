"""The one request contract every cloud's functions share: the same names, types, limits and errors.

A request reaches us as an HTTP body (AWS Function URL, Azure, GCP), a direct invoke or a
scheduler's input. Each handler turns its event into a JSON object and hands it here; nothing else
parses a caller's fields. Everything malformed is a BadRequest (HTTP 400) at once, before a setting
is read or a connection opened: a body that is not UTF-8 or not JSON, nested deeper than
`MAX_DEPTH`, larger than `MAX_BODY`, an unknown field (the answer lists the known ones), a
boolean that is not a JSON boolean, an address that does not parse. Query strings carry nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller_backup.addresses import parse_controller_url
from controller_backup.errors import BadRequest

#: a request is a handful of short fields, a cloud event a few KiB; anything larger is not one of ours
MAX_BODY = 64 * 1024
#: our requests are flat; a cloud event nests a few levels
MAX_DEPTH = 32
#: the actions of the backup function
BACKUP_ACTIONS = ("backup", "check", "verify")
#: who may say they started a job; the entry point's own name is used when the body says nothing
TRIGGERS = ("schedule", "manual")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TIME = re.compile(r"^[0-9T:.+\-Z ]{1,40}$")
_MAX_VERSION_ID = 1024


def parse_body(body: bytes | str | None, *, base64_encoded: bool = False) -> dict[str, Any]:
    """A request body as a JSON object; an empty body is an empty object."""
    if body is None:
        return {}
    if base64_encoded:
        try:
            body = base64.b64decode(body if isinstance(body, bytes) else body.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise BadRequest("the request body is not valid base64") from None
    if isinstance(body, bytes):
        if len(body) > MAX_BODY:
            raise BadRequest(f"the request body is larger than {MAX_BODY} bytes")
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the request body is not UTF-8 text") from None
    if len(body) > MAX_BODY:
        raise BadRequest(f"the request body is larger than {MAX_BODY} bytes")
    if not body.strip():
        return {}
    if _depth(body) > MAX_DEPTH:
        raise BadRequest(f"the request body is nested more than {MAX_DEPTH} deep")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise BadRequest("the request body is not JSON") from None
    return as_object(parsed, "the request body")


def _depth(text: str) -> int:
    """How deep arrays and objects nest, strings skipped: checked before parsing, because how deep
    `json.loads` recurses before a RecursionError differs between Python versions."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def as_object(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is a JSON object (a direct invoke's event, a parsed body)."""
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


@dataclass(frozen=True)
class BackupRequest:
    """Back up now (`backup`), check that a backup could run (`check`), or check that the stored
    backups would restore (`verify`, the readiness check)."""

    action: str = "backup"
    #: replace the stored backup even with a much smaller export (lifts the shrink rule only)
    allow_shrink: bool = False
    trigger: str = "manual"
    #: when the scheduler meant this run to start (logged; a late run is visible)
    scheduled_time: str | None = None
    #: verify only: every destination (the function's default), or the primary alone (false)
    all_destinations: bool = True


_BACKUP_FIELDS = ("action", "allow_shrink", "trigger", "scheduled_time", "all")


def parse_backup_request(payload: Mapping[str, Any], *, trigger: str) -> BackupRequest:
    """A backup function's request; `trigger` names the entry point it arrived through."""
    _check_fields(payload, _BACKUP_FIELDS)
    action = _text(payload, "action", 16) or "backup"
    if action not in BACKUP_ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(BACKUP_ACTIONS)}, got {action[:16]!r}")
    said = _text(payload, "trigger", 16)
    if said is not None and said not in TRIGGERS:
        raise BadRequest(f"trigger must be one of {', '.join(TRIGGERS)}, got {said[:16]!r}")
    allow_shrink = _bool(payload, "allow_shrink")
    if action != "backup" and allow_shrink:
        raise BadRequest(f"a {action} changes nothing: allow_shrink does not apply to it")
    if action != "verify" and "all" in payload:
        raise BadRequest("all applies to action verify only")
    all_destinations = _bool(payload, "all") if "all" in payload else True
    when = _text(payload, "scheduled_time", 40)
    if when is not None and not _TIME.match(when):
        raise BadRequest("scheduled_time must be an ISO 8601 time")
    return BackupRequest(action, allow_shrink, said or trigger, when, all_destinations)


@dataclass(frozen=True)
class RestoreOptions:
    """What the operator (or the event) asked for: each `allow_*`/`overwrite_*` lifts one rule."""

    version_id: str | None = None
    dry_run: bool = False
    #: restore into a controller that is already set up (and may hold configuration)
    overwrite_configured: bool = False
    #: restore a backup older than RESTORE_MAX_BACKUP_AGE
    allow_old_backup: bool = False
    #: restore onto another controller version than the backup's
    allow_version_mismatch: bool = False
    #: native: let the restored controller's first backup replace a much larger stored one
    allow_shrink: bool = False
    #: the destination to read (`--from`, a request's `from`: BACKUP_URL or a BACKUP_COPY_URLS
    #: entry, checked against the settings by the restore); None: the primary, else the newest
    #: copy that verifies
    source: str | None = None


@dataclass(frozen=True)
class RestoreRequest:
    """Restore the stored backup into a target that belongs (docs/design.md, invariant 9).

    The target is one of: the configured controller (nothing named), a replacement the cloud's
    API describes (`instance_id`), or an address the deployment allowed (`controller_url`, with
    `private_ip` as a blank replacement's initial password). `idempotency_key` makes a request
    with an address safe to repeat; a restore by instance id is keyed by the instance. Each of
    `overwrite_configured`, `allow_old_backup`, `allow_version_mismatch` and `allow_shrink` lifts
    one safety rule (`RestoreOptions`).
    """

    instance_id: str | None = None
    controller_url: str | None = None
    private_ip: str | None = None
    idempotency_key: str | None = None
    trigger: str = "manual"
    options: RestoreOptions = RestoreOptions()


_RESTORE_FIELDS = (
    "action",
    "instance_id",
    "controller_url",
    "private_ip",
    "version_id",
    "dry_run",
    "overwrite_configured",
    "allow_old_backup",
    "allow_version_mismatch",
    "allow_shrink",
    "idempotency_key",
    "from",
)


def parse_restore_request(payload: Mapping[str, Any], *, trigger: str) -> RestoreRequest:
    """A restore function's request (a direct invoke or an HTTP body); `trigger` as above."""
    _check_fields(payload, _RESTORE_FIELDS)
    action = _text(payload, "action", 16)
    if action not in (None, "restore"):
        raise BadRequest(f"action must be restore, got {action[:16]!r}")
    instance_id = _token(payload, "instance_id")
    controller_url = _text(payload, "controller_url", 512)
    if controller_url is not None:
        try:
            # the syntax here; whether it may be reached (https, allowlist) once settings are read
            controller_url = parse_controller_url(controller_url, allow_http=True)
        except ValueError as exc:
            raise BadRequest(f"controller_url {exc}") from None
    private_ip = _ip(payload, "private_ip")
    if instance_id and (controller_url or private_ip):
        raise BadRequest("give instance_id, or controller_url and private_ip, not both")
    key = _token(payload, "idempotency_key")
    if instance_id and key:
        raise BadRequest("a restore by instance_id is keyed by the instance: leave idempotency_key out")
    version_id = _text(payload, "version_id", _MAX_VERSION_ID)
    options = RestoreOptions(
        version_id=version_id,
        dry_run=_bool(payload, "dry_run"),
        overwrite_configured=_bool(payload, "overwrite_configured"),
        allow_old_backup=_bool(payload, "allow_old_backup"),
        allow_version_mismatch=_bool(payload, "allow_version_mismatch"),
        allow_shrink=_bool(payload, "allow_shrink"),
        source=_text(payload, "from", 2048),
    )
    return RestoreRequest(
        instance_id=instance_id,
        controller_url=controller_url,
        private_ip=private_ip,
        idempotency_key=key,
        trigger=trigger,
        options=options,
    )


def replacement_request(instance_id: str, *, trigger: str) -> RestoreRequest:
    """The request a cloud event about a new instance or VM stands for."""
    return parse_restore_request({"instance_id": instance_id}, trigger=trigger)


# -- fields ----------------------------------------------------------------------------------------


def _check_fields(payload: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(name)[:40] for name in payload if name not in allowed)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _bool(payload: Mapping[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false (a JSON boolean), got {_shown(value)}")
    return value


def _text(payload: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"{name} must be a non-empty string of at most {limit} characters")
    return value.strip()


def _token(payload: Mapping[str, Any], name: str) -> str | None:
    value = _text(payload, name, 128)
    if value is not None and not _TOKEN.match(value):
        raise BadRequest(f"{name} must be letters, digits, '.', '_' or '-' (at most 128)")
    return value


def _ip(payload: Mapping[str, Any], name: str) -> str | None:
    value = _text(payload, name, 64)
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadRequest(f"{name} must be an IP address") from None


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)[:40]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__
