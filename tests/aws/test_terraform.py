"""The AWS Terraform module, checked offline: fmt, structure (python-hcl2) and checkov.

Structure checks tie the module to the code: the handler paths it deploys must be functions in
functions/aws, the schedule's input must parse as a scheduled backup, the event rule must send the
events the restore handler understands, and every IAM statement may name only this deployment's
bucket, object, restore markers, secret, key, log group and queue.
"""

from __future__ import annotations

import importlib
import json
import re
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from controller_backup.backup_record import RECORD_SUFFIX
from controller_backup.job_requests import BackupRequest, parse_backup_request

from functions.aws import restore_handler
from tests.terraform import helpers
from tests.terraform.helpers import ROOT, run_checkov, terraform_fmt_problems

MODULE = ROOT / "infra" / "terraform" / "aws"
EXAMPLE = MODULE / "examples" / "basic"


@cache
def _module(directory: Path = MODULE) -> dict[str, list[Any]]:
    return helpers.load_module(directory)


def _blocks(kind: str, type_name: str, directory: Path = MODULE) -> dict[str, dict[str, Any]]:
    return helpers.blocks(_module(directory), kind, type_name)


def _resources(type_name: str) -> dict[str, dict[str, Any]]:
    return _blocks("resource", type_name)


def _locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _module().get("locals", []):
        merged.update(block)
    return merged


def _variables() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for block in _module().get("variable", []):
        merged.update(block)
    return merged


def _resolve(value: str) -> str:
    """`${local.x}` and `${var.y}` (its default) resolved one level."""
    if match := re.fullmatch(r"\$\{local\.(\w+)\}", value):
        return str(_locals()[match.group(1)])
    if match := re.fullmatch(r"\$\{var\.(\w+)\}", value):
        return str(_variables()[match.group(1)]["default"])
    return value


def _one(block: dict[str, Any], name: str) -> dict[str, Any]:
    value = block[name]
    assert isinstance(value, list) and len(value) == 1, f"expected one {name} block"
    return dict(value[0])


# -- formatting and tools -------------------------------------------------------------------------


def test_terraform_fmt_is_clean() -> None:
    assert terraform_fmt_problems(MODULE) == []


@pytest.mark.slow
def test_module_and_example_are_valid_against_the_real_provider_schema(tmp_path: Path) -> None:
    """`terraform validate` with the AWS provider itself: every resource, argument and block exists."""
    helpers.terraform_validate(MODULE, MODULE, tmp_path / "module", "aws")
    helpers.terraform_validate(MODULE, EXAMPLE, tmp_path / "example", "aws")


@pytest.mark.slow
def test_a_real_plan_gives_each_function_what_the_contract_says(tmp_path: Path) -> None:
    """`terraform test` plans the module with the real AWS provider, offline, and asserts on the
    planned values: the schedule's exact input, the restore-only replacement settings, separate
    invoke grants per function, AWS_IAM URLs and the lifecycle rule (see the .tftest.hcl)."""
    package = tmp_path / "lambda.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("functions/__init__.py", "")
    helpers.terraform_test(
        MODULE,
        ROOT / "tests" / "terraform" / "aws_module.tftest.hcl",
        tmp_path,
        "aws",
        {"lambda_package": str(package)},
    )


