"""The GCP Terraform module, checked offline: fmt, the google schema, structure (python-hcl2) and checkov."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from controller_backup.backup_record import RECORD_SUFFIX

from tests.terraform import helpers, schema
from tests.terraform.helpers import run_checkov, terraform_fmt_problems

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform" / "gcp"
EXAMPLE = MODULE / "examples" / "basic"
MAIN = ROOT / "functions" / "gcp" / "main.py"
NATIVE_COUNT = "${local.native_enabled ? 1 : 0}"
#: where the readiness check records its last result beside each destination (issue 13's contract,
#: VERIFY_SUFFIX of the core's verify_record)
VERIFY_SUFFIX = ".last-verify.json"


@cache
def module(directory: Path = MODULE) -> dict[str, list[Any]]:
    return helpers.load_module(directory)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return helpers.resources(module(), kind)


def variable(name: str) -> dict[str, Any]:
    return dict(helpers.variables(module())[name])


def one(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


def test_terraform_fmt_clean() -> None:
    assert terraform_fmt_problems(MODULE) == []


@pytest.mark.parametrize("directory", [MODULE, EXAMPLE], ids=["module", "example"])
def test_every_resource_block_and_argument_exists_in_the_google_schema(directory: Path) -> None:
    """No google binary here: its published schema (tests/terraform/schema.py) stands in for validate."""
    assert schema.check_module(directory) == []


def _entry_points() -> dict[str, str]:
    """main.py's functions-framework functions: name -> "http" or "cloud_event"."""
    found = {}
    for node in ast.parse(MAIN.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Attribute) and decorator.attr in ("http", "cloud_event"):
                    found[node.name] = decorator.attr
    return found


def test_one_block_makes_the_four_functions() -> None:
    """The four functions differ only by local.functions: one block, for_each."""
    assert list(resources("google_cloudfunctions2_function")) == ["this"]
    assert _function()["for_each"] == "${local.deployed_functions}"
    assert set(_functions()) == {"backup", "backup_event", "restore", "restore_event"}
    for name, spec in _functions().items():
        assert spec["name"] == "${var.name}-" + name.replace("_", "-"), name
    assert _function()["name"] == "${each.value.name}"
    config = one(_function()["service_config"])
    assert (config["timeout_seconds"], config["environment_variables"]) == (
        "${each.value.timeout}",
        "${local.function_env[each.key]}",
    )


def test_only_the_enabled_event_functions_are_deployed(console: helpers.LocalsConsole) -> None:
    everything = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"keys": "keys(local.deployed_functions)"})
    assert everything["keys"] == ["backup", "backup_event", "restore", "restore_event"]
    http_only = (
        _BASE_VALUES | _NATIVE_VALUES | {"create_backup_topic": False, "restore_on_replacement": False}
    )
    assert console.evaluate(http_only, {"keys": "keys(local.deployed_functions)"})["keys"] == [
        "backup",
        "restore",
    ]


def test_each_function_runs_an_entry_point_of_main_py() -> None:
    entry_points = _entry_points()
    build = one(_function()["build_config"])
    assert build["entry_point"] == "${each.value.entry_point}"
    for name, spec in _functions().items():
        assert spec["entry_point"] in entry_points, name
        kind = "http" if spec["event_trigger"] is None else "cloud_event"
        assert entry_points[spec["entry_point"]] == kind, name
    assert build["runtime"] == "${var.runtime}"
    source = one(one(build["source"])["storage_source"])
    assert source["object"] == "${google_storage_bucket_object.source.name}"


def test_source_object_is_named_by_the_zip_hash() -> None:
    obj = resources("google_storage_bucket_object")["source"]
    assert "${filesha256(var.package_path)}" in obj["name"]
    assert obj["source"] == "${var.package_path}"


def test_every_function_has_its_own_least_privilege_identity() -> None:
    assert one(_function()["service_config"])["service_account_email"] == "${each.value.service_account}"
    accounts = {name: spec["service_account"] for name, spec in _functions().items()}
    assert accounts["backup"] == accounts["backup_event"] == '${google_service_account.this["backup"].email}'
    assert (
        accounts["restore"] == accounts["restore_event"] == '${google_service_account.this["restore"].email}'
    )
    assert {name: spec["job"] for name, spec in _functions().items()} == {
        "backup": "backup",
        "backup_event": "backup",
        "restore": "restore",
        "restore_event": "restore",
    }
    assert one(_function()["build_config"])["service_account"] == '${google_service_account.this["build"].id}'
    # no broad roles anywhere
    roles = [
        b["role"]
        for kind in ("google_project_iam_member", "google_storage_bucket_iam_member")
        for b in resources(kind).values()
    ]
    roles += [b.get("role", "") for b in resources("google_cloud_run_service_iam_member").values()]
    for role in roles:
        assert not re.search(r"roles/(owner|editor|storage\.admin|storage\.objectAdmin|iam\.)", role), role


def _scoped_grants(console: helpers.LocalsConsole, mode: str) -> dict[str, Any]:
    """The grants conditioned on object names, for a deployment in `mode`: name -> grant."""
    values = _BASE_VALUES | _NATIVE_VALUES | {"backup_mode": mode}
    grants: dict[str, Any] = console.evaluate(values, {"grants": "local.scoped_grants"})["grants"]
    return grants


def test_bucket_writes_are_scoped_to_the_object_and_the_markers(console: helpers.LocalsConsole) -> None:
    member = resources("google_storage_bucket_iam_member")["scoped"]
    assert member["for_each"] == "${local.scoped_grants}"
    assert member["member"] == "serviceAccount:${each.value.account}"
    assert one(member["condition"])["expression"] == "${each.value.expression}"
    grants = _scoped_grants(console, "export")
    assert set(grants) == {"backup_writer", "restore_markers"}
    writer, markers = grants["backup_writer"], grants["restore_markers"]
    assert writer["account"] == '<google_service_account.this["backup"].email>'
    # the object, the record of its last success (RECORD_SUFFIX) and the readiness check's
    objects = "projects/_/buckets/network-ops-prod-ctrl-backup/objects"
    assert writer["expression"] == " || ".join(
        f'resource.name == "{objects}/controller/backup.tar{suffix}"'
        for suffix in ("", RECORD_SUFFIX, VERIFY_SUFFIX)
    )
    assert markers["account"] == '<google_service_account.this["restore"].email>'
    assert markers["expression"] == (
        'resource.name.startsWith("projects/_/buckets/network-ops-prod-ctrl-backup/objects/'
        'controller/backup.tar.restores/")'
    )
    assert {g["role"] for g in grants.values()} == {"<google_project_iam_custom_role.object_writer.id>"}
    role = resources("google_project_iam_custom_role")["object_writer"]
    # with Object Retention Lock, setting a new generation's retention; never overriding one
    assert role["permissions"] == (
        '${concat(["storage.objects.create", "storage.objects.delete", "storage.objects.get"], '
        'var.object_retention_days == null ? [] : ["storage.objects.setRetention"])}'
    )
    locals_ = _locals()
    assert locals_["markers_resource"].endswith("${var.backup_object_name}.restores/")
    assert locals_["record_resource"].endswith("${var.backup_object_name}" + RECORD_SUFFIX)


