"""The AWS Terraform module, checked offline: fmt, validate, plan tests, checkov and what only the
text can show.

What the module plans (every argument, each function's settings, the policies' statements, the
alarms, the validations, the outputs) is asserted by `terraform test` with the real AWS provider:
the .tftest.hcl files in tests/terraform/aws, each run a pytest case of its own here. They are
checked against facts taken from the code the module deploys (the handlers, the scheduled input
the handler parses, where the core keeps its record and markers, the settings native mode needs),
passed in as variables. What a plan cannot show stays here: the blocks the plan tests cannot
enumerate, which document each policy attaches (most are read only at apply), derivations made once,
`moved` and `depends_on`, descriptions and messages, and the README and the example.
"""

from __future__ import annotations

import importlib
import json
import re
import zipfile
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from controller_backup.addresses import parse_tag
from controller_backup.backup_record import RECORD_SUFFIX
from controller_backup.job_requests import BackupRequest, parse_backup_request
from controller_backup.native_bucket import AWS_FAMILY, CLOUD_TYPES
from controller_backup.restore_marker import RestoreMarker
from controller_backup.settings import Settings

from functions.aws import restore_handler
from tests.terraform import helpers
from tests.terraform.helpers import ROOT, run_checkov, terraform_fmt_problems

MODULE = ROOT / "infra" / "terraform" / "aws"
EXAMPLE = MODULE / "examples" / "basic"
PLAN_TESTS = ROOT / "tests" / "terraform" / "aws"
#: the provider and overrides every plan test file plans with (appended to each by the driver)
OFFLINE = PLAN_TESTS / "_offline.tftest.hcl"
TEST_FILES = sorted(path for path in PLAN_TESTS.glob("*.tftest.hcl") if path != OFFLINE)


@cache
def _module(directory: Path = MODULE) -> dict[str, list[Any]]:
    return helpers.load_module(directory)


def _blocks(kind: str, type_name: str, directory: Path = MODULE) -> dict[str, dict[str, Any]]:
    return helpers.blocks(_module(directory), kind, type_name)


def _resources(type_name: str) -> dict[str, dict[str, Any]]:
    return _blocks("resource", type_name)


def _locals() -> dict[str, Any]:
    return helpers.merged(_module(), "locals")


def _variables() -> dict[str, dict[str, Any]]:
    return helpers.variables(_module())


# -- what the plan tests check the module against, taken from the code ----------------------------

#: the handler each function runs (each must be a function in functions/aws)
HANDLERS = {
    "backup": "functions.aws.backup_handler.handler",
    "restore": "functions.aws.restore_handler.handler",
}
#: what the Scheduler sends, its context attribute still unfilled
SCHEDULED_INPUT = {
    "action": "backup",
    "trigger": "schedule",
    "scheduled_time": "<aws.scheduler.scheduled-time>",
}
#: what native mode needs on an AWS controller, with sample values (Settings.from_env reads them)
NATIVE_SETTINGS = {
    "CONTROLLER_PRIVATE_IP": "10.0.1.25",
    "NATIVE_CLOUD_TYPE": "aws",
    "NATIVE_ACCOUNT_NAME": "backup-account",
    "NATIVE_BUCKET_URL": "s3://controller-own-backups",
    "NATIVE_BACKUP_WAIT": "300",
    "NATIVE_AWS_ACCOUNT_NUMBER": "123456789012",
}
#: where the readiness check records its last result beside each destination (issue 13's contract,
#: VERIFY_SUFFIX of the core's verify_record)
VERIFY_SUFFIX = ".last-verify.json"
#: the module's default REPLACEMENT_TAG
DEFAULT_REPLACEMENT_TAG = "Name=AviatrixController"


def _marker_infix() -> str:
    """What the core puts between BACKUP_URL and a restore marker's key: it opens the marker's store
    here, so a stand-in for the settings records the URL (the core has no constant for it)."""
    opened: list[str] = []

    def backup_store(url: str) -> SimpleNamespace:
        opened.append(url)
        return SimpleNamespace(head=lambda: None)

    settings = SimpleNamespace(backup_url="s3://bucket/KEY", copy_urls=(), backup_store=backup_store)
    RestoreMarker(cast(Settings, settings), "ID", "https://target")
    infix = opened[0].removeprefix("s3://bucket/KEY").removesuffix("ID.json")
    assert opened[0] == f"s3://bucket/KEY{infix}ID.json" and infix, opened
    return infix


