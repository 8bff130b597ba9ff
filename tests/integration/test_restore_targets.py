"""Restores go only to targets that belong (docs/design.md, invariant 9), over real HTTP.

A caller of a restore function names its target; the password and the whole configuration go
there. These tests aim restores at a listener that records every byte and ask what reached it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from controller_backup.addresses import parse_allowlist
from controller_backup.errors import (
    AuthError,
    BadRequest,
    Conflict,
    ForbiddenTarget,
    NotAReplacement,
    SettingsError,
    http_status,
)
from controller_backup.job_requests import parse_restore_request, replacement_request
from controller_backup.restore import run_restore_request
from controller_backup.settings import Settings
from controller_backup.targets import Instance
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.fixtures.listener import Listener

from .helpers import actions, backup, head

#: the password as it crosses the wire (a form field) and as it is
PASSWORD = quote_plus(CONTROLLER_PASSWORD).encode()
RAW_PASSWORD = CONTROLLER_PASSWORD.encode()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as it:
        yield it


def _quick(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(settings, ready_timeout=2.0, retry_attempts=2, retry_seconds=1.0, **changes)  # type: ignore[arg-type]


def _request(**fields: object):  # type: ignore[no-untyped-def]
    return parse_restore_request(fields, trigger="http")


def _no_describe(instance_id: str) -> Instance:
    raise AssertionError("no instance lookup expected")


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_caller_chosen_listener_receives_nothing(
    settings: Settings, listener: Listener, dry_run: bool
) -> None:
    backup(settings)
    request = _request(controller_url=listener.url.replace("127.0.0.1", "localhost"), dry_run=dry_run)
    with pytest.raises(ForbiddenTarget, match="not in RESTORE_ALLOWED_TARGETS") as caught:
        run_restore_request(settings, request, _no_describe)
    assert http_status(caught.value) == 403
    assert listener.connections == 0 and listener.received == b""


def test_plain_http_targets_are_refused_unless_allowed(settings: Settings, listener: Listener) -> None:
    strict = dataclasses.replace(
        settings,
        controller_url="https://controller.example.com",
        allow_http=False,
        restore_allowed_targets=parse_allowlist("127.0.0.0/8"),
    )
    with pytest.raises(BadRequest, match="must be https://"):
        run_restore_request(
            strict, _request(controller_url=listener.url, private_ip="10.0.0.1"), _no_describe
        )
    assert listener.connections == 0


def test_an_allowed_target_never_gets_the_configured_password(settings: Settings, listener: Listener) -> None:
    """Allowed means "may be a fresh replacement": it is logged into as admin / its private IP."""
    backup(settings)
    allowed = _quick(settings, restore_allowed_targets=parse_allowlist("127.0.0.0/8"))
    with pytest.raises(AuthError):
        run_restore_request(
            allowed, _request(controller_url=listener.url, private_ip="10.9.9.9"), _no_describe
        )
    assert listener.connections > 0, "the allowed target must have been tried"
    assert b"10.9.9.9" in listener.received  # the fresh controller's initial password
    assert PASSWORD not in listener.received and RAW_PASSWORD not in listener.received
    assert b"import_config" not in listener.received


def test_an_allowed_target_without_its_private_ip_is_refused_before_connecting(
    settings: Settings, listener: Listener
) -> None:
    backup(settings)
    allowed = _quick(settings, restore_allowed_targets=parse_allowlist("127.0.0.1"))
    named = r"private IP is required: name it with --private-ip \(private_ip in a request\)"
    with pytest.raises(BadRequest, match=named):
        run_restore_request(allowed, _request(controller_url=listener.url), _no_describe)
    assert listener.connections == 0


def test_the_configured_controller_gets_the_configured_password(
    settings: Settings, listener: Listener
) -> None:
    backup(settings)
    configured = _quick(settings, controller_url=listener.url)
    with pytest.raises(AuthError):
        run_restore_request(configured, _request(), _no_describe)
    assert PASSWORD in listener.received


def test_an_allowed_blank_replacement_is_restored(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    backup(settings)
    allowed = dataclasses.replace(settings, restore_allowed_targets=parse_allowlist("127.0.0.1"))
    request = _request(controller_url=blank_controller.url, private_ip=BLANK_PRIVATE_IP)
    result = run_restore_request(allowed, request, _no_describe)
    assert result.status == "ok" and result.details["target_origin"] == "allowed"
    assert blank_controller.export_sha256() == controller.export_sha256()


# -- replacements the cloud's API describes ----------------------------------------------------


def _replacement(tags: dict[str, str], name: str = "aviatrix-controller-2") -> Instance:
    return Instance("i-0new", name, BLANK_PRIVATE_IP, "127.0.0.1", tags)


def _discovering(settings: Settings, blank: Emulator, **changes: object) -> Settings:
    port = blank.url.rsplit(":", 1)[1]
    values: dict[str, object] = {
        "replacement_url": f"http://{{public_ip}}:{port}",
        "replacement_tag": ("role", "controller"),
        **changes,
    }
    return dataclasses.replace(settings, **values)  # type: ignore[arg-type]


def test_a_tagged_replacement_is_restored_by_its_instance_id(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    backup(settings)
    found = _discovering(settings, blank_controller)
    result = run_restore_request(
        found, replacement_request("i-0new", trigger="event"), lambda _: _replacement({"role": "controller"})
    )
    assert result.status == "ok" and result.details["target_origin"] == "discovered"
    assert blank_controller.export_sha256() == controller.export_sha256()


@pytest.mark.parametrize(
    ("tags", "name", "pattern"),
    [({}, "aviatrix-controller-2", None), ({"role": "controller"}, "web-server", "aviatrix-controller-*")],
)
def test_an_instance_without_the_replacements_marks_is_refused(
    blank_controller: Emulator,
    settings: Settings,
    tags: dict[str, str],
    name: str,
    pattern: str | None,
) -> None:
    backup(settings)
    found = _discovering(settings, blank_controller, replacement_name_pattern=pattern)
    with pytest.raises(NotAReplacement) as caught:
        run_restore_request(
            found, replacement_request("i-0new", trigger="event"), lambda _: _replacement(tags, name)
        )
    assert http_status(caught.value) == 403
    assert actions(blank_controller, "login") == 0


def test_replacement_discovery_needs_a_tag_or_a_name_pattern(
    blank_controller: Emulator, settings: Settings
) -> None:
    found = _discovering(settings, blank_controller, replacement_tag=None)
    with pytest.raises(SettingsError, match="REPLACEMENT_TAG or REPLACEMENT_NAME_PATTERN"):
        run_restore_request(found, replacement_request("i-0new", trigger="event"), lambda _: _replacement({}))


# -- markers cannot be claimed in advance -------------------------------------------------------


def test_a_callers_key_cannot_claim_a_future_replacements_marker(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    """The finding: a call keyed by a future instance id, aimed elsewhere, made the replacement's
    own event answer "already-restored"."""
    backup(settings)
    allowed = _discovering(settings, blank_controller, restore_allowed_targets=parse_allowlist("127.0.0.1"))
    cfg = EmulatorConfig(archive_size=1024, seed=5, blank=True, private_ip="10.9.9.9")
    with Emulator(cfg) as elsewhere:  # a restore that finishes, under the replacement's future id
        decoy = run_restore_request(
            allowed,
            _request(controller_url=elsewhere.url, private_ip="10.9.9.9", idempotency_key="i-0new"),
            _no_describe,
        )
    assert decoy.status == "ok"
    result = run_restore_request(
        allowed,
        replacement_request("i-0new", trigger="event"),
        lambda _: _replacement({"role": "controller"}),
    )
    assert result.status == "ok"
    assert blank_controller.export_sha256() == controller.export_sha256()


def test_the_same_key_with_another_target_or_version_is_a_conflict(
    controller: Emulator, blank_controller: Emulator, settings: Settings, listener: Listener
) -> None:
    first = backup(settings)
    allowed = dataclasses.replace(settings, restore_allowed_targets=parse_allowlist("127.0.0.1"))
    done = run_restore_request(
        allowed,
        _request(controller_url=blank_controller.url, private_ip=BLANK_PRIVATE_IP, idempotency_key="k1"),
        _no_describe,
    )
    assert done.status == "ok"
    again = run_restore_request(
        allowed,
        _request(controller_url=blank_controller.url, private_ip=BLANK_PRIVATE_IP, idempotency_key="k1"),
        _no_describe,
    )
    assert again.status == "already-restored"
    assert again.version_id == first.version_id
    with pytest.raises(Conflict, match="another target") as caught:
        run_restore_request(
            allowed,
            _request(controller_url=listener.url, private_ip=BLANK_PRIVATE_IP, idempotency_key="k1"),
            _no_describe,
        )
    assert http_status(caught.value) == 409
    with pytest.raises(Conflict, match="backup version"):
        run_restore_request(
            allowed,
            _request(
                controller_url=blank_controller.url,
                private_ip=BLANK_PRIVATE_IP,
                idempotency_key="k1",
                version_id="some-other-version",
            ),
            _no_describe,
        )
    assert listener.connections == 0


def test_a_second_run_under_the_same_key_is_a_conflict_not_a_refusal(settings: Settings) -> None:
    """Two copies of one event: the marker's conditional write lets one run. Nothing lifts that,
    so it is a Conflict (exit 12), not a refusal that names an option."""
    from controller_backup.restore_marker import RestoreMarker

    backup(settings)
    info = head(settings)
    assert info is not None
    first = RestoreMarker(settings, "instance-i-1", "https://10.0.0.10")
    second = RestoreMarker(settings, "instance-i-1", "https://10.0.0.10")
    first.start(info)
    with pytest.raises(Conflict, match="another restore for instance-i-1 is running or finished") as caught:
        second.start(info)
    assert caught.value.exit_code == 12 and http_status(caught.value) == 409