def test_schedules_are_daily_in_a_chosen_time_zone_with_oidc_and_retries(
    console: helpers.LocalsConsole,
) -> None:
    job = resources("google_cloud_scheduler_job")["this"]
    assert job["for_each"] == "${local.schedules}" and job["schedule"] == "${each.value.schedule}"
    assert (
        variable("schedule")["default"] == "0 0 * * *"
        and variable("verify_schedule")["default"] == "0 6 * * *"
    )
    assert job["time_zone"] == "${var.schedule_timezone}" and "default" in variable("schedule_timezone")
    retry = one(job["retry_config"])
    assert retry["retry_count"] >= 1 and retry["max_retry_duration"]
    targets = {kind: body for block in job["dynamic"] for kind, body in block.items()}
    http, pubsub = one(targets["http_target"]["content"]), one(targets["pubsub_target"]["content"])
    oidc = one(http["oidc_token"])
    function_url = '${google_cloudfunctions2_function.this["backup"].service_config[0].uri}'
    assert (
        targets["http_target"]["for_each"] == f'${{each.key == "daily_backup" ? [{function_url[2:-1]}] : []}}'
    )
    assert http["uri"] == oidc["audience"] == "${http_target.value}"
    assert oidc["service_account_email"] == '${google_service_account.this["scheduler"].email}'
    assert http["http_method"] == "POST"
    # the check publishes to the backup topic, whose backup_event function runs it
    topic = "google_pubsub_topic.backup_requests[*].id"
    assert targets["pubsub_target"]["for_each"] == f'${{each.key == "daily_verify" ? {topic} : []}}'
    assert http["body"] == pubsub["data"] == "${base64encode(jsonencode(each.value.body))}"
    schedules = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"s": "local.schedules"})["s"]
    # exactly the scheduled inputs (Cloud Scheduler cannot template a scheduled_time)
    assert {key: (s["schedule"], s["body"]) for key, s in schedules.items()} == {
        "daily_backup": ("0 0 * * *", {"action": "backup", "trigger": "schedule"}),
        "daily_verify": ("0 6 * * *", {"action": "verify", "trigger": "schedule"}),
    }
    without_topic = _BASE_VALUES | _NATIVE_VALUES | {"create_backup_topic": False}
    assert list(console.evaluate(without_topic, {"s": "local.schedules"})["s"]) == ["daily_backup"]


def test_backup_callers_and_restore_callers_get_separate_invoker_bindings(
    console: helpers.LocalsConsole,
) -> None:
    invokers = resources("google_cloud_run_service_iam_member")
    assert all(b["role"] == "roles/run.invoker" for b in invokers.values())
    by_service: dict[str, list[str]] = {}
    for body in invokers.values():
        by_service.setdefault(body["service"], []).append(body["member"])
    backup = '${google_cloudfunctions2_function.this["backup"].name}'
    restore = '${google_cloudfunctions2_function.this["restore"].name}'
    assert sorted(by_service[backup]) == sorted(
        ['serviceAccount:${google_service_account.this["scheduler"].email}', "${each.value}"]
    )
    assert by_service[restore] == ["${each.value}"]
    assert invokers["backup_invokers"]["for_each"] == "${toset(var.backup_invokers)}"
    assert invokers["backup_invokers"]["service"] == backup
    assert invokers["restore_invokers"]["for_each"] == "${toset(var.restore_invokers)}"
    assert invokers["restore_invokers"]["service"] == restore
    # no binding grants one variable's members both functions
    for name, body in invokers.items():
        assert "setproduct" not in str(body.get("for_each", "")), name
    for name in ("backup_invokers", "restore_invokers"):
        assert variable(name)["default"] == [] and variable(name)["type"] == "${list(string)}"
    # the event functions are invoked by Eventarc's identity alone, each deployed one and no other
    trigger = invokers["trigger_invokes"]
    assert by_service["${google_cloudfunctions2_function.this[each.key].name}"] == [
        'serviceAccount:${google_service_account.this["trigger"].email}'
    ]
    for inputs, expected in (
        ({}, ["backup_event", "restore_event"]),
        ({"create_backup_topic": False}, ["restore_event"]),
        ({"restore_on_replacement": False}, ["backup_event"]),
    ):
        values = _BASE_VALUES | _NATIVE_VALUES | inputs
        assert list(console.evaluate(values, {"each": trigger["for_each"]})["each"]) == expected, inputs