def _facts(package: Path) -> dict[str, Any]:
    return {
        "package_path": str(package),
        "record_suffix": RECORD_SUFFIX,
        "verify_suffix": VERIFY_SUFFIX,
        "marker_infix": _marker_infix(),
        "handlers": HANDLERS,
        "replacement_event_types": {
            "launched": restore_handler._LAUNCH_SUCCESSFUL,
            "launching": restore_handler._LAUNCH_LIFECYCLE,
            "running": restore_handler._STATE_CHANGE,
        },
        "scheduled_input": SCHEDULED_INPUT,
        "native_settings": sorted(NATIVE_SETTINGS),
        "s3_cloud_types": sorted(name for name, number in CLOUD_TYPES.items() if number in AWS_FAMILY),
        "default_replacement_tag": DEFAULT_REPLACEMENT_TAG,
    }


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_the_handlers_the_plan_expects_exist_in_the_code(name: str) -> None:
    module_name, _, func_name = HANDLERS[name].rpartition(".")
    assert module_name.startswith("functions.aws."), HANDLERS[name]
    assert (ROOT / (module_name.replace(".", "/") + ".py")).is_file()
    assert callable(getattr(importlib.import_module(module_name), func_name))


def test_the_scheduled_input_is_a_scheduled_backup_for_the_handler() -> None:
    # the Scheduler fills the placeholder in with the time the run was due
    delivered = SCHEDULED_INPUT | {"scheduled_time": "2026-12-01T00:00:00Z"}
    request = parse_backup_request(delivered, trigger="invoke")
    assert request == BackupRequest("backup", False, "schedule", "2026-12-01T00:00:00Z")


def test_the_native_settings_are_the_ones_the_core_reads_for_an_aws_controller() -> None:
    base = {"CONTROLLER_URL": "https://c", "CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "s3://b/k"}
    # raises if the core needs one the plan tests do not require of the module
    settings = Settings.from_env(base | {"CONTROLLER_BACKUP_MODE": "native"} | NATIVE_SETTINGS)
    assert settings.mode == "native"
    assert settings.native_bucket.params == {"bucket_name": "controller-own-backups"}
    assert sorted(_facts(Path("x.zip"))["s3_cloud_types"]) == ["aws", "aws-china", "aws-gov"]


def test_the_default_replacement_tag_is_one_key_value_the_core_parses() -> None:
    assert parse_tag(DEFAULT_REPLACEMENT_TAG) == ("Name", "AviatrixController")


def test_the_markers_live_where_the_core_writes_them() -> None:
    assert _marker_infix() == ".restores/"


# -- formatting and tools -------------------------------------------------------------------------


def test_terraform_fmt_is_clean() -> None:
    assert terraform_fmt_problems(MODULE) == []
    assert terraform_fmt_problems(PLAN_TESTS) == []


@pytest.mark.slow
def test_module_and_example_are_valid_against_the_real_provider_schema(tmp_path: Path) -> None:
    """`terraform validate` with the AWS provider itself: every resource, argument and block exists."""
    helpers.terraform_validate(MODULE, MODULE, tmp_path / "module", "aws")
    helpers.terraform_validate(MODULE, EXAMPLE, tmp_path / "example", "aws")


def test_checkov_finds_nothing_and_every_skip_has_a_reason() -> None:
    report = run_checkov(MODULE)
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["failed"]]
    assert failed == []
    assert report["passed"] > 100
    for skipped in report["skipped"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# -- the plan tests: one pytest case per run block ------------------------------------------------

PLAN_RUNS = [
    (path.name, name)
    for path in TEST_FILES
    for name in re.findall(r'^run "(\w+)" \{', path.read_text(), flags=re.MULTILINE)
]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], helpers.PlanRun]:
    """Every plan test file, in one `terraform test` (one init, one provider mirror)."""
    workdir = tmp_path_factory.mktemp("aws-plan")
    package = workdir / "lambda.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("functions/__init__.py", "")
    return helpers.terraform_test(MODULE, TEST_FILES, OFFLINE, workdir, "aws", _facts(package))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("test_file", "run"), PLAN_RUNS, ids=[f"{f.removesuffix('.tftest.hcl')}-{r}" for f, r in PLAN_RUNS]
)
def test_plan(planned: dict[tuple[str, str], helpers.PlanRun], test_file: str, run: str) -> None:
    outcome = planned.get((test_file, run))
    assert outcome is not None, f"terraform test did not find run {run!r} in {test_file}"
    assert outcome.status == "pass", f"{test_file} run {run!r}: {outcome.report()}"