def test_checkov_finds_nothing_and_every_skip_has_a_reason() -> None:
    report = run_checkov(MODULE)
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["failed"]]
    assert failed == []
    assert report["passed"] > 100
    for skipped in report["skipped"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# -- the functions --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["backup", "restore"])
def test_handlers_named_in_terraform_exist_in_the_code(name: str) -> None:
    function = _resources("aws_lambda_function")[name]
    handler_path = _resolve(function["handler"])
    module_name, _, func_name = handler_path.rpartition(".")
    assert module_name.startswith("functions.aws."), handler_path
    assert (ROOT / (module_name.replace(".", "/") + ".py")).is_file()
    assert callable(getattr(importlib.import_module(module_name), func_name))
    assert function["runtime"] == "python3.12"
    assert function["reserved_concurrent_executions"] == 1
    assert function["filename"] == "${var.lambda_package}"
    assert "filebase64sha256(var.lambda_package)" in function["source_code_hash"]
    assert _one(function, "dead_letter_config")["target_arn"] == "${aws_sqs_queue.dlq.arn}"


def test_restore_is_sized_for_a_booting_controller() -> None:
    function = _resources("aws_lambda_function")["restore"]
    assert int(_resolve(function["timeout"])) == 900
    assert int(_resolve(function["memory_size"])) >= 512
    env = function["environment"][0]["variables"]  # merge(...) of the common and restore-only maps
    assert "local.replacement_environment" in env
    # the core gives up before Lambda kills the function, so the failure is reported and handled
    assert "RESTORE_TIME_LIMIT = tostring(var.restore_timeout_seconds - 60)" in env


#: the settings the restore code reads now; the old ones must be gone from the module, its
#: README and its example
_REPLACEMENT_SETTINGS = ("REPLACEMENT_TAG", "REPLACEMENT_URL", "RESTORE_ALLOWED_TARGETS")
_OLD_SETTINGS = ("CONTROLLER_TAG_KEY", "CONTROLLER_TAG_VALUE", "RESTORE_TARGET", "CONTROLLER_ALLOW_HTTP")


def test_only_the_restore_function_gets_the_replacement_settings() -> None:
    replacement = _locals()["replacement_environment"]
    assert _env_keys(replacement) == {*_REPLACEMENT_SETTINGS, "REPLACEMENT_NAME_PATTERN"}
    # the tag is one key=value setting built from the module's two tag variables
    assert 'REPLACEMENT_TAG = "${var.controller_tag_key}=${var.controller_tag_value}"' in replacement
    assert "REPLACEMENT_URL = var.replacement_url" in replacement
    assert 'RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)' in replacement
    pattern = "{REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern}"
    assert f"var.replacement_name_pattern == null ? {{}} : {pattern}" in replacement
    assert "local.replacement_environment" not in _function_env("backup")
    # a restore caller may name no other target unless the deployer lists it
    assert _variables()["restore_allowed_targets"]["default"] == []
    assert _variables()["replacement_url"]["default"] == "https://{private_ip}"


def test_the_old_settings_are_gone_everywhere() -> None:
    texts = [p.read_text() for p in (*MODULE.glob("*.tf"), MODULE / "README.md", EXAMPLE / "main.tf")]
    for name in _OLD_SETTINGS:
        assert not any(re.search(rf"\b{name}\b", text) for text in texts), name
    for name in ("restore_target", "invoker_principals", "invoke_policy_arn"):
        assert not any(re.search(rf"(?<![\w.]){name}\b", text) for text in texts), name


def test_functions_get_the_settings_the_core_reads() -> None:
    env = _locals()["common_environment"]
    assert env["CONTROLLER_PASSWORD"] == "aws-sm:${aws_secretsmanager_secret.controller_password.arn}"
    assert env["BACKUP_URL"] == "${local.backup_url}"
    assert _locals()["backup_url"] == "s3://${aws_s3_bucket.backup.id}/${var.object_key}"
    assert env["BACKUP_KMS_KEY_ID"] == "${aws_kms_key.backup.arn}"
    # the 25 h alarm watches the metric under the dimension Powertools gives it: service
    assert env["POWERTOOLS_SERVICE_NAME"] == "${var.name}"
    alarm = _resources("aws_cloudwatch_metric_alarm")["no_recent_backup"]
    assert alarm["dimensions"] == {"service": "${var.name}"}
    assert alarm["namespace"] == "${var.metrics_namespace}" == env["POWERTOOLS_METRICS_NAMESPACE"]


# -- schedule and events --------------------------------------------------------------------------


def test_daily_schedule_at_midnight_with_time_zone_retries_and_dead_letters() -> None:
    schedule = _resources("aws_scheduler_schedule")["backup"]
    assert _resolve(schedule["schedule_expression"]) == "cron(0 0 * * ? *)"
    assert schedule["schedule_expression_timezone"] == "${var.schedule_timezone}"
    assert _one(schedule, "flexible_time_window")["mode"] == "OFF"
    target = _one(schedule, "target")
    assert target["arn"] == "${aws_lambda_function.backup.arn}"
    retry = _one(target, "retry_policy")
    assert int(_resolve(retry["maximum_retry_attempts"])) <= 5, "the Scheduler's default is 185 retries"
    assert int(_resolve(retry["maximum_event_age_in_seconds"])) <= 6 * 3600
    assert _one(target, "dead_letter_config")["arn"] == "${aws_sqs_queue.dlq.arn}"


def test_schedule_input_is_exactly_a_scheduled_backup_for_the_handler() -> None:
    target = _one(_resources("aws_scheduler_schedule")["backup"], "target")
    fields = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', target["input"]))
    # the contract: {"action": "backup", "trigger": "schedule", "scheduled_time": ...}, nothing else
    assert fields == {
        "action": "backup",
        "trigger": "schedule",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    assert target["input"].startswith("${jsonencode({") and target["input"].count("=") == 3
    # the Scheduler fills the placeholder in with the time the run was due
    delivered = fields | {"scheduled_time": "2026-12-01T00:00:00Z"}
    request = parse_backup_request(delivered, trigger="invoke")
    assert request == BackupRequest("backup", False, "schedule", "2026-12-01T00:00:00Z")


def test_event_rule_sends_what_the_restore_handler_handles() -> None:
    pattern = _locals()["replacement_event_pattern"]
    for detail_type in (
        restore_handler._LAUNCH_SUCCESSFUL,
        restore_handler._LAUNCH_LIFECYCLE,
        restore_handler._STATE_CHANGE,
    ):
        assert detail_type in pattern
    assert '"running"' in pattern
    rule = _resources("aws_cloudwatch_event_rule")["controller_replaced"]
    assert rule["event_pattern"] == "${jsonencode(local.replacement_event_pattern)}"
    target = _resources("aws_cloudwatch_event_target")["restore"]
    assert target["arn"] == "${aws_lambda_function.restore.arn}"
    assert "retry_policy" in target and "dead_letter_config" in target
    permission = _resources("aws_lambda_permission")["events_invoke_restore"]
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.controller_replaced.arn}"


def test_function_urls_use_iam_never_none() -> None:
    urls = _resources("aws_lambda_function_url")
    assert {name: url["authorization_type"] for name, url in urls.items()} == {
        "backup": "AWS_IAM",
        "restore": "AWS_IAM",
    }
    texts = " ".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert not re.search(r'authorization_type\s*=\s*"NONE"', texts)


def test_backup_callers_and_restore_callers_get_separate_grants() -> None:
    """Each function's resource policy admits only its own variable's principals."""
    expected = {
        "backup_url": ("backup", "lambda:InvokeFunctionUrl"),
        "backup_invoke": ("backup", "lambda:InvokeFunction"),
        "restore_url": ("restore", "lambda:InvokeFunctionUrl"),
        "restore_invoke": ("restore", "lambda:InvokeFunction"),
    }
    invoker_permissions = {
        name: body
        for name, body in _resources("aws_lambda_permission").items()
        if body["principal"] != "events.amazonaws.com"
    }
    assert set(invoker_permissions) == set(expected)
    for name, (function, action) in expected.items():
        permission = invoker_permissions[name]
        assert permission["for_each"] == f"${{toset(var.{function}_invoker_arns)}}", name
        assert permission["principal"] == "${each.value}", name
        assert permission["function_name"] == f"${{aws_lambda_function.{function}.function_name}}", name
        assert permission["action"] == action, name
        assert permission["statement_id"].startswith(f"{function}-"), "statement ids must not collide"
        if action == "lambda:InvokeFunctionUrl":
            assert permission["function_url_auth_type"] == "AWS_IAM", name
    for function in ("backup", "restore"):
        variable = _variables()[f"{function}_invoker_arns"]
        assert variable["type"] == "${list(string)}" and variable["default"] == []
    # and the managed policies for callers in this account: one function each
    documents = _blocks("data", "aws_iam_policy_document")
    for function, other in (("backup", "restore"), ("restore", "backup")):
        statement = _one(documents[f"invoke_{function}"], "statement")
        assert sorted(statement["actions"]) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
        assert statement["resources"] == [f"${{aws_lambda_function.{function}.arn}}"]
        policy = _resources("aws_iam_policy")[f"invoke_{function}"]
        assert policy["policy"] == f"${{data.aws_iam_policy_document.invoke_{function}.json}}"
        assert other not in json.dumps(statement)
    assert "invoke" not in documents and "invoke" not in _resources("aws_iam_policy")


# -- storage --------------------------------------------------------------------------------------


def test_bucket_is_hardened() -> None:
    versioning = _resources("aws_s3_bucket_versioning")["backup"]
    assert _one(versioning, "versioning_configuration")["status"] == "Enabled"
    block = _resources("aws_s3_bucket_public_access_block")["backup"]
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert block[flag] is True, flag
    ownership = _resources("aws_s3_bucket_ownership_controls")["backup"]
    assert _one(ownership, "rule")["object_ownership"] == "BucketOwnerEnforced"
    sse = _one(_one(_resources("aws_s3_bucket_server_side_encryption_configuration")["backup"], "rule"),
               "apply_server_side_encryption_by_default")  # fmt: skip
    assert sse == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.backup.arn}"}


