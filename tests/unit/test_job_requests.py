"""The one request contract: every malformed request is a 400 naming the problem, at once.

Each cloud's handler hands its body or event here, so this suite is the bad-input suite for all
of them; the per-cloud suites only check that their entry points reach it.
"""

from __future__ import annotations

import base64
import json

import pytest
from controller_backup.errors import BadRequest, http_status
from controller_backup.job_requests import (
    MAX_BODY,
    BackupRequest,
    RestoreOptions,
    RestoreRequest,
    parse_backup_request,
    parse_body,
    parse_restore_request,
    replacement_request,
)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[" * 50_000 + "]" * 50_000, "larger than"),  # the finding: a RecursionError, answered 500
        ("[" * 8_000 + "]" * 8_000, "nested more than 32 deep"),  # within the size limit: still a 400
        ('{"a": ' * 33 + "1" + "}" * 33, "nested more than 32 deep"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"restore"', "must be a JSON object"),
        ("{}" + " " * MAX_BODY, f"larger than {MAX_BODY} bytes"),
        (b"{}" + b" " * MAX_BODY, f"larger than {MAX_BODY} bytes"),
    ],
)
def test_bodies_that_are_no_request_are_400(body: str | bytes, problem: str) -> None:
    with pytest.raises(BadRequest, match=problem) as caught:
        parse_body(body)
    assert http_status(caught.value) == 400


def test_invalid_base64_is_400() -> None:
    with pytest.raises(BadRequest, match="not valid base64"):
        parse_body("*** not base64 ***", base64_encoded=True)
    with pytest.raises(BadRequest, match="not UTF-8"):
        parse_body(base64.b64encode(b"\xff\xfe").decode(), base64_encoded=True)
    assert parse_body(base64.b64encode(b'{"force": true}').decode(), base64_encoded=True) == {"force": True}


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"version_id": "[[[[" * 20 + '\\"{{{{' * 20})
    assert parse_body(text) == json.loads(text)
    assert parse_body('{"a": ' * 32 + "1" + "}" * 32) is not None  # 32 deep is still fine


@pytest.mark.parametrize("body", [None, "", "  \n", b""])
def test_an_empty_body_is_an_empty_request(body: str | bytes | None) -> None:
    assert parse_body(body) == {}


def test_backup_request_fields_and_defaults() -> None:
    assert parse_backup_request({}, trigger="http") == BackupRequest("backup", False, "http", None)
    scheduled = parse_backup_request(
        {"action": "backup", "trigger": "schedule", "scheduled_time": "2026-12-01T00:00:00Z"},
        trigger="invoke",
    )
    assert scheduled == BackupRequest("backup", False, "schedule", "2026-12-01T00:00:00Z")
    assert parse_backup_request({"action": "check"}, trigger="http").action == "check"
    # the readiness check covers every destination unless told the primary alone
    assert parse_backup_request({"action": "verify"}, trigger="invoke").all_destinations is True
    primary = parse_backup_request({"action": "verify", "all": False}, trigger="http")
    assert primary == BackupRequest("verify", False, "http", None, all_destinations=False)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"allow_shrink": "yes"}, "allow_shrink must be true or false"),
        ({"allow_shrink": 1}, "allow_shrink must be true or false"),
        ({"action": "restore"}, "action must be one of backup, check, verify"),
        ({"action": "check", "allow_shrink": True}, "allow_shrink does not apply"),
        ({"action": "verify", "allow_shrink": True}, "allow_shrink does not apply"),
        ({"action": "verify", "all": "yes"}, "all must be true or false"),
        ({"all": True}, "all applies to action verify only"),
        ({"trigger": "cron"}, "trigger must be one of schedule, manual"),
        ({"scheduled_time": "tomorrow; rm -rf"}, "scheduled_time must be an ISO 8601 time"),
        # the one `force` that lifted several rules at once is gone: each rule has its own field
        (
            {"force": True},
            "unknown field.*force.*allowed: action, all, allow_shrink, scheduled_time, trigger",
        ),
    ],
)
def test_bad_backup_requests_are_400(payload: dict[str, object], problem: str) -> None:
    with pytest.raises(BadRequest, match=problem):
        parse_backup_request(payload, trigger="http")