def test_plan_refuses_public_invokers(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    for name in ("backup_invokers", "restore_invokers"):
        status, output = planner.plan(values | {name: ["allUsers"]})
        assert status != 0 and f"{name} must be IAM members" in output, name
        status, output = planner.plan(values | {name: ["group:netops@example.com"]})
        assert status == 0, output


def test_backup_bucket_is_versioned_private_and_prunes_old_versions() -> None:
    bucket = resources("google_storage_bucket")["backups"]
    assert one(bucket["versioning"])["enabled"] is True
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert "retention_policy" not in bucket  # cannot be combined with object versioning
    encryption = bucket["dynamic"][0]["encryption"]
    assert "var.kms_key_name" in encryption["for_each"]


def test_old_versions_are_kept_by_age_as_well_as_by_count() -> None:
    """One rule with both conditions (Cloud Storage ANDs a rule's conditions and ORs the rules): a
    generation goes only when it is older than N days AND beyond the newest M, so a burst of
    backups cannot flush the history."""
    bucket = resources("google_storage_bucket")["backups"]
    rule = one(bucket["lifecycle_rule"])
    assert one(rule["action"]) == {"type": "Delete"}
    assert one(rule["condition"]) == {
        "with_state": "ARCHIVED",  # never the live backup
        "num_newer_versions": "${var.noncurrent_versions_to_keep}",
        "days_since_noncurrent_time": "${var.noncurrent_version_days}",
    }
    assert variable("noncurrent_version_days")["default"] >= 30


def test_soft_delete_keeps_any_deleted_generation_restorable() -> None:
    """Overwriting needs storage.objects.delete, which IAM cannot limit to the live generation:
    soft delete keeps a generation deleted by any identity of ours restorable."""
    bucket = resources("google_storage_bucket")["backups"]
    policy = one(bucket["soft_delete_policy"])
    assert policy == {"retention_duration_seconds": "${var.soft_delete_days * 86400}"}
    days = variable("soft_delete_days")
    assert days["default"] >= 7
    assert "var.soft_delete_days >= 7 && var.soft_delete_days <= 90" in one(days["validation"])["condition"]
    # storage.objects.delete is granted only through the object writer role, always with a condition
    roles = resources("google_project_iam_custom_role")
    deleting = {name for name, role in roles.items() if "storage.objects.delete" in role["permissions"]}
    assert deleting == {"object_writer"}
    for name, member in resources("google_storage_bucket_iam_member").items():
        if member["role"] == "${google_project_iam_custom_role.object_writer.id}":
            assert one(member["condition"])["expression"], f"{name}: an unconditioned writer"


def test_no_identity_of_ours_may_change_the_bucket_or_its_protection() -> None:
    forbidden = (
        "storage.buckets.update",
        "storage.buckets.setIamPolicy",
        "storage.buckets.delete",
        "storage.objects.setIamPolicy",
        "storage.objects.setRetention",
        "storage.objects.overrideUnlockedRetention",
    )
    for name, role in resources("google_project_iam_custom_role").items():
        assert not set(role["permissions"]) & set(forbidden), name
        assert not any(p.endswith(".*") or p == "*" for p in role["permissions"]), name
    predefined = [
        b["role"]
        for kind in ("google_project_iam_member", "google_storage_bucket_iam_member")
        for b in resources(kind).values()
        if not b["role"].startswith("${")
    ]
    for role in predefined:
        assert role in {
            "roles/logging.logWriter",
            "roles/artifactregistry.writer",
            "roles/storage.objectViewer",
            "roles/eventarc.eventReceiver",
        }, role


def test_plan_refuses_a_soft_delete_window_cloud_storage_does_not_offer(
    planner: helpers.VariablePlanner,
) -> None:
    for bad in (0, 3, 91):
        status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"soft_delete_days": bad})
        assert status != 0 and "soft_delete_days must be between 7 and 90" in output, bad


#: each secret of the module: the inputs that create it, its id, who may read it, and its
#: reference in the functions' settings (never the value)
_SECRETS = {
    "controller_password": ({}, "controller-password", {"backup", "restore"}, "CONTROLLER_PASSWORD"),
    "controller_customer_id": (
        {"create_customer_id_secret": True},
        "controller-customer-id",
        {"restore"},
        "CONTROLLER_CUSTOMER_ID",
    ),
    "native_gcp_credentials": ({}, "native-gcp-credentials", {"restore"}, "NATIVE_GCP_CREDENTIALS"),
}


@pytest.mark.parametrize("secret", sorted(_SECRETS))
def test_each_secret_is_readable_only_by_its_identities(console: helpers.LocalsConsole, secret: str) -> None:
    inputs, secret_id, readers, setting = _SECRETS[secret]
    values = _BASE_VALUES | _NATIVE_VALUES | inputs
    found = console.evaluate(values, {"secrets": "local.secrets", "readers": "local.secret_readers"})
    assert found["secrets"][secret] == f"ctrl-backup-{secret_id}"
    granted = {r["account"] for r in found["readers"].values() if r["secret"] == secret}
    assert granted == {f'<google_service_account.this["{job}"].email>' for job in readers}
    env = _locals()["common_env"] + _locals()["native_env"]
    assert (
        f'{setting} = "gcp-sm:${{google_secret_manager_secret.this["{secret}"].id}}/versions/latest"' in env
    )
    assert f"var.{secret}" not in env
    # only where it is needed: the customer id with create_customer_id_secret, the key in native mode
    without = console.evaluate(_BASE_VALUES | {"backup_mode": "export"}, {"secrets": "keys(local.secrets)"})
    assert (secret in without["secrets"]) is (secret == "controller_password")


def test_every_secret_is_readable_through_one_accessor_block() -> None:
    accessors = resources("google_secret_manager_secret_iam_member")
    assert list(accessors) == ["accessor", "copy_credentials"]
    accessor = accessors["accessor"]
    assert accessor["for_each"] == "${local.secret_readers}"
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    assert accessor["secret_id"] == "${google_secret_manager_secret.this[each.value.secret].secret_id}"
    for name in ("controller_password", "controller_customer_id", "native_gcp_credentials"):
        assert variable(name)["sensitive"] is True, name
    assert variable("create_customer_id_secret")["default"] is False
    versions = resources("google_secret_manager_secret_version")
    assert versions["controller_customer_id"]["count"] == (
        "${var.create_customer_id_secret && var.controller_customer_id != null ? 1 : 0}"
    )
    assert versions["native_gcp_credentials"]["count"] == (
        "${local.native_enabled && var.native_gcp_credentials != null ? 1 : 0}"
    )