@pytest.mark.slow
def test_every_run_terraform_found_is_a_pytest_case(planned: dict[tuple[str, str], helpers.PlanRun]) -> None:
    assert sorted(planned) == sorted(PLAN_RUNS)
    assert {file for file, _ in PLAN_RUNS} == {p.name for p in TEST_FILES}, "a test file without a run"


def test_the_plan_tests_name_every_block_of_the_module() -> None:
    """A plan test asserts on what it names: a resource or data source none names is unchecked
    (the account, partition and region are overridden inputs)."""
    texts = "\n".join(path.read_text() for path in TEST_FILES)
    inputs = {"data.aws_caller_identity.current", "data.aws_partition.current", "data.aws_region.current"}
    unnamed = [
        address
        for kind, prefix in (("resource", ""), ("data", "data."))
        for block in _module().get(kind, [])
        for type_name, named in block.items()
        for name in named
        if (address := f"{prefix}{type_name}.{name}") not in inputs
        and not re.search(rf"(?<![\w.]){re.escape(address)}\b", texts)
    ]
    assert unnamed == []


# -- what a plan cannot show ----------------------------------------------------------------------

#: every block of the types the plan tests check one by one: a new one would escape them (a
#: second Function URL without AWS_IAM, a grant to another principal, an unchecked document)
_BLOCKS = {
    "aws_lambda_function": {"this"},
    "aws_lambda_function_url": {"this"},
    "aws_lambda_permission": {
        "backup_url",
        "backup_invoke",
        "restore_url",
        "restore_invoke",
        "events_invoke_restore",
    },
    "aws_iam_policy": {"invoke"},
    "aws_iam_role_policy": {"function", "native", "scheduler"},
    "aws_iam_role": {"function", "scheduler"},
}


def test_the_module_has_only_the_blocks_the_plan_tests_check() -> None:
    for type_name, names in _BLOCKS.items():
        assert set(_resources(type_name)) == names, type_name
    texts = " ".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert not re.search(r'authorization_type\s*=\s*"NONE"', texts)


#: (type, name, argument) -> the policy document it carries. Most documents are read only at apply
#: (they depend on resources still to be created), so a plan shows their statements, not this link.
_ATTACHED = {
    ("aws_s3_bucket_policy", "backup", "policy"): "bucket",
    ("aws_kms_key", "backup", "policy"): "kms",
    ("aws_iam_role", "function", "assume_role_policy"): 'assume["lambda"]',
    ("aws_iam_role", "scheduler", "assume_role_policy"): 'assume["scheduler"]',
    ("aws_iam_role_policy", "function", "policy"): "function[each.key]",
    ("aws_iam_role_policy", "native", "policy"): "native[each.key]",
    ("aws_iam_role_policy", "scheduler", "policy"): "scheduler",
    ("aws_iam_policy", "invoke", "policy"): "invoke[each.key]",
    ("aws_sns_topic_policy", "alarms", "policy"): 'sender["alarms_topic"]',
    ("aws_sqs_queue_policy", "dlq", "policy"): 'sender["dlq"]',
}


def test_each_policy_carries_its_own_document_and_every_document_is_checked() -> None:
    for (type_name, name, argument), document in _ATTACHED.items():
        body = _resources(type_name)[name]
        assert body[argument] == f"${{data.aws_iam_policy_document.{document}.json}}", (type_name, name)
    # iam.tftest.hcl checks these for destructive grants, storage.tftest.hcl the bucket's and the key's
    documents = {d.split("[")[0] for d in _ATTACHED.values()}
    assert set(_blocks("data", "aws_iam_policy_document")) == documents