def test_restore_request_fields() -> None:
    request = parse_restore_request(
        {
            "action": "restore",
            "controller_url": "https://Ctrl.Example.com:8443/",
            "private_ip": "10.0.0.9",
            "version_id": "v-1",
            "dry_run": True,
            "overwrite_configured": False,
            "allow_old_backup": True,
            "allow_version_mismatch": True,
            "allow_shrink": True,
            "idempotency_key": "ticket-42",
        },
        trigger="http",
    )
    assert request == RestoreRequest(
        controller_url="https://ctrl.example.com:8443",
        private_ip="10.0.0.9",
        idempotency_key="ticket-42",
        trigger="http",
        options=RestoreOptions(
            version_id="v-1",
            dry_run=True,
            allow_old_backup=True,
            allow_version_mismatch=True,
            allow_shrink=True,
        ),
    )
    assert replacement_request("i-0abc", trigger="asg-launch") == RestoreRequest(
        instance_id="i-0abc", trigger="asg-launch"
    )


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"controller_url": "https://[::1"}, "controller_url is not a valid URL"),
        ({"controller_url": "https://127.0.0.1:notaport"}, "controller_url is not a valid URL"),
        ({"controller_url": "https://127.0.0.1:70000"}, "controller_url is not a valid URL"),
        ({"controller_url": "https://ctrl/v1/api"}, "without a path"),
        ({"controller_url": "ctrl.example.com"}, "a scheme and a host"),
        ({"controller_url": "https://admin:pw@ctrl"}, "must not carry credentials"),
        ({"controller_url": "ftp://ctrl"}, "got scheme 'ftp'"),
        ({"private_ip": "10.0.0.300"}, "private_ip must be an IP address"),
        ({"dry_run": "true"}, "dry_run must be true or false"),
        ({"overwrite_configured": "1"}, "overwrite_configured must be true or false"),
        ({"allow_old_backup": 1}, "allow_old_backup must be true or false"),
        ({"allow_version_mismatch": None}, "allow_version_mismatch must be true or false"),
        ({"allow_shrink": "true"}, "allow_shrink must be true or false"),
        ({"force": True}, "unknown field.*force.*allowed: action, allow_old_backup, allow_shrink"),
        ({"instance_id": "i-1", "controller_url": "https://ctrl"}, "not both"),
        ({"instance_id": "i-1", "private_ip": "10.0.0.1"}, "not both"),
        ({"instance_id": "i-1", "idempotency_key": "k"}, "keyed by the instance"),
        ({"instance_id": "../../x"}, "instance_id must be letters"),
        ({"idempotency_key": "a/b"}, "idempotency_key must be letters"),
        ({"version_id": ""}, "version_id must be a non-empty string"),
        ({"version_id": 7}, "version_id must be a non-empty string"),
        ({"vm_id": "x"}, "unknown field.*vm_id.*allowed: action, allow_old_backup"),
        ({"action": "backup"}, "action must be restore"),
    ],
)
def test_bad_restore_requests_are_400(payload: dict[str, object], problem: str) -> None:
    with pytest.raises(BadRequest, match=problem) as caught:
        parse_restore_request(payload, trigger="http")
    assert http_status(caught.value) == 400


def test_a_400_echoes_no_field_value_at_length() -> None:
    """A caller's input comes back cut short: an error is no channel to reflect anything."""
    huge = "x" * 5000
    with pytest.raises(BadRequest) as caught:
        parse_restore_request({huge: 1}, trigger="http")
    assert len(json.dumps(caught.value.to_dict())) < 1000