def test_old_versions_are_kept_by_age_as_well_as_by_count() -> None:
    """A version expires only when it is older than N days AND beyond the newest M: a burst of
    backups cannot flush the history (S3 applies both conditions together)."""
    rule = _one(_resources("aws_s3_bucket_lifecycle_configuration")["backup"], "rule")
    assert rule["status"] == "Enabled"
    expiration = _one(rule, "noncurrent_version_expiration")
    assert expiration == {
        "newer_noncurrent_versions": "${var.noncurrent_versions_to_keep}",
        "noncurrent_days": "${var.noncurrent_version_days}",
    }
    days = _variables()["noncurrent_version_days"]
    assert days["default"] >= 30
    assert "var.noncurrent_version_days >= 7" in days["validation"][0]["condition"]
    # the rule never touches the current backup
    assert "expiration" not in rule and "transition" not in rule
    assert _one(rule, "abort_incomplete_multipart_upload") == {"days_after_initiation": 1}


def test_plan_refuses_a_history_shorter_than_a_week(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"noncurrent_version_days": 1})
    assert status != 0 and "noncurrent_version_days must be between 7 and 3650" in output
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"noncurrent_version_days": 7})
    assert status == 0, output


#: what would destroy a kept version, or what protects them
_DESTRUCTIVE = {
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
}