def test_replacement_event_trigger_is_the_compute_insert_audit_log() -> None:
    restore_event = _functions()["restore_event"]
    trigger = restore_event["event_trigger"]
    assert trigger["event_type"] == "google.cloud.audit.log.v1.written"
    assert trigger["filters"] == {
        "serviceName": "compute.googleapis.com",
        "methodName": "v1.compute.instances.insert",
    }
    # event-driven functions stop at 540 s; the readiness wait must end before
    assert restore_event["timeout"] <= 540
    pubsub = _functions()["backup_event"]["event_trigger"]
    assert pubsub["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert pubsub["pubsub_topic"] == "${one(google_pubsub_topic.backup_requests[*].id)}"
    # the one event_trigger block writes each function's trigger, its filters and Eventarc's identity
    dynamic = one(_function()["dynamic"])["event_trigger"]
    assert dynamic["for_each"] == "${each.value.event_trigger == null ? [] : [each.value.event_trigger]}"
    content = one(dynamic["content"])
    assert content["event_type"] == "${event_trigger.value.event_type}"
    assert content["pubsub_topic"] == "${event_trigger.value.pubsub_topic}"
    assert content["service_account_email"] == '${google_service_account.this["trigger"].email}'
    filters = one(content["dynamic"])["event_filters"]
    assert filters["for_each"] == "${event_trigger.value.filters}"
    assert one(filters["content"]) == {"attribute": "${event_filters.key}", "value": "${event_filters.value}"}
    # the HTTP functions take http_ingress, the event-driven ones only Eventarc, from inside
    assert one(_function()["service_config"])["ingress_settings"] == (
        '${each.value.event_trigger == null ? var.http_ingress : "ALLOW_INTERNAL_ONLY"}'
    )


def test_alerts_on_errors_failed_copies_and_checks_and_missing_successes(
    console: helpers.LocalsConsole,
) -> None:
    policies = resources("google_monitoring_alert_policy")
    assert set(policies) == {"on_log", "on_absence"}
    assert (
        one(one(policies["on_log"]["conditions"])["condition_matched_log"])["filter"]
        == "${each.value.filter}"
    )
    query = one(one(policies["on_absence"]["conditions"])["condition_prometheus_query_language"])["query"]
    assert query.startswith("absent_over_time(") and query.endswith("[25h])")
    assert "google_logging_metric.success[each.value.metric].name" in query
    found = console.evaluate(
        _BASE_VALUES | _NATIVE_VALUES,
        {"log": "local.log_alerts", "counts": "local.success_counts", "missing": "local.missing_alerts"},
    )
    assert set(found["log"]) == {"function_errors", "copy_failed", "verify_failed"}
    assert "severity>=ERROR" in found["log"]["function_errors"]["filter"]
    # the core's line for each (contract: its first words), from the backup functions
    services = 'resource.labels.service_name=("ctrl-backup-backup" OR "ctrl-backup-backup-event")'
    assert found["log"]["copy_failed"]["filter"].endswith(
        f'{services} AND jsonPayload.message=~"^backup copy failed"'
    )
    assert found["log"]["verify_failed"]["filter"].endswith(
        f'{services} AND jsonPayload.message=~"^verify failed"'
    )
    counts = found["counts"]
    assert 'jsonPayload.result.status=("ok" OR "unchanged")' in counts["backup_success"]
    assert 'jsonPayload.result.job="backup"' in counts["backup_success"]
    assert counts["verify_passed"].endswith(f'{services} AND jsonPayload.message=~"^verify passed"')
    assert {key: a["metric"] for key, a in found["missing"].items()} == {
        "no_recent_backup": "backup_success",
        "no_recent_verify": "verify_passed",
    }


def test_example_uses_the_module() -> None:
    example = module(EXAMPLE)
    calls = {name: body for block in example["module"] for name, body in block.items()}
    assert calls["controller_backup"]["source"] == "../.."
    assert "dist/gcp/source.zip" in calls["controller_backup"]["package_path"]
    # different people may back up and restore
    call = calls["controller_backup"]
    assert call["backup_invokers"] != call["restore_invokers"]
    assert call["replacement_name_pattern"] == "aviatrix-controller*"


# -- the replacement and restore-target settings ---------------------------------------------------

_OLD_SETTINGS = ("RESTORE_INSTANCE_NAME_PATTERN", "RESTORE_TARGET_URL", "CONTROLLER_ALLOW_HTTP")


def test_only_the_restore_functions_get_the_replacement_settings(console: helpers.LocalsConsole) -> None:
    env = _locals()["restore_env"]
    assert _env_keys(env) == {
        "REPLACEMENT_URL",
        "RESTORE_ALLOWED_TARGETS",
        "REPLACEMENT_NAME_PATTERN",
        "REPLACEMENT_TAG",
    }
    assert "REPLACEMENT_URL = var.replacement_url" in env
    assert 'RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)' in env
    assert "{REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern}" in env
    assert "{REPLACEMENT_TAG = var.replacement_label}" in env
    for mode in ("native", "export"):
        env = console.evaluate(
            _BASE_VALUES | _NATIVE_VALUES | {"backup_mode": mode}, {"env": "local.function_env"}
        )
        for name, settings in env["env"].items():
            assert ("REPLACEMENT_URL" in settings) == name.startswith("restore"), (mode, name)
    assert "local.restore_env" not in _locals()["common_env"]
    assert variable("restore_allowed_targets")["default"] == []
    assert variable("replacement_url")["default"] == "https://{private_ip}"
    assert variable("replacement_name_pattern")["default"] == "aviatrix-controller*"
    assert variable("replacement_label")["default"] is None


#: inputs and outputs renamed to the name the other clouds' modules use for the same thing (the
#: provider's own time_zone argument stays, so it is not listed)
_RENAMED = ("source_zip", "min_size_ratio", "noncurrent_versions_kept", "backup_object", "backup_bucket")


def test_the_old_settings_are_gone_everywhere() -> None:
    texts = helpers.module_texts(MODULE)
    old_names = ("operator_members", "controller_instance_name_pattern", "restore_target_url")
    helpers.assert_old_names_gone(texts, _OLD_SETTINGS, old_names)
    assert not any("{ip}" in text for text in texts), "the old {ip} placeholder"


def test_the_renamed_inputs_are_gone_everywhere() -> None:
    helpers.assert_renamed_gone(MODULE, _RENAMED)


def test_plan_needs_a_name_pattern_or_a_label_for_the_replacement_trigger(
    planner: helpers.VariablePlanner,
) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    status, output = planner.plan(values | {"replacement_name_pattern": None})
    assert status != 0
    assert "restore_on_replacement needs replacement_name_pattern or replacement_label" in output
    for passing in (
        {"replacement_name_pattern": None, "replacement_label": "controller-backup-role=replacement"},
        {"replacement_name_pattern": None, "restore_on_replacement": False},
        {"replacement_label": "role=controller"},
    ):
        status, output = planner.plan(values | passing)
        assert status == 0, (passing, output)
    status, output = planner.plan(values | {"replacement_label": "Role=Controller"})
    assert status != 0 and "replacement_label must be key=value" in output


def test_plan_checks_the_replacement_url_and_the_allowed_targets(planner: helpers.VariablePlanner) -> None:
    helpers.assert_plan_checks_replacement_url_and_targets(
        planner, _BASE_VALUES | _NATIVE_VALUES, ("https://{ip}", "http://{private_ip}")
    )


# -- native mode ----------------------------------------------------------------------------------

#: what native mode cannot run without, on GCP (the project defaults to project_id; the key is
#: a secret the module creates)
_NATIVE_REQUIRED = ("controller_private_ip", "native_bucket_name", "native_account_name")
#: the module's required inputs, for a plan of its variables alone
_BASE_VALUES = {
    "project_id": "network-ops-prod",
    "region": "us-central1",
    "package_path": "dist/gcp/source.zip",
    "controller_url": "https://10.0.0.10",
}
_NATIVE_VALUES = {
    "controller_private_ip": "10.0.0.10",
    "native_bucket_name": "acme-controller-own-backups",
    "native_account_name": "backup-account",
}


def _function() -> dict[str, Any]:
    """The one google_cloudfunctions2_function block, for_each over local.deployed_functions."""
    return resources("google_cloudfunctions2_function")["this"]


def _functions() -> dict[str, dict[str, Any]]:
    """local.functions: each function's settings, as written."""
    return dict(_locals()["functions"])


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> helpers.LocalsConsole:
    files = ("main.tf", "iam.tf", "native.tf", "secrets.tf", "schedule.tf", "alerts.tf")
    return helpers.LocalsConsole(MODULE, tmp_path_factory.mktemp("gcp-locals"), files)


def _locals() -> dict[str, Any]:
    return helpers.merged(module(), "locals")


def _env_keys(expression: str) -> set[str]:
    """The setting names a map expression assigns."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> helpers.VariablePlanner:
    return helpers.VariablePlanner(MODULE, tmp_path_factory.mktemp("gcp-variables"))


_NATIVE = {
    ("google_project_iam_custom_role", "native_file_reader"),
    ("google_secret_manager_secret_version", "native_gcp_credentials"),
}


def test_native_mode_is_the_default_and_export_is_opt_in() -> None:
    mode = variable("backup_mode")
    assert mode["default"] == "native"
    assert 'contains(["export", "native"], var.backup_mode)' in one(mode["validation"])["condition"]
    assert "a controller, proxy or emulator that serves export_config" in mode["description"]
    assert _locals()["native_enabled"] == '${var.backup_mode == "native"}'
    # the mode reaches every function explicitly in both modes (the core's own default is native)
    assert "CONTROLLER_BACKUP_MODE = var.backup_mode" in _locals()["common_env"]
    for kind, name in _NATIVE:
        assert resources(kind)[name]["count"].startswith("${local.native_enabled"), f"{kind}.{name}"
    assert _locals()["native_grants"].startswith("${local.native_enabled ? {")
    for kind in {kind for kind, _ in _NATIVE}:
        for name in resources(kind):
            if "native" in name:
                assert (kind, name) in _NATIVE, f"{kind}.{name} is not gated on native mode"
    value = _locals()["native_env"]
    assert value.startswith("${local.native_enabled ? {") and value.endswith("} : {}}")
    # no export-mode binding names the controller's bucket
    for name, body in resources("google_storage_bucket_iam_member").items():
        if body.get("count") != NATIVE_COUNT:
            assert "native" not in body["bucket"], name


def test_native_settings_reach_every_function(console: helpers.LocalsConsole) -> None:
    assert "local.native_env" in _locals()["common_env"]
    native = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"env": "local.function_env"})["env"]
    export = console.evaluate(_BASE_VALUES | {"backup_mode": "export"}, {"env": "local.function_env"})["env"]
    assert set(native) == set(export) == {"backup", "backup_event", "restore", "restore_event"}
    for name in native:
        assert native[name]["NATIVE_BUCKET_URL"] == "gs://acme-controller-own-backups", name
        assert native[name]["CONTROLLER_BACKUP_MODE"] == "native", name
        assert export[name]["CONTROLLER_BACKUP_MODE"] == "export", name
        assert not any(key.startswith("NATIVE_") for key in export[name]), name


def test_native_settings_are_the_ones_the_core_reads_for_a_gcp_controller() -> None:
    from controller_backup.settings import Settings

    keys = _env_keys(_locals()["native_env"])
    required = {
        "CONTROLLER_PRIVATE_IP",
        "NATIVE_CLOUD_TYPE",
        "NATIVE_ACCOUNT_NAME",
        "NATIVE_BUCKET_URL",
        "NATIVE_GCP_PROJECT_ID",
        "NATIVE_GCP_CREDENTIALS",
    }
    assert required | {"NATIVE_BACKUP_WAIT"} == keys
    sample = {
        "CONTROLLER_BACKUP_MODE": "native",
        "CONTROLLER_PRIVATE_IP": "10.0.0.10",
        "NATIVE_CLOUD_TYPE": "gcp",
        "NATIVE_ACCOUNT_NAME": "backup-account",
        "NATIVE_BUCKET_URL": "gs://controller-own-backups",
        "NATIVE_GCP_PROJECT_ID": "network-ops-prod",
        "NATIVE_GCP_CREDENTIALS": "gcp-sm:projects/p/secrets/s/versions/latest",
    }
    base = {"CONTROLLER_URL": "https://c", "CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "gs://b/k"}
    parsed = Settings.from_env(base | sample)  # raises if the module misses one the core needs
    assert parsed.native_bucket.params == {"bucket_name": "controller-own-backups"}
    env = _locals()["native_env"]
    assert 'NATIVE_CLOUD_TYPE = "gcp"' in env and 'NATIVE_BUCKET_URL = "gs://${' in env
    # its key is a reference to the module's secret, never a value (test_each_secret_is_readable_...)


def test_native_bucket_grants_are_conditioned_on_cloudn_objects(console: helpers.LocalsConsole) -> None:
    prefix = _locals()["native_files_resource"]
    assert prefix == 'projects/_/buckets/${coalesce(var.native_bucket_name, "-")}/objects/CloudN_'
    grants = _scoped_grants(console, "native")
    cloudn = 'resource.name.startsWith("projects/_/buckets/acme-controller-own-backups/objects/CloudN_")'
    expected = {
        "native_backup_reader": ("backup", "<google_project_iam_custom_role.native_file_reader[0].id>"),
        "native_restore_writer": ("restore", "<google_project_iam_custom_role.object_writer.id>"),
    }
    for name, (job, role) in expected.items():
        grant = grants[name]
        assert grant["bucket"] == "acme-controller-own-backups", name
        assert grant["account"] == f'<google_service_account.this["{job}"].email>', name
        assert grant["role"] == role, name
        assert grant["expression"] == cloudn, name
    # the backup identity only reads (no list: listing is a bucket-level call a condition cannot limit)
    reader = resources("google_project_iam_custom_role")["native_file_reader"]
    assert reader["permissions"] == ["storage.objects.get"]
    # nothing else is granted on the controller's bucket
    on_native_bucket = {n for n, g in grants.items() if g["bucket"] == "acme-controller-own-backups"}
    assert on_native_bucket == set(expected)
    # a native restore ends with a fresh backup: the restore identity may replace the one object
    fresh = grants["native_restore_fresh_backup"]
    assert fresh["bucket"] == "<google_storage_bucket.backups.name>"
    assert fresh["account"] == '<google_service_account.this["restore"].email>'
    assert fresh["expression"] == (
        'resource.name == "projects/_/buckets/network-ops-prod-ctrl-backup/objects/controller/backup.tar"'
    )
    assert set(grants) - set(_scoped_grants(console, "export")) == {*expected, "native_restore_fresh_backup"}


def test_restores_stop_before_their_function_does(console: helpers.LocalsConsole) -> None:
    """RESTORE_TIME_LIMIT, derived from each restore function's timeout, in either mode: the core's
    840 s default would outlast an event-driven function's 540 s."""
    for mode in ("native", "export"):
        env = console.evaluate(
            _BASE_VALUES | _NATIVE_VALUES | {"backup_mode": mode}, {"env": "local.function_env"}
        )
        limits = {name: settings.get("RESTORE_TIME_LIMIT") for name, settings in env["env"].items()}
        assert limits == {"backup": None, "backup_event": None, "restore": "3480", "restore_event": "420"}, (
            mode
        )
        for name in ("restore", "restore_event"):
            assert int(limits[name]) <= _functions()[name]["timeout"] - 60, name
            # and the wait for a booting controller ends by then too
            assert int(env["env"][name]["CONTROLLER_READY_TIMEOUT"]) <= int(limits[name]), name
    # the backup's wait for the controller's file ends inside the shortest backup function
    wait = variable("native_backup_wait_seconds")
    maximum = int(re.search(r"<= (\d+)", one(wait["validation"])["condition"]).group(1))  # type: ignore[union-attr]
    shortest = min(_functions()[name]["timeout"] for name in ("backup", "backup_event"))
    assert maximum <= shortest - 120


@pytest.mark.parametrize("name", _NATIVE_REQUIRED)
def test_each_input_native_mode_needs_has_a_validation_naming_it(name: str) -> None:
    helpers.assert_native_mode_rule(helpers.variables(module()), name)


def test_plan_without_native_inputs_fails_naming_each_one(planner: helpers.VariablePlanner) -> None:
    helpers.assert_plan_names_missing_native_inputs(
        planner, _BASE_VALUES, _NATIVE_VALUES, _NATIVE_REQUIRED, "native_bucket_name"
    )


def test_plan_passes_with_the_native_inputs_or_in_export_mode(planner: helpers.VariablePlanner) -> None:
    helpers.assert_plan_passes_native_or_export(planner, _BASE_VALUES, _NATIVE_VALUES)


def test_native_variables_are_described_and_validated_and_documented() -> None:
    names = [
        "backup_mode",
        "controller_private_ip",
        "native_bucket_name",
        "native_account_name",
        "native_gcp_project_id",
        "native_gcp_credentials",
        "native_backup_wait_seconds",
        "restore_max_backup_age",
        "controller_customer_id",
        "vpc_connector",
    ]
    readme = (MODULE / "README.md").read_text()
    for name in names:
        assert variable(name).get("description"), name
        assert variable(name).get("validation"), name
        assert f"`{name}`" in readme, name
    assert "`create_customer_id_secret`" in readme


# -- the customer id (BYOL) -----------------------------------------------------------------------


def test_plan_refuses_a_customer_id_without_its_secret(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES | {"controller_customer_id": "CUSTOMER-1"}
    status, output = planner.plan(values)
    assert status != 0 and "controller_customer_id needs create_customer_id_secret = true" in output
    status, output = planner.plan(values | {"create_customer_id_secret": True})
    assert status == 0, output


# -- the example: what a real deployment needs -----------------------------------------------------


def _example_call() -> dict[str, Any]:
    return dict(one(module(EXAMPLE)["module"])["controller_backup"])


def _example_variables() -> dict[str, dict[str, Any]]:
    return {name: body for block in module(EXAMPLE)["variable"] for name, body in block.items()}


def test_example_runs_native_mode_with_every_input_it_needs() -> None:
    call = _example_call()
    helpers.assert_example_runs_native_mode(call, helpers.variables(module()), _NATIVE_REQUIRED)
    helpers.assert_example_names_the_controllers_bucket(call, _example_variables())


def test_example_pins_the_controllers_certificate_and_calls_its_private_address() -> None:
    call = _example_call()
    helpers.assert_example_pins_the_certificate(call)
    assert call["controller_url"] == "https://${var.controller_private_ip}"


def test_example_reaches_the_controller_through_a_connector_and_opens_443() -> None:
    call = _example_call()
    assert call["vpc_connector"] == "${google_vpc_access_connector.controller.id}"
    example = module(EXAMPLE)
    connector = helpers.resources(example, "google_vpc_access_connector")["controller"]
    assert connector["network"] == "${var.controller_network}"
    assert len(connector["name"]) <= 25, "a connector name has at most 25 characters"
    rule = helpers.resources(example, "google_compute_firewall")["controller_from_functions"]
    assert rule["network"] == "${var.controller_network}"
    assert rule["direction"] == "INGRESS"
    # from the connector's range only, to the controller's instances only, on 443 only
    assert rule["source_ranges"] == ["${google_vpc_access_connector.controller.ip_cidr_range}"]
    assert rule["target_tags"] == "${var.controller_network_tags}"
    assert one(rule["allow"]) == {"protocol": "tcp", "ports": ["443"]}
    # the module sends only private-range traffic through the connector
    for body in resources("google_cloudfunctions2_function").values():
        config = one(body["service_config"])
        assert config["vpc_connector"] == "${var.vpc_connector}"
        assert (
            config["vpc_connector_egress_settings"]
            == '${var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"}'
        )


@pytest.mark.slow
def test_checkov_finds_nothing_and_every_skip_has_a_reason() -> None:
    report = run_checkov(MODULE)
    failed = [f"{c['check_id']} {c['resource']} {c.get('file_path')}" for c in report["failed"]]
    assert failed == []
    assert report["passed"] > 20
    for skipped in report["skipped"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) > 20, f"{skipped['check_id']} skipped without a reason"


def test_the_restore_identity_may_describe_instances_and_nothing_more() -> None:
    """restore_http's instance_id and the audit-log event both describe the instance through the API."""
    role = resources("google_project_iam_custom_role")["instance_reader"]
    assert "count" not in role  # restore_http needs it even without the replacement event
    assert sorted(role["permissions"]) == ["compute.instances.get", "compute.instances.list"]
    member = resources("google_project_iam_member")["restore_instance_reader"]
    assert member["member"] == 'serviceAccount:${google_service_account.this["restore"].email}'


def test_each_backup_functions_wait_for_a_rebooting_controller_fits_its_timeout(
    console: helpers.LocalsConsole,
) -> None:
    """A backup waits out a controller that is not ready, and still ends before the platform's
    timeout: the function's timeout less the native wait for the controller's file and 120 s."""
    cases = (
        ({}, {"backup": "1380", "backup_event": "120", "restore": "1800", "restore_event": "420"}),
        ({"native_backup_wait_seconds": 420}, {"backup": "1260", "backup_event": "30"}),
        ({"backup_mode": "export"}, {"backup": "1680", "backup_event": "420"}),
    )
    for inputs, expected in cases:
        env = console.evaluate(_BASE_VALUES | _NATIVE_VALUES | inputs, {"env": "local.function_env"})["env"]
        ready = {name: env[name]["CONTROLLER_READY_TIMEOUT"] for name in expected}
        assert ready == expected, inputs


def test_each_wait_is_derived_once_from_its_functions_timeout() -> None:
    texts = "".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert (
        len(re.findall(r"\bCONTROLLER_READY_TIMEOUT\s+=", texts)) == 1
        and len(re.findall(r"\bRESTORE_TIME_LIMIT\s+=", texts)) == 1
    )
    assert "CONTROLLER_READY_TIMEOUT = tostring(local.ready_timeouts[key])" in _locals()["function_env"]
    assert "RESTORE_TIME_LIMIT = tostring(local.restore_time_limits[key])" in _locals()["function_env"]
    for name in ("ready_timeouts", "restore_time_limits"):
        assert "function.timeout" in _locals()[name], name


def test_max_instance_count_reaches_every_function(planner: helpers.VariablePlanner) -> None:
    assert one(_function()["service_config"])["max_instance_count"] == "${var.max_instance_count}"
    assert one(_function()["service_config"])["max_instance_request_concurrency"] == 1
    assert variable("max_instance_count")["default"] == 1
    for bad in (0, 1.5):
        status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"max_instance_count": bad})
        assert status != 0 and "max_instance_count must be a whole number" in output, bad


