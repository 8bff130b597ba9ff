"""Where a restore may go: the configured controller, a replacement the cloud vouches for, or an
address the deployment allowed (docs/design.md, invariant 9).

A restore sends the admin password and the whole configuration to its target, so a caller's input
never decides it alone. A target is one of:

- `configured`: CONTROLLER_URL itself;
- `operator`: named on the command line by the person who holds the settings and the password;
- `allowed`: a caller's `controller_url` whose host is CONTROLLER_URL's or in RESTORE_ALLOWED_TARGETS;
- `discovered`: an instance or VM the cloud's own API describes, carrying REPLACEMENT_TAG and
  matching REPLACEMENT_NAME_PATTERN, called at REPLACEMENT_URL.

Anything else is refused (ForbiddenTarget) before a connection is opened. The configured password
itself goes only to the configured controller: every other target is logged into as a blank
replacement (admin / its private IP), or, once our backup was restored into it, with the restored
(configured) credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from controller_backup.addresses import (
    SAME_AS_CONTROLLER,
    describe,
    fill_replacement_url,
    host_of,
    name_matches,
    parse_controller_url,
)
from controller_backup.errors import BadRequest, ForbiddenTarget, NotAReplacement, SettingsError
from controller_backup.job_requests import RestoreRequest
from controller_backup.settings import Settings

Origin = Literal["configured", "operator", "allowed", "discovered"]


@dataclass(frozen=True)
class Target:
    """A controller a restore may reach, and why it may."""

    url: str
    origin: Origin
    #: the target's private IP: a blank replacement's initial password, and its backup file's name
    private_ip: str | None = None
    #: the cloud's id of a discovered replacement (its instance or VM id)
    instance_id: str | None = None

    @property
    def is_configured(self) -> bool:
        return self.origin == "configured"

    def marker_key(self, idempotency_key: str | None) -> str | None:
        """The restore marker's name: a discovered replacement's own, else the caller's key.

        Separate namespaces, so no caller can claim a replacement's marker in advance by naming a
        future instance id as its key.
        """
        if self.origin == "discovered":
            return f"instance-{self.instance_id}"
        return f"request-{idempotency_key}" if idempotency_key else None


@dataclass(frozen=True)
class Instance:
    """What a cloud's API reports of an instance or VM: never what a caller says about it."""

    instance_id: str
    name: str
    private_ip: str | None
    public_ip: str | None
    tags: Mapping[str, str]


#: how a cloud looks an instance or VM up by id (BadRequest when there is none)
Describe = Callable[[str], Instance]


def resolve_target(settings: Settings, request: RestoreRequest, describe: Describe | None) -> Target:
    """The target a function's request names, refused (ForbiddenTarget) unless it belongs."""
    if request.instance_id:
        if describe is None:
            raise BadRequest("instance_id: this entry point cannot look instances up")
        return replacement_target(settings, describe(request.instance_id))
    if request.controller_url:
        return caller_target(settings, request.controller_url, request.private_ip)
    return configured_target(settings, request.private_ip)


def configured_target(settings: Settings, private_ip: str | None = None) -> Target:
    """CONTROLLER_URL (a replacement that took over its address, or the controller itself)."""
    if not settings.controller_url:
        raise SettingsError("invalid settings: CONTROLLER_URL is required (or name the target: --target-url)")
    return Target(settings.controller_url, "configured", private_ip)


def operator_target(settings: Settings, url: str, private_ip: str | None) -> Target:
    """A target the operator typed on the command line: any https URL (http only if allowed).
    Only CONTROLLER_URL itself is `configured`; without CONTROLLER_URL, nothing is."""
    parsed = _parse(settings, url)
    if settings.controller_url and parsed == settings.controller_url:
        return Target(parsed, "configured", private_ip)
    return Target(parsed, "operator", private_ip)


def caller_target(settings: Settings, url: str, private_ip: str | None) -> Target:
    """A `controller_url` from a function's caller: the configured controller or an allowed host."""
    parsed = _parse(settings, url)
    if parsed == settings.controller_url:
        return Target(parsed, "configured", private_ip)
    host = host_of(parsed)
    if host == host_of(settings.controller_url) or settings.restore_allowed_targets.allows(host):
        return Target(parsed, "allowed", private_ip)
    allowed = ", ".join(describe(settings.restore_allowed_targets)) or "none"
    raise ForbiddenTarget(
        f"controller_url {parsed} is not the configured controller and not in RESTORE_ALLOWED_TARGETS "
        f"({allowed}); name a replacement by its instance id, or add its address there"
    )


def replacement_target(settings: Settings, instance: Instance) -> Target:
    """A replacement the cloud's API described, if it carries the replacement's marks."""
    tag, pattern = settings.replacement_tag, settings.replacement_name_pattern
    if tag is None and pattern is None:
        raise SettingsError(
            "invalid settings: REPLACEMENT_TAG or REPLACEMENT_NAME_PATTERN is required to tell a "
            "replacement controller from any other instance"
        )
    if tag is not None and instance.tags.get(tag[0]) != tag[1]:
        raise NotAReplacement(
            f"instance {instance.instance_id} is not a controller replacement (no tag {tag[0]}={tag[1]})"
        )
    if pattern is not None and not name_matches(pattern, instance.name):
        raise NotAReplacement(
            f"instance {instance.instance_id} ({instance.name[:64]}) does not match REPLACEMENT_NAME_PATTERN"
        )
    if not instance.private_ip:
        raise BadRequest(f"instance {instance.instance_id} has no private IP yet")
    if settings.replacement_url == SAME_AS_CONTROLLER:
        url = settings.controller_url
    else:
        try:
            filled = fill_replacement_url(
                settings.replacement_url, private_ip=instance.private_ip, public_ip=instance.public_ip
            )
        except ValueError as exc:
            raise BadRequest(f"instance {instance.instance_id}: {exc} (REPLACEMENT_URL needs it)") from None
        url = _parse(settings, filled)
    return Target(url, "discovered", instance.private_ip, instance.instance_id)


def _parse(settings: Settings, url: str) -> str:
    try:
        return parse_controller_url(url, allow_http=settings.allow_http)
    except ValueError as exc:
        raise BadRequest(f"controller_url {exc}") from None