def test_no_identity_of_ours_may_destroy_a_kept_version() -> None:
    documents = _blocks("data", "aws_iam_policy_document")
    for name in documents:
        if name in ("bucket", "kms"):
            continue  # the bucket policy (checked below) and the key policy
        for statement in _statements(name):
            granted = set(statement.get("actions", [])) | {
                a for c in statement.get("content", []) for a in c.get("actions", [])
            }
            assert statement.get("effect", "Allow") == "Allow"
            assert not granted & _DESTRUCTIVE, f"{name} grants {granted & _DESTRUCTIVE}"
            assert not any(a.startswith("s3:Delete") or a in ("s3:*", "*") for a in granted), name
    # and the bucket itself refuses them to both roles, whatever is attached to them later
    statements = documents["bucket"]["statement"]
    deny = next(s for s in statements if s["sid"] == "DenyHistoryDestructionByTheFunctions")
    assert deny["effect"] == "Deny"
    assert set(deny["actions"]) == _DESTRUCTIVE
    assert deny["resources"] == ["${aws_s3_bucket.backup.arn}", "${aws_s3_bucket.backup.arn}/*"]
    assert _one(deny, "condition") == {
        "test": "ArnEquals",
        "variable": "aws:PrincipalArn",
        "values": ["${aws_iam_role.backup.arn}", "${aws_iam_role.restore.arn}"],
    }
    policy = _resources("aws_s3_bucket_policy")["backup"]["policy"]
    assert policy == "${data.aws_iam_policy_document.bucket.json}"
    # nor destroy the key that every kept version is encrypted with
    key_deny = next(
        s for s in documents["kms"]["statement"] if s["sid"] == "DenyKeyDestructionByTheFunctions"
    )
    assert key_deny["effect"] == "Deny"
    assert {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"} <= set(key_deny["actions"])
    assert _one(key_deny, "condition") == _one(deny, "condition")
    assert _resources("aws_kms_key")["backup"]["policy"] == "${data.aws_iam_policy_document.kms.json}"


def test_bucket_policy_refuses_plain_http() -> None:
    statements = _blocks("data", "aws_iam_policy_document")["bucket"]["statement"]
    tls = next(s for s in statements if s["sid"] == "DenyInsecureTransport")
    assert tls["effect"] == "Deny"
    assert _one(tls, "condition") == {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}


def test_secret_and_key_are_the_modules_own() -> None:
    secret = _resources("aws_secretsmanager_secret")["controller_password"]
    assert secret["kms_key_id"] == "${aws_kms_key.backup.arn}"
    assert _resources("aws_kms_key")["backup"]["enable_key_rotation"] is True


# -- least privilege ------------------------------------------------------------------------------

_SCOPED = {
    "${local.object_arn}",
    "${local.markers_arn}",
    "${local.record_arn}",
    "${aws_s3_bucket.backup.arn}",
    "${aws_secretsmanager_secret.controller_password.arn}",
    "${aws_kms_key.backup.arn}",
    "${aws_cloudwatch_log_group.backup.arn}:*",
    "${aws_cloudwatch_log_group.restore.arn}:*",
    "${aws_sqs_queue.dlq.arn}",
    "${aws_lambda_function.backup.arn}",
    "${aws_lambda_function.backup.arn}:*",
    "${statement.value}",  # the Auto Scaling group's ARN, below
}


def _statements(name: str) -> list[dict[str, Any]]:
    document = _blocks("data", "aws_iam_policy_document")[name]
    statements = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        statements.extend(dynamic["statement"]["content"])
    return statements


@pytest.mark.parametrize("policy", ["backup", "restore", "scheduler"])
def test_role_policies_name_only_this_deployments_resources(policy: str) -> None:
    for statement in _statements(policy):
        assert statement.get("effect", "Allow") == "Allow"
        for action in statement["actions"]:
            assert "*" not in action, f"{policy}: wildcard action {action}"
        for resource in statement["resources"]:
            if resource == "*":
                assert statement["actions"] == ["ec2:DescribeInstances"], (
                    f"{policy}: '*' for {statement['actions']}"
                )
            else:
                assert resource in _SCOPED, f"{policy}: {resource} is not this deployment's"


def test_object_and_marker_arns_match_what_the_core_writes() -> None:
    assert _locals()["object_arn"] == "${aws_s3_bucket.backup.arn}/${var.object_key}"
    # restore markers live at BACKUP_URL + ".restores/<instance id>.json"
    assert _locals()["markers_arn"] == "${aws_s3_bucket.backup.arn}/${var.object_key}.restores/*"
    assert "autoScalingGroupName/${var.controller_asg_name}" in _locals()["asg_arn"]
    # the last success record lives at BACKUP_URL + RECORD_SUFFIX
    assert _locals()["record_arn"] == f"${{aws_s3_bucket.backup.arn}}/${{var.object_key}}{RECORD_SUFFIX}"


def test_backup_writes_the_success_record_and_restore_only_reads_it() -> None:
    def actions_on(policy: str) -> set[str]:
        return {
            a for s in _statements(policy) if "${local.record_arn}" in s["resources"] for a in s["actions"]
        }

    assert "s3:PutObject" in actions_on("backup")
    assert actions_on("restore") == {"s3:GetObject"}


def test_backup_cannot_touch_markers_and_restore_cannot_overwrite_the_backup() -> None:
    backup_resources = {r for s in _statements("backup") for r in s["resources"]}
    assert "${local.markers_arn}" not in backup_resources and "*" not in backup_resources
    for statement in _statements("restore"):
        if "${local.object_arn}" in statement["resources"]:
            assert "s3:PutObject" not in statement["actions"]


# -- alarms, variables, outputs, example ----------------------------------------------------------


def test_no_backup_in_25_hours_alarms_with_missing_data_breaching() -> None:
    alarm = _resources("aws_cloudwatch_metric_alarm")["no_recent_backup"]
    assert alarm["metric_name"] == "BackupSucceeded"
    assert alarm["treat_missing_data"] == "breaching"
    assert alarm["comparison_operator"] == "LessThanThreshold" and alarm["threshold"] == 1
    hours = int(_resolve(alarm["evaluation_periods"])) * int(alarm["period"]) / 3600
    assert hours == 25
    assert alarm["datapoints_to_alarm"] == alarm["evaluation_periods"]
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    alarms = _resources("aws_cloudwatch_metric_alarm")
    assert alarms["function_errors"]["metric_name"] == "Errors"
    assert alarms["dead_letters"]["dimensions"] == {"QueueName": "${aws_sqs_queue.dlq.name}"}


def test_variables_are_described_and_validated() -> None:
    unvalidated_ok = {
        "controller_password",
        "tags",
        "controller_verify_tls",
        "create_lifecycle_hook",
        "enable_tracing",
        "create_customer_id_secret",
    }
    for name, variable in _variables().items():
        assert variable.get("description"), f"variable {name} has no description"
        if name not in unvalidated_ok:
            assert variable.get("validation"), f"variable {name} has no validation"
    assert _variables()["controller_password"].get("sensitive") is True


def test_outputs_are_described_and_readme_documents_every_variable() -> None:
    outputs: dict[str, Any] = {}
    for block in _module().get("output", []):
        outputs.update(block)
    assert {
        "backup_function_url",
        "restore_function_url",
        "backup_url",
        "controller_password_secret_arn",
    } <= set(outputs)
    assert all(o.get("description") for o in outputs.values())
    readme = (MODULE / "README.md").read_text()
    missing = [name for name in _variables() if f"`{name}`" not in readme]
    assert missing == [], f"README.md does not document {missing}"


def test_example_uses_the_module_and_the_packaged_zip() -> None:
    modules: dict[str, Any] = {}
    for block in _module(EXAMPLE).get("module", []):
        modules.update(block)
    call = modules["controller_backup"]
    assert call["source"] == "../.."
    assert call["lambda_package"].endswith("/dist/aws/lambda.zip")
    assert (
        EXAMPLE / call["lambda_package"].replace("${path.module}/", "")
    ).resolve() == ROOT / "dist/aws/lambda.zip"
    required = {n for n, v in _variables().items() if "default" not in v}
    assert required <= set(call), f"the example misses {required - set(call)}"
    assert json.dumps(call)  # plain data, as parsed


# -- native mode ----------------------------------------------------------------------------------

_NATIVE_COUNT = "${local.native_enabled ? 1 : 0}"
_OBJECT_ACTIONS_READ = {"s3:GetObject", "s3:GetObjectVersion"}
#: what native mode cannot run without, on AWS (the account number and roles have defaults)
_NATIVE_REQUIRED = ("controller_private_ip", "native_bucket_name", "native_account_name")
#: the module's required inputs, for a plan of its variables alone
_BASE_VALUES = {
    "name": "aviatrix-ctrl-backup",
    "lambda_package": "dist/aws/lambda.zip",
    "controller_url": "https://10.0.1.25",
    "bucket_name": "acme-controller-backups",
}
_NATIVE_VALUES = {
    "controller_private_ip": "10.0.1.25",
    "native_bucket_name": "acme-controller-own-backups",
    "native_account_name": "backup-account",
}


def _env_keys(expression: str) -> set[str]:
    """The setting names a map expression (a literal, or merge(...) of literals) assigns."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def _native_statements(policy: str) -> list[dict[str, Any]]:
    return _statements(f"{policy}_native")


def _function_env(name: str) -> str:
    return str(_resources("aws_lambda_function")[name]["environment"][0]["variables"])


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> helpers.VariablePlanner:
    return helpers.VariablePlanner(MODULE, tmp_path_factory.mktemp("aws-variables"))


def test_native_mode_is_the_default_and_export_is_opt_in() -> None:
    mode = _variables()["backup_mode"]
    assert mode["default"] == "native"
    assert 'contains(["export", "native"], var.backup_mode)' in mode["validation"][0]["condition"]
    # export is described for what it is
    assert "a controller, proxy or emulator that serves export_config" in mode["description"]
    assert _locals()["native_enabled"] == '${var.backup_mode == "native"}'
    # the mode reaches both functions explicitly in both modes (the core's own default is native)
    assert _locals()["common_environment"]["CONTROLLER_BACKUP_MODE"] == "${var.backup_mode}"
    # everything else native hangs on the mode: no policy, no document, no setting in export mode
    for name in ("backup_native", "restore_native"):
        assert _resources("aws_iam_role_policy")[name]["count"] == _NATIVE_COUNT
        assert _blocks("data", "aws_iam_policy_document")[name]["count"] == _NATIVE_COUNT
    env = _locals()["native_environment"]
    assert env.startswith("${local.native_enabled ? merge(") and env.endswith(") : {}}")
    # the export-mode policies never name the controller's bucket
    for policy in ("backup", "restore", "scheduler"):
        for statement in _statements(policy):
            assert not any("native" in r or "CloudN" in r for r in statement["resources"]), policy
    functions = _resources("aws_lambda_function")
    assert "${aws_iam_role_policy.backup_native}" in functions["backup"]["depends_on"]
    assert "${aws_iam_role_policy.restore_native}" in functions["restore"]["depends_on"]


@pytest.mark.parametrize("name", ["backup", "restore"])
def test_native_settings_reach_both_functions(name: str) -> None:
    env = _function_env(name)
    assert env.startswith("${merge(local.common_environment,"), name
    for part in ("local.ca_environment", "local.customer_id_environment", "local.native_environment"):
        assert part in env, f"{name} misses {part}"


def test_native_settings_are_the_ones_the_core_reads_for_an_aws_controller() -> None:
    from controller_backup.native_bucket import AWS_FAMILY, parse_cloud_type
    from controller_backup.settings import Settings

    keys = _env_keys(_locals()["native_environment"])
    required = {
        "CONTROLLER_PRIVATE_IP",
        "NATIVE_CLOUD_TYPE",
        "NATIVE_ACCOUNT_NAME",
        "NATIVE_BUCKET_URL",
        "NATIVE_BACKUP_WAIT",
        "NATIVE_AWS_ACCOUNT_NUMBER",
    }
    assert required <= keys <= required | {"NATIVE_AWS_ROLE_APP", "NATIVE_AWS_ROLE_EC2"}
    assert "CONTROLLER_BACKUP_MODE" in _locals()["common_environment"]
    sample = {
        "CONTROLLER_BACKUP_MODE": "native",
        "CONTROLLER_PRIVATE_IP": "10.0.1.25",
        "NATIVE_CLOUD_TYPE": "aws",
        "NATIVE_ACCOUNT_NAME": "backup-account",
        "NATIVE_BUCKET_URL": "s3://controller-own-backups",
        "NATIVE_BACKUP_WAIT": "300",
        "NATIVE_AWS_ACCOUNT_NUMBER": "123456789012",
    }
    base = {"CONTROLLER_URL": "https://c", "CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "s3://b/k"}
    settings = Settings.from_env(base | sample)  # raises if the module misses one the core needs
    assert settings.mode == "native" and settings.native_bucket.params == {
        "bucket_name": "controller-own-backups"
    }
    env = _locals()["native_environment"]
    assert 'NATIVE_BUCKET_URL = "s3://${coalesce(var.native_bucket_name, "-")}"' in env
    assert "NATIVE_AWS_ACCOUNT_NUMBER = coalesce(var.native_aws_account_number, local.account_id)" in env
    assert _env_keys(_locals()["max_age_environment"]) == {"RESTORE_MAX_BACKUP_AGE"}
    # every cloud type the module can derive or accept is an S3 one
    for cloud in re.findall(r'= "([a-z-]+)"', _locals()["native_cloud_type"]):
        assert parse_cloud_type(cloud) in AWS_FAMILY


def test_native_grants_name_only_the_controllers_cloudn_objects() -> None:
    bucket = 'arn:${local.partition}:s3:::${coalesce(var.native_bucket_name, "-")}'
    assert _locals()["native_bucket_arn"] == bucket
    assert _locals()["native_objects_arn"] == bucket + "/CloudN_*"
    allowed = {
        "backup": {
            "${local.native_objects_arn}": _OBJECT_ACTIONS_READ,
            "${local.native_bucket_arn}": {"s3:ListBucket"},
            "${statement.value}": {"kms:Decrypt"},
        },
        "restore": {
            "${local.native_objects_arn}": _OBJECT_ACTIONS_READ | {"s3:PutObject", "s3:AbortMultipartUpload"},
            "${local.native_bucket_arn}": {"s3:ListBucket"},
            # the fresh backup a native restore ends with replaces the one object
            "${local.object_arn}": {"s3:PutObject", "s3:AbortMultipartUpload"},
            "${statement.value}": {"kms:Decrypt", "kms:GenerateDataKey"},
        },
    }
    for policy, grants in allowed.items():
        granted: dict[str, set[str]] = {}
        for statement in _native_statements(policy):
            assert statement.get("effect", "Allow") == "Allow" and "condition" not in statement
            for resource in statement["resources"]:
                assert resource in grants, f"{policy}: {resource} is broader than the controller's files"
                granted.setdefault(resource, set()).update(statement["actions"])
        for resource, actions in granted.items():
            assert actions <= grants[resource], f"{policy}: {actions - grants[resource]} on {resource}"
        # nothing missing either: read the controller's files and tell missing from forbidden
        assert granted["${local.native_objects_arn}"] >= _OBJECT_ACTIONS_READ
        assert granted["${local.native_bucket_arn}"] == {"s3:ListBucket"}
    restore = {r: s["actions"] for s in _native_statements("restore") for r in s["resources"]}
    assert "s3:PutObject" in restore["${local.native_objects_arn}"]
    backup = {a for s in _native_statements("backup") for a in s["actions"]}
    assert "s3:PutObject" not in backup, "the backup function never writes the controller's bucket"
    # the customer key grant exists only when there is a key
    for policy in ("backup", "restore"):
        dynamic = _blocks("data", "aws_iam_policy_document")[f"{policy}_native"]["dynamic"][0]["statement"]
        assert (
            dynamic["for_each"]
            == "${var.native_bucket_kms_key_arn == null ? [] : [var.native_bucket_kms_key_arn]}"
        )


def test_native_restore_fits_its_timeout_and_keeps_the_modules_key_for_our_objects() -> None:
    """The core applies BACKUP_KMS_KEY_ID only to our own objects (backup, markers), never to the
    controller's native files, so the restore function keeps it in every mode."""
    restore = _resources("aws_lambda_function")["restore"]
    env = _function_env("restore")
    # 840 s at the default 900 s timeout: RESTORE_TIME_LIMIT's own default
    assert "RESTORE_TIME_LIMIT = tostring(var.restore_timeout_seconds - 60)" in env
    assert int(_resolve(restore["timeout"])) - 60 == 840
    # the default backup timeout holds the default wait for the controller's file (+ 120 s)
    backup_timeout = _variables()["backup_timeout_seconds"]["default"]
    assert backup_timeout >= _variables()["native_backup_wait_seconds"]["default"] + 120
    assert _resources("aws_lambda_function")["backup"]["timeout"] == "${var.backup_timeout_seconds}"
    wait = _variables()["native_backup_wait_seconds"]
    assert wait["default"] == 300 and "<= 780" in wait["validation"][0]["condition"]


@pytest.mark.parametrize("name", _NATIVE_REQUIRED)
def test_each_input_native_mode_needs_has_a_validation_naming_it(name: str) -> None:
    rules = _variables()[name]["validation"]
    rule = next(
        (r for r in rules if f'var.backup_mode != "native" || var.{name} != null' in r["condition"]), None
    )
    assert rule is not None, f"{name}: no validation requires it in native mode"
    assert rule["error_message"].startswith(f"{name} is required in native mode")
    # and says what to do for a controller that serves export_config instead
    assert 'set backup_mode = "export"' in rule["error_message"]


def test_plan_without_native_inputs_fails_naming_each_one(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES)
    assert status != 0, output
    for name in _NATIVE_REQUIRED:
        assert f"{name} is required in native mode" in output, output
    # one missing input: only that one is named
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"native_account_name": None})
    assert status != 0
    assert "native_account_name is required in native mode" in output
    assert (
        "native_bucket_name is required" not in output and "controller_private_ip is required" not in output
    )