_SECRET = "google_secret_manager_secret"
_READER = "google_secret_manager_secret_iam_member"
_GRANT = "google_storage_bucket_iam_member"
#: each secret, and each secret's reader, that had a block of its own: old address -> key now
_MOVED_SECRETS = {
    "controller_password": "controller_password",
    "controller_customer_id[0]": "controller_customer_id",
    "native_gcp_credentials[0]": "native_gcp_credentials",
}
_MOVED_READERS = {
    'accessor["backup"]': "controller_password_backup",
    'accessor["restore"]': "controller_password_restore",
    "controller_customer_id_restore[0]": "controller_customer_id_restore",
    "native_gcp_credentials_restore[0]": "native_gcp_credentials_restore",
}
#: each grant conditioned on object names that had a block of its own, and its old index
_MOVED_GRANTS = {
    "backup_writer": "",
    "restore_markers": "",
    "native_backup_reader": "[0]",
    "native_restore_writer": "[0]",
    "native_restore_fresh_backup": "[0]",
}


def test_an_existing_deployment_moves_to_the_for_each_addresses() -> None:
    """The functions (two of them behind count) and the trigger's grants on the event-driven ones
    had their own blocks; `moved` blocks take them to the for_each instances, so an existing
    deployment is updated in place, never destroyed and recreated."""
    function = "google_cloudfunctions2_function"
    grant = "google_cloud_run_service_iam_member"
    assert helpers.moves(module()) == {
        f"{function}.backup": f'{function}.this["backup"]',
        f"{function}.restore": f'{function}.this["restore"]',
        f"{function}.backup_event[0]": f'{function}.this["backup_event"]',
        f"{function}.restore_event[0]": f'{function}.this["restore_event"]',
        f"{grant}.trigger_invokes_backup_event[0]": f'{grant}.trigger_invokes["backup_event"]',
        f"{grant}.trigger_invokes_restore_event[0]": f'{grant}.trigger_invokes["restore_event"]',
        **{f"{_SECRET}.{old}": f'{_SECRET}.this["{key}"]' for old, key in _MOVED_SECRETS.items()},
        **{f"{_READER}.{old}": f'{_READER}.accessor["{key}"]' for old, key in _MOVED_READERS.items()},
        **{f"{_GRANT}.{name}{index}": f'{_GRANT}.scoped["{name}"]' for name, index in _MOVED_GRANTS.items()},
        **{
            f"google_service_account.{name}": f'google_service_account.this["{name}"]'
            for name in ("backup", "restore", "scheduler", "trigger", "build")
        },
        "google_cloud_scheduler_job.daily_backup": 'google_cloud_scheduler_job.this["daily_backup"]',
        "google_logging_metric.backup_success": 'google_logging_metric.success["backup_success"]',
        "google_monitoring_alert_policy.function_errors": (
            'google_monitoring_alert_policy.on_log["function_errors"]'
        ),
        "google_monitoring_alert_policy.no_recent_backup": (
            'google_monitoring_alert_policy.on_absence["no_recent_backup"]'
        ),
    }
    assert helpers.moved_problems(module()) == []