def test_each_wait_is_derived_once_from_its_functions_timeout() -> None:
    """CONTROLLER_READY_TIMEOUT (backup) and RESTORE_TIME_LIMIT (restore) are computed in one local
    each, from the variable that is that function's timeout, and nowhere else (the plan tests
    check their values for several timeouts)."""
    assert _locals()["backup_ready_timeout"] == (
        "${max(30, var.backup_timeout_seconds - "
        "(local.native_enabled ? var.native_backup_wait_seconds : 0) - 120)}"
    )
    assert _locals()["restore_time_limit"] == "${var.restore_timeout_seconds - 60}"
    texts = "".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert (
        len(re.findall(r"\bCONTROLLER_READY_TIMEOUT\s+=", texts)) == 1
        and len(re.findall(r"\bRESTORE_TIME_LIMIT\s+=", texts)) == 1
    )
    assert texts.count("var.restore_timeout_seconds - ") == 1


def test_the_functions_wait_for_the_native_grants() -> None:
    depends_on = _resources("aws_lambda_function")["this"]["depends_on"]
    assert "${aws_iam_role_policy.function}" in depends_on
    assert "${aws_iam_role_policy.native}" in depends_on


#: (resource type, name now) of every block that became one block for both functions
_MOVED_TO_FOR_EACH = (
    ("aws_lambda_function", "this"),
    ("aws_iam_role", "function"),
    ("aws_cloudwatch_log_group", "function"),
    ("aws_lambda_function_event_invoke_config", "this"),
    ("aws_lambda_function_url", "this"),
)


#: (old address, for_each block now) of what else became one block: the role policies per
#: function, the invoke policies and the alarms (one map of definitions)
_MOVED_PER_JOB = (
    ("aws_iam_role_policy.{job}", 'aws_iam_role_policy.function["{job}"]'),
    ("aws_iam_role_policy.{job}_native[0]", 'aws_iam_role_policy.native["{job}"]'),
    ("aws_iam_policy.invoke_{job}", 'aws_iam_policy.invoke["{job}"]'),
    (
        'aws_cloudwatch_metric_alarm.function_errors["{job}"]',
        'aws_cloudwatch_metric_alarm.this["{job}_errors"]',
    ),
)
_ALARMS_MOVED = ("no_recent_backup", "dead_letters", "restore_failed")
#: the backup's schedule, now one of two (the readiness check's beside it)
_MOVED_SCHEDULE = {"aws_scheduler_schedule.backup": 'aws_scheduler_schedule.this["backup"]'}
#: the two secrets, now one block over local.secrets
_MOVED_SECRETS = {
    f"aws_secretsmanager_secret.{name}{index}": f'aws_secretsmanager_secret.this["{name}"]'
    for name, index in (("controller_password", ""), ("controller_customer_id", "[0]"))
}


def test_an_existing_deployment_moves_to_the_for_each_addresses() -> None:
    """Each function's resources had their own block (aws_lambda_function.backup); `moved` blocks
    take them to the for_each instances (aws_lambda_function.this["backup"]), so an existing
    deployment is updated in place, never destroyed and recreated."""
    jobs = _locals()["functions"]
    expected = {
        f"{kind}.{job}": f'{kind}.{name}["{job}"]' for kind, name in _MOVED_TO_FOR_EACH for job in jobs
    }
    expected |= {old.format(job=job): new.format(job=job) for old, new in _MOVED_PER_JOB for job in jobs}
    expected |= {
        f"aws_cloudwatch_metric_alarm.{n}": f'aws_cloudwatch_metric_alarm.this["{n}"]' for n in _ALARMS_MOVED
    }
    expected |= _MOVED_SCHEDULE | _MOVED_SECRETS
    assert helpers.moves(_module()) == expected
    assert helpers.moved_problems(_module()) == []
    for kind, name in _MOVED_TO_FOR_EACH:
        assert _resources(kind)[name]["for_each"] in ("${local.functions}", "${aws_lambda_function.this}"), (
            kind
        )


#: the settings the restore code reads now; the old ones must be gone from the module, its
#: README and its example
_OLD_SETTINGS = ("CONTROLLER_TAG_KEY", "CONTROLLER_TAG_VALUE", "RESTORE_TARGET", "CONTROLLER_ALLOW_HTTP")

#: inputs renamed to the name the other clouds' modules use for the same thing (the provider's own
#: schedule_expression argument stays, so it is not listed)
_RENAMED = (
    "lambda_package",
    "alarm_email",
    "object_key",
    "backup_invoker_arns",
    "restore_invoker_arns",
    "controller_tag_key",
    "controller_tag_value",
)