def test_plan_passes_with_the_native_inputs_or_in_export_mode(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES)
    assert status == 0, output
    status, output = planner.plan(_BASE_VALUES | {"backup_mode": "export"})
    assert status == 0, output


def test_plan_refuses_a_backup_timeout_that_cannot_hold_the_native_wait(
    planner: helpers.VariablePlanner,
) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"backup_timeout_seconds": 300})
    assert status != 0
    assert "backup_timeout_seconds must be at least native_backup_wait_seconds + 120" in output
    # export mode waits for no file: a short timeout is fine there
    status, output = planner.plan(_BASE_VALUES | {"backup_mode": "export", "backup_timeout_seconds": 300})
    assert status == 0, output


def test_plan_refuses_subnets_without_a_security_group(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES | {"subnet_ids": ["subnet-0123456789abcdef0"]}
    status, output = planner.plan(values)
    assert status != 0 and "security_group_ids is required with subnet_ids" in output
    status, output = planner.plan(values | {"security_group_ids": ["sg-0123456789abcdef0"]})
    assert status == 0, output


# -- the customer id (BYOL) -----------------------------------------------------------------------


def test_customer_id_secret_is_optional_and_travels_as_a_reference() -> None:
    secret = _resources("aws_secretsmanager_secret")["controller_customer_id"]
    assert secret["count"] == "${var.create_customer_id_secret ? 1 : 0}"
    assert secret["kms_key_id"] == "${aws_kms_key.backup.arn}"
    version = _resources("aws_secretsmanager_secret_version")["controller_customer_id"]
    assert (
        version["count"] == "${var.create_customer_id_secret && var.controller_customer_id != null ? 1 : 0}"
    )
    assert _variables()["controller_customer_id"]["sensitive"] is True
    assert _variables()["create_customer_id_secret"]["default"] is False
    env = _locals()["customer_id_environment"]
    assert env.startswith("${var.create_customer_id_secret ? {") and env.endswith("} : {}}")
    assert (
        'CONTROLLER_CUSTOMER_ID = "aws-sm:${aws_secretsmanager_secret.controller_customer_id[0].arn}"' in env
    )
    assert "var.controller_customer_id" not in env, "the value itself never reaches a function"


def test_only_the_restore_role_reads_the_customer_id_and_only_that_secret() -> None:
    def customer_id_grants(policy: str) -> list[dict[str, Any]]:
        document = _blocks("data", "aws_iam_policy_document")[policy]
        return [
            d["statement"]
            for d in document.get("dynamic", [])
            if "controller_customer_id" in d["statement"]["for_each"]
        ]

    grants = customer_id_grants("restore")
    assert len(grants) == 1
    grant = grants[0]
    assert grant["for_each"] == (
        "${var.create_customer_id_secret ? [aws_secretsmanager_secret.controller_customer_id[0].arn] : []}"
    )
    assert grant["content"][0]["actions"] == ["secretsmanager:GetSecretValue"]
    assert grant["content"][0]["resources"] == ["${statement.value}"]
    assert customer_id_grants("backup") == []
    for policy in ("backup", "restore", "scheduler"):
        for statement in _statements(policy):
            assert "customer_id" not in " ".join(statement["resources"]), policy


def test_plan_refuses_a_customer_id_without_its_secret(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES | {"controller_customer_id": "CUSTOMER-1"}
    status, output = planner.plan(values)
    assert status != 0 and "controller_customer_id needs create_customer_id_secret = true" in output
    status, output = planner.plan(values | {"create_customer_id_secret": True})
    assert status == 0, output


# -- the example: what a real deployment needs -----------------------------------------------------


def _example_call() -> dict[str, Any]:
    modules: dict[str, Any] = {}
    for block in _module(EXAMPLE).get("module", []):
        modules.update(block)
    return dict(modules["controller_backup"])


def _example_variables() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for block in _module(EXAMPLE).get("variable", []):
        merged.update(block)
    return merged


def test_example_runs_native_mode_with_every_input_it_needs() -> None:
    call = _example_call()
    assert "backup_mode" not in call or call["backup_mode"] == "native"
    native_required = {
        name
        for name, variable in _variables().items()
        for rule in variable.get("validation", [])
        if 'var.backup_mode != "native" ||' in rule["condition"]
        and f"var.{name} != null" in rule["condition"]
    }
    assert native_required == set(_NATIVE_REQUIRED)
    assert native_required <= set(call), f"the example misses {native_required - set(call)}"
    assert call["controller_private_ip"] == "${var.controller_private_ip}"
    assert call["native_bucket_name"] == "${var.controller_bucket_name}"
    assert call["native_account_name"] == "${var.controller_account_name}"
    # the example's own inputs for them are required: a plan cannot go ahead without them
    for name in (
        "controller_private_ip",
        "controller_bucket_name",
        "controller_account_name",
        "controller_ca_bundle",
    ):
        assert "default" not in _example_variables()[name], name


def test_example_pins_the_controllers_certificate_and_calls_its_private_address() -> None:
    call = _example_call()
    assert call["controller_ca_bundle"] == "${var.controller_ca_bundle}"
    # the certificate may name the controller otherwise than the private IP the functions call
    assert call["controller_tls_server_name"] == "${var.controller_tls_server_name}"
    assert "controller_verify_tls" not in call, "the example never turns TLS verification off"
    assert call["controller_url"] == '${coalesce(var.controller_url, "https://${var.controller_private_ip}")}'
    # a replacement is reached at its own private IP, from inside the VPC
    assert call["replacement_url"] == "https://{private_ip}"


def test_example_puts_the_functions_in_the_controllers_vpc_with_443_to_the_controller() -> None:
    call = _example_call()
    assert call["subnet_ids"] == "${var.function_subnet_ids}"
    assert call["security_group_ids"] == ["${aws_security_group.functions.id}"]
    example = _module(EXAMPLE)
    group = helpers.resources(example, "aws_security_group")["functions"]
    assert group["vpc_id"] == "${var.controller_vpc_id}"
    # the controller's security group lets the functions' group in on 443, and nothing else
    ingress = helpers.resources(example, "aws_vpc_security_group_ingress_rule")
    assert list(ingress) == ["controller_from_functions"]
    rule = ingress["controller_from_functions"]
    assert rule["security_group_id"] == "${var.controller_security_group_id}"
    assert rule["referenced_security_group_id"] == "${aws_security_group.functions.id}"
    assert (rule["ip_protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 443, 443)
    assert "cidr_ipv4" not in rule
    # and the functions' group lets them out to it on 443
    egress = helpers.resources(example, "aws_vpc_security_group_egress_rule")
    to_controller = egress["functions_to_controller"]
    assert to_controller["security_group_id"] == "${aws_security_group.functions.id}"
    assert to_controller["referenced_security_group_id"] == "${var.controller_security_group_id}"
    assert (to_controller["from_port"], to_controller["to_port"]) == (443, 443)
    assert all(r["from_port"] == r["to_port"] == 443 for r in egress.values()), "HTTPS out only"


def test_the_tls_server_name_reaches_both_functions() -> None:
    environment = _locals()["ca_environment"]
    assert "CONTROLLER_TLS_SERVER_NAME" in environment and "var.controller_tls_server_name" in environment
    for function in ("backup", "restore"):
        variables = _resources("aws_lambda_function")[function]["environment"][0]["variables"]
        assert "local.ca_environment" in variables


# -- the replacement and restore-target settings --------------------------------------------------


def test_plan_checks_the_replacement_url_and_the_allowed_targets(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    for good in ("controller_url", "https://{private_ip}", "https://{public_ip}:8443"):
        status, output = planner.plan(values | {"replacement_url": good})
        assert status == 0, (good, output)
    for bad in ("private_ip", "http://{private_ip}", "https://controller.example.com"):
        status, output = planner.plan(values | {"replacement_url": bad})
        assert status != 0 and "replacement_url must be controller_url or https://" in output, bad
    status, output = planner.plan(
        values | {"restore_allowed_targets": ["10.0.2.0/24", "10.0.3.7", "ctl-dr.example.com"]}
    )
    assert status == 0, output
    for bad in ("10.0.2.0/24,10.0.3.0/24", "https://ctl.example.com", "10.0.2.0/99"):
        status, output = planner.plan(values | {"restore_allowed_targets": [bad]})
        assert status != 0, bad
        assert "restore_allowed_targets must be host names, IP addresses or CIDRs" in output, bad


def test_plan_refuses_a_tag_key_that_would_split_the_replacement_tag(
    planner: helpers.VariablePlanner,
) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"controller_tag_key": "role=x"})
    assert status != 0 and "controller_tag_key must be 1-128 characters without '='" in output