# -- issue 13: copies, their credentials, locked retention ---------------------------------------

#: copies in the three clouds: a gs:// one with the functions' own identities, one in Secret
#: Manager, one in the environment
_COPIES = {
    "copy_urls": [
        "gs://acme-gcs-dr/controller/backup.tar",
        "s3://acme-s3-dr/controller/backup.tar",
        "https://acmedr.blob.core.windows.net/backups/controller/backup.tar",
    ],
    "copy_credentials": {
        "s3://acme-s3-dr/controller/backup.tar": "gcp-sm:projects/dr-project/secrets/s3-role/versions/latest",
        "https://acmedr.blob.core.windows.net/backups/controller/backup.tar": "env:AZURE_DR_SP",
    },
}


def test_copies_and_retention_reach_every_function_only_when_configured(
    console: helpers.LocalsConsole,
) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES | _COPIES | {"object_retention_days": 30}
    env = console.evaluate(values, {"env": "local.function_env"})["env"]
    for name, settings in env.items():
        assert settings["BACKUP_COPY_URLS"] == ",".join(_COPIES["copy_urls"]), name
        assert json.loads(settings["BACKUP_COPY_CREDENTIALS"]) == _COPIES["copy_credentials"], name
        assert (settings["BACKUP_RETENTION_DAYS"], settings["BACKUP_RETENTION_MODE"]) == ("30", "Unlocked"), (
            name
        )
    plain = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"env": "local.function_env"})["env"]
    for settings in plain.values():
        assert not {"BACKUP_COPY_URLS", "BACKUP_COPY_CREDENTIALS", "BACKUP_RETENTION_DAYS"} & set(settings)