def test_the_old_settings_are_gone_everywhere() -> None:
    old_names = ("restore_target", "invoker_principals", "invoke_policy_arn")
    helpers.assert_old_names_gone(helpers.module_texts(MODULE), _OLD_SETTINGS, old_names)


def test_the_renamed_inputs_are_gone_everywhere() -> None:
    helpers.assert_renamed_gone(MODULE, _RENAMED)


# -- variables: descriptions and messages (variables.tftest.hcl fires each validation) ------------

#: what native mode cannot run without, on AWS (the account number and roles have defaults)
_NATIVE_REQUIRED = ("controller_private_ip", "native_bucket_name", "native_account_name")

#: variable -> what its refusal says: expect_failures in a plan test shows which validation
#: failed, not its message
_MESSAGES = {
    "noncurrent_version_days": "noncurrent_version_days must be between 7 and 3650",
    "backup_timeout_seconds": "backup_timeout_seconds must be at least native_backup_wait_seconds + 120",
    "security_group_ids": "security_group_ids is required with subnet_ids",
    "controller_customer_id": "controller_customer_id needs create_customer_id_secret = true",
    "replacement_url": "replacement_url must be controller_url or https://",
    "restore_allowed_targets": "restore_allowed_targets must be host names, IP addresses or CIDRs",
    "replacement_tag": "replacement_tag must be KEY=VALUE",
    "native_backup_wait_seconds": "native_backup_wait_seconds must be between 30 and 780",
    "backup_mode": "backup_mode must be export or native",
    "copy_urls": "copy_urls must be store URLs",
    "copy_credentials": "copy_credentials must name only URLs of copy_urls",
    "object_lock_mode": "object_lock_mode must be GOVERNANCE, COMPLIANCE or null",
    "object_lock_days": "object_lock_days must be a whole number from 1 to 36500",
    "verify_schedule": "verify_schedule must be a cron(...) or rate(...) expression",
}


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


@pytest.mark.parametrize("name", sorted(_MESSAGES))
def test_each_refusal_says_what_is_wrong(name: str) -> None:
    messages = [rule["error_message"] for rule in _variables()[name]["validation"]]
    assert any(_MESSAGES[name] in message for message in messages), messages


@pytest.mark.parametrize("name", _NATIVE_REQUIRED)
def test_each_input_native_mode_needs_has_a_validation_naming_it(name: str) -> None:
    helpers.assert_native_mode_rule(_variables(), name)


def test_export_mode_is_described_for_what_it_is() -> None:
    description = _variables()["backup_mode"]["description"]
    assert "a controller, proxy or emulator that serves export_config" in description


def test_outputs_are_described_and_readme_documents_every_variable() -> None:
    outputs = helpers.merged(_module(), "output")
    assert all(o.get("description") for o in outputs.values())
    readme = (MODULE / "README.md").read_text()
    missing = [name for name in _variables() if f"`{name}`" not in readme]
    assert missing == [], f"README.md does not document {missing}"


# -- the example: what a real deployment needs -----------------------------------------------------


def _example_call() -> dict[str, Any]:
    return dict(helpers.merged(_module(EXAMPLE), "module")["controller_backup"])


def _example_variables() -> dict[str, dict[str, Any]]:
    return helpers.variables(_module(EXAMPLE))


def test_example_uses_the_module_and_the_packaged_zip() -> None:
    call = _example_call()
    assert call["source"] == "../.."
    assert call["package_path"].endswith("/dist/aws/lambda.zip")
    assert (
        EXAMPLE / call["package_path"].replace("${path.module}/", "")
    ).resolve() == ROOT / "dist/aws/lambda.zip"
    required = {n for n, v in _variables().items() if "default" not in v}
    assert required <= set(call), f"the example misses {required - set(call)}"
    assert json.dumps(call)  # plain data, as parsed


def test_example_runs_native_mode_with_every_input_it_needs() -> None:
    call = _example_call()
    helpers.assert_example_runs_native_mode(call, _variables(), _NATIVE_REQUIRED)
    helpers.assert_example_names_the_controllers_bucket(call, _example_variables())


def test_example_pins_the_controllers_certificate_and_calls_its_private_address() -> None:
    call = _example_call()
    helpers.assert_example_pins_the_certificate(call)
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