def test_a_gs_copy_gets_the_primarys_grants_and_only_named_secrets_are_readable(
    console: helpers.LocalsConsole,
) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES | _COPIES
    grants = console.evaluate(values, {"grants": "local.scoped_grants"})["grants"]
    copy = grants["copy:acme-gcs-dr/controller/backup.tar"]
    assert copy["account"] == '<google_service_account.this["backup"].email>'
    assert copy["role"] == "<google_project_iam_custom_role.object_writer.id>"
    assert copy["expression"] == " || ".join(
        f'resource.name == "projects/_/buckets/acme-gcs-dr/objects/controller/backup.tar{suffix}"'
        for suffix in ("", RECORD_SUFFIX, VERIFY_SUFFIX)
    )
    markers = grants["copy-markers:acme-gcs-dr/controller/backup.tar"]
    assert markers["account"] == '<google_service_account.this["restore"].email>'
    assert markers["role"] == "<google_project_iam_custom_role.object_writer.id>"
    assert markers["expression"] == (
        'resource.name.startsWith("projects/_/buckets/acme-gcs-dr/objects/controller/backup.tar.restores/")'
    )
    # the copies with credentials get no grant of the functions' own identities
    assert sorted(key for key in grants if key.startswith("copy")) == [
        "copy-markers:acme-gcs-dr/controller/backup.tar",
        "copy:acme-gcs-dr/controller/backup.tar",
    ]
    readers = resources("google_storage_bucket_iam_member")["readers"]
    buckets = console.evaluate(values, {"each": readers["for_each"]})["each"]
    assert {key: b["bucket"] for key, b in buckets.items()} == {
        "backup": "<google_storage_bucket.backups.name>",
        "restore": "<google_storage_bucket.backups.name>",
        "backup:acme-gcs-dr": "acme-gcs-dr",
        "restore:acme-gcs-dr": "acme-gcs-dr",
    }
    accessor = resources("google_secret_manager_secret_iam_member")["copy_credentials"]
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    assert (accessor["project"], accessor["secret_id"]) == ("${each.value.project}", "${each.value.secret}")
    secrets = console.evaluate(values, {"each": accessor["for_each"]})["each"]
    assert secrets == {
        f"{job}:dr-project/s3-role": {"job": job, "project": "dr-project", "secret": "s3-role"}
        for job in ("backup", "restore")
    }


def test_locked_retention_is_object_retention_lock_that_no_identity_can_shorten() -> None:
    bucket = resources("google_storage_bucket")["backups"]
    assert bucket["enable_object_retention"] == "${var.object_retention_days != null}"
    assert one(bucket["versioning"])["enabled"] is True and "retention_policy" not in bucket
    # no plan may replace the bucket (turning object retention on may need a new bucket)
    assert one(bucket["lifecycle"])["prevent_destroy"] is True
    assert variable("object_retention_days")["default"] is None
    assert variable("object_retention_locked")["default"] is False
    # no identity of ours may shorten or remove a retention, nor change the bucket's settings
    for name, role in resources("google_project_iam_custom_role").items():
        text = json.dumps(role["permissions"])
        assert "overrideUnlockedRetention" not in text and "storage.buckets.update" not in text, name
        assert "setIamPolicy" not in text and "storage.buckets.delete" not in text, name


def test_plan_checks_the_copies_retention_and_readiness_schedule(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    status, output = planner.plan(
        values | _COPIES | {"object_retention_days": 30, "object_retention_locked": True}
    )
    assert status == 0, output
    helpers.assert_plan_refuses(
        planner,
        values,
        (
            ({"verify_schedule": "0 0 6 * * *"}, "verify_schedule needs five cron fields"),
            ({"copy_urls": ["gs://a/b gs://c/d"]}, "copy_urls must be store URLs"),
            (
                {"copy_credentials": {"gs://elsewhere/k": "env:KEY"}},
                "copy_credentials must name only URLs of copy_urls",
            ),
            (
                {"copy_urls": ["s3://a/b"], "copy_credentials": {"s3://a/b": "aws-sm:key"}},
                "copy_credentials must be secret references this cloud resolves",
            ),
            ({"object_retention_days": 0.5}, "object_retention_days must be a whole number from 1 to 36500"),
        ),
    )
