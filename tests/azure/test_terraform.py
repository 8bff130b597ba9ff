"""The Azure Terraform module, checked offline: fmt, the azurerm schema, structure (python-hcl2)
and checkov.

Structure checks tie the module to the code: the schedule app setting feeds the timer's
`%BACKUP_SCHEDULE%`, the alert queries count the functions the code really defines, the event
subscription sends exactly the events `replacement_vm` acts on into the queue the function reads,
backup and restore run as two apps with separate identities, and every role of each identity is
scoped to this deployment's container (with a condition on what it may write), secret, its own
host account, queues, telemetry or the controller's resource group.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from controller_backup.backup_record import RECORD_SUFFIX

from tests.terraform import helpers, schema
from tests.terraform.helpers import ROOT, run_checkov, terraform_fmt_problems

MODULE = ROOT / "infra" / "terraform" / "azure"
EXAMPLE = MODULE / "examples" / "basic"
#: the principal of a role assignment made for each app (for_each = local.apps), or for one app
EACH_PRINCIPAL = "${local.principals[each.key]}"
BACKUP_PRINCIPAL = '${local.principals["backup"]}'
RESTORE_PRINCIPAL = '${local.principals["restore"]}'
JOBS = ("backup", "restore")
NATIVE_COUNT = "${local.native_enabled ? 1 : 0}"


@cache
def _module(directory: Path = MODULE) -> dict[str, list[Any]]:
    return helpers.load_module(directory)


def _resources(type_name: str) -> dict[str, dict[str, Any]]:
    return helpers.resources(_module(), type_name)


def _merged(kind: str) -> dict[str, Any]:
    return helpers.merged(_module(), kind)


def _one(block: dict[str, Any], name: str) -> dict[str, Any]:
    value = block[name]
    assert isinstance(value, list) and len(value) == 1, f"expected one {name} block"
    return dict(value[0])


def _pairs(expression: str | dict[str, str]) -> dict[str, str]:
    """NAME -> expression of the literal maps inside a merge(...) expression (or of a plain map)."""
    if isinstance(expression, dict):
        return {
            k: v[2:-1] if v.startswith("${") and v.endswith("}") else json.dumps(v)
            for k, v in expression.items()
        }
    return dict(re.findall(r"(\w+) = (\"(?:[^\"\\]|\\.)*\"|[\w.()\[\]]+)", expression))


def _app_settings(job: str = "backup") -> dict[str, str]:
    """NAME -> expression of one app's settings: its own, the common ones and its job's."""
    expression = _resources("azurerm_function_app_flex_consumption")["app"]["app_settings"]
    assert expression.endswith(
        "local.common_app_settings, "
        'each.key == "backup" ? local.backup_app_settings : local.restore_app_settings)}'
    )
    locals_ = _merged("locals")
    return (
        _pairs(expression) | _pairs(locals_["common_app_settings"]) | _pairs(locals_[f"{job}_app_settings"])
    )


def _secret_scope(secret: str) -> str:
    return f'${{azurerm_key_vault.this.id}}/secrets/${{azurerm_key_vault_secret.this["{secret}"].name}}'


_VAULT = "${azurerm_key_vault.this.id}"


def _grants(readers: dict[str, dict[str, dict[str, str]]]) -> list[tuple[str, str, str, str]]:
    """(identity, scope, role, assignment) for every role assignment of the apps' identities, with
    `readers` (local.secret_readers and local.copy_credential_readers, evaluated) for the two blocks
    that grant secrets; any other principal's assignment must be one of two known ones."""
    found = []
    for name, body in _resources("azurerm_role_assignment").items():
        role = body.get("role_definition_name") or body["role_definition_id"]
        if body.get("for_each") == "${local.secret_readers}":
            assert body["principal_id"] == "${local.principals[each.value.job]}"
            assert (
                body["scope"]
                == f"{_VAULT}/secrets/${{azurerm_key_vault_secret.this[each.value.secret].name}}"
            )
            found += [(r["job"], _secret_scope(r["secret"]), role, name) for r in readers["secret"].values()]
        elif body.get("for_each") == "${local.copy_credential_readers}":
            assert body["principal_id"] == "${local.principals[each.value.job]}"
            assert body["scope"] == f"{_VAULT}/secrets/${{each.value.name}}"
            found += [
                (r["job"], f"{_VAULT}/secrets/{r['name']}", role, name) for r in readers["copy"].values()
            ]
        elif body["principal_id"] == EACH_PRINCIPAL:
            assert body["for_each"] == "${local.apps}", name
            found += [(job, body["scope"], role, name) for job in JOBS]
        elif body["principal_id"] in (BACKUP_PRINCIPAL, RESTORE_PRINCIPAL):
            job = "backup" if body["principal_id"] == BACKUP_PRINCIPAL else "restore"
            found.append((job, body["scope"], role, name))
        else:  # not an app's: the deployer's own, and the Event Grid topic's on the queue
            assert name in ("deployer_secrets_officer", "events_to_queue"), f"{name}: whose grant is this?"
    return found


def _readers(console: helpers.LocalsConsole, values: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    both = {"secret": "local.secret_readers", "copy": "local.copy_credential_readers"}
    readers: dict[str, dict[str, dict[str, str]]] = console.evaluate(values, both)
    return readers


# -- formatting and tools -------------------------------------------------------------------------


def test_fmt_clean() -> None:
    assert terraform_fmt_problems(MODULE) == []


@pytest.mark.parametrize("directory", [MODULE, EXAMPLE], ids=["module", "example"])
def test_every_resource_block_and_argument_exists_in_the_azurerm_schema(directory: Path) -> None:
    """No azurerm binary here: its published schema (tests/terraform/schema.py) stands in for validate."""
    assert schema.check_module(directory) == []


def test_checkov_finds_nothing_and_every_skip_has_a_reason() -> None:
    report = run_checkov(MODULE)
    assert report["passed"] > 20, "checkov scanned (almost) nothing"
    assert report["failed"] == [], [(f["check_id"], f["resource"]) for f in report["failed"]]
    for skipped in report["skipped"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 30, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# -- the function app -----------------------------------------------------------------------------


def test_two_flex_consumption_apps_each_with_its_own_identity_plan_and_host_account() -> None:
    """Backup and restore are separate apps: separate function keys (callers) and identities."""
    assert _merged("locals")["apps"] == {
        "backup": ["scheduled_backup", "scheduled_verify", "backup"],
        "restore": ["restore", "replacement_controller"],
    }
    plan = _resources("azurerm_service_plan")["flex"]
    assert plan["for_each"] == "${local.apps}"  # Flex Consumption hosts one app per plan
    assert plan["sku_name"] == "FC1" and plan["os_type"] == "Linux"
    assert "${each.key}" in plan["name"]
    apps = _resources("azurerm_function_app_flex_consumption")
    assert list(apps) == ["app"]
    app = apps["app"]
    assert app["for_each"] == "${local.apps}"
    assert app["name"] == "${var.name}-controller-${each.key}"
    assert app["service_plan_id"] == "${azurerm_service_plan.flex[each.key].id}"
    assert app["runtime_name"] == "python" and app["runtime_version"] == "3.12"
    assert _one(app, "identity")["type"] == "SystemAssigned"
    assert app["https_only"] is True and app["webdeploy_publish_basic_authentication_enabled"] is False
    assert app["storage_authentication_type"] == "SystemAssignedIdentity"
    # the app's own host account, never the backup account, carries its package and host state
    assert app["storage_container_endpoint"] == (
        "${azurerm_storage_account.host[each.key].primary_blob_endpoint}"
        "${azurerm_storage_container.deployment[each.key].name}"
    )
    assert _one(app, "site_config")["minimum_tls_version"] == "1.2"
    host = _resources("azurerm_storage_account")["host"]
    assert host["for_each"] == "${local.apps}" and host["name"] == "${local.host_account_names[each.key]}"
    names = _merged("locals")["host_account_names"]
    assert set(names) == set(JOBS) and len(set(names.values())) == 2
    assert _merged("locals")["principals"] == (
        "${{for job, app in azurerm_function_app_flex_consumption.app : job => app.identity[0].principal_id}}"
    )


def test_each_app_registers_its_own_function_group(functions: dict[str, Any]) -> None:
    """CONTROLLER_BACKUP_FUNCTIONS is the app's key; together the groups are every function."""
    settings = _app_settings()
    assert settings["CONTROLLER_BACKUP_FUNCTIONS"] == "each.key"
    groups = _merged("locals")["apps"]
    assert sorted(name for names in groups.values() for name in names) == sorted(functions)
    assert set(groups["backup"]).isdisjoint(groups["restore"])
    assert set(_merged("locals")["functions"].values()) == set(functions)


def test_app_settings_feed_the_code(function_app: ModuleType, functions: dict[str, Any]) -> None:
    settings = _app_settings("backup")
    assert settings["CONTROLLER_PASSWORD"].startswith('"azure-kv:${azurerm_key_vault.this.name}/')
    assert settings["BACKUP_URL"].startswith('"azblob://${azurerm_storage_account.backup.name}/')
    assert settings["BACKUP_SCHEDULE"] == "var.schedule"
    assert settings["AzureWebJobsStorage__accountName"] == "azurerm_storage_account.host[each.key].name"
    assert "BACKUP_SCHEDULE" not in _app_settings("restore")
    assert _app_settings("restore")["REPLACEMENT_URL"] == "var.replacement_url"
    # the timer reads %BACKUP_SCHEDULE%; the default fires at midnight (UTC on Flex)
    timer = json.loads(functions["scheduled_backup"].get_function_json())["bindings"][0]
    assert timer["schedule"] == "%BACKUP_SCHEDULE%"
    schedule = _merged("variable")["schedule"]["default"]
    assert schedule == "0 0 0 * * *" and len(schedule.split()) == 6


def test_each_apps_waits_are_derived_from_the_host_timeout(console: helpers.LocalsConsole) -> None:
    """host.json's functionTimeout is the one timeout of every function: the module's copy of it
    must match, and each wait is derived from it once. A backup waits out a rebooting controller
    for the timeout less the native wait for the controller's file and 120 s to store it; a
    restore waits 25 minutes for a booting controller and stops two minutes before the host."""
    assert int(_merged("locals")["function_timeout_seconds"]) == _host_timeout_seconds()
    assert _app_settings("backup")["CONTROLLER_READY_TIMEOUT"] == "tostring(local.backup_ready_timeout)"
    assert _app_settings("restore")["CONTROLLER_READY_TIMEOUT"] == "tostring(local.restore_ready_timeout)"
    assert _app_settings("restore")["RESTORE_TIME_LIMIT"] == "tostring(local.restore_time_limit)"
    names = ("backup_app_settings", "restore_app_settings")
    cases = (
        (_NATIVE_VALUES, ("1380", "1500", "1680")),
        (_NATIVE_VALUES | {"native_backup_wait_seconds": 1500}, ("180", "1500", "1680")),
        ({"backup_mode": "export"}, ("1680", "1500", "1680")),
    )
    for inputs, (backup_ready, restore_ready, restore_limit) in cases:
        apps = console.evaluate(_BASE_VALUES | inputs, {name: f"local.{name}" for name in names})
        backup, restore = apps["backup_app_settings"], apps["restore_app_settings"]
        assert backup["CONTROLLER_READY_TIMEOUT"] == backup_ready, inputs
        assert (restore["CONTROLLER_READY_TIMEOUT"], restore["RESTORE_TIME_LIMIT"]) == (
            restore_ready,
            restore_limit,
        ), inputs
        assert "RESTORE_TIME_LIMIT" not in backup, "a backup never restores"
    texts = "".join(p.read_text() for p in MODULE.glob("*.tf"))
    assert (
        len(re.findall(r"\bCONTROLLER_READY_TIMEOUT\s+=", texts)) == 2
        and len(re.findall(r"\bRESTORE_TIME_LIMIT\s+=", texts)) == 1
    )


# -- backup storage -------------------------------------------------------------------------------


def test_backup_account_is_separate_and_hardened() -> None:
    accounts = _resources("azurerm_storage_account")
    assert set(accounts) == {"backup", "host"}
    backup = accounts["backup"]
    assert backup["name"] != accounts["host"]["name"]
    assert backup["shared_access_key_enabled"] is False
    assert backup["min_tls_version"] == "TLS1_2" and backup["https_traffic_only_enabled"] is True
    assert backup["allow_nested_items_to_be_public"] is False
    blob = _one(backup, "blob_properties")
    assert blob["versioning_enabled"] is True
    assert _one(blob, "delete_retention_policy") == {
        "days": "${var.soft_delete_days}",
        "permanent_delete_enabled": False,
    }
    assert _one(blob, "container_delete_retention_policy")
    container = _resources("azurerm_storage_container")["backups"]
    assert container["container_access_type"] == "private"
    assert container["storage_account_id"] == "${azurerm_storage_account.backup.id}"


def test_lifecycle_rule_expires_old_versions_only() -> None:
    policy = _resources("azurerm_storage_management_policy")["backup"]
    rule = _one(policy, "rule")
    actions = _one(rule, "actions")
    assert set(actions) == {"version"}, "the rule must never touch the current backup"
    assert _one(actions, "version")["delete_after_days_since_creation"] == "${var.version_retention_days}"


_BLOB_ROLE = "${azurerm_role_definition.backup_blobs.role_definition_resource_id}"
#: where the readiness check records its last result beside each destination (issue 13's contract,
#: VERIFY_SUFFIX of the core's verify_record)
VERIFY_SUFFIX = ".last-verify.json"
#: copies in the three clouds: one credential in this module's vault, one in another, one without
_COPIES = {
    "copy_urls": [
        "gs://acme-gcs-dr/controller/backup.enc",
        "s3://acme-s3-dr/controller/backup.enc",
        "https://acmedr.blob.core.windows.net/backups/controller/backup.enc",
    ],
    "copy_credentials": {
        "gs://acme-gcs-dr/controller/backup.enc": "azure-kv:avxctlbk01-kv/gcs-dr-key",
        "s3://acme-s3-dr/controller/backup.enc": "azure-kv:dr-vault/s3-role",
    },
}
_WITH_CUSTOMER_ID = {"create_customer_id_secret": True, "controller_customer_id": "CUSTOMER-1"}
#: each secret of the module: the inputs that create it, its name, who may read it, and the
#: setting that carries a reference to it (never the value)
_SECRETS = {
    "controller_password": ({}, "controller-password", {"backup", "restore"}),
    "controller_customer_id": (_WITH_CUSTOMER_ID, "controller-customer-id", {"restore"}),
    "native_arm_client_secret": ({}, "native-arm-client-secret", {"restore"}),
}


def test_key_vault_rbac_and_one_write_only_block_for_the_secrets() -> None:
    vault = _resources("azurerm_key_vault")["this"]
    assert vault["rbac_authorization_enabled"] is True and vault["purge_protection_enabled"] is True
    secret = _resources("azurerm_key_vault_secret")["this"]
    assert secret["for_each"] == "${local.secrets}"
    assert "value" not in secret and secret["value_wo"] == "${local.secret_values[each.key]}"
    assert secret["value_wo_version"] == "${each.value.version}"
    assert secret["key_vault_id"] == "${azurerm_key_vault.this.id}"
    # each value is the variable of the same name, and only a write-only argument reads it
    assert _merged("locals")["secret_values"] == {name: f"${{var.{name}}}" for name in _SECRETS}


@pytest.mark.parametrize("secret", sorted(_SECRETS))
def test_each_secret_is_write_only_and_readable_only_by_its_apps(
    console: helpers.LocalsConsole, secret: str
) -> None:
    inputs, name, readers = _SECRETS[secret]
    variable = _merged("variable")[secret]
    assert variable["sensitive"] is True and variable["ephemeral"] is True
    values = _BASE_VALUES | _NATIVE_VALUES | inputs
    found = console.evaluate(values, {"secrets": "local.secrets", "readers": "local.secret_readers"})
    assert found["secrets"][secret] == {"name": name, "version": 1}
    assert {r["job"] for r in found["readers"].values() if r["secret"] == secret} == readers
    # only where it is needed: the customer id with create_customer_id_secret, the ARM secret in
    # native mode
    export = console.evaluate(_BASE_VALUES | {"backup_mode": "export"}, {"secrets": "keys(local.secrets)"})
    assert (secret in export["secrets"]) is (secret == "controller_password")


def test_each_identity_holds_exactly_its_own_roles(console: helpers.LocalsConsole) -> None:
    """Export mode (the native roles are checked below), with copies: what backup and restore may
    each do. Of the copies' credentials, both read exactly those in this module's vault."""
    readers = _readers(console, _BASE_VALUES | _WITH_CUSTOMER_ID | _COPIES | {"backup_mode": "export"})
    common = {
        ("${azurerm_storage_container.backups.id}", _BLOB_ROLE),
        (_secret_scope("controller_password"), "Key Vault Secrets User"),
        (f"{_VAULT}/secrets/gcs-dr-key", "Key Vault Secrets User"),
        ("${azurerm_storage_account.host[each.key].id}", "Storage Blob Data Owner"),
        ("${azurerm_application_insights.this.id}", "Monitoring Metrics Publisher"),
    }
    expected = {
        "backup": common,
        "restore": common
        | {
            ("${azurerm_storage_queue.replacements[0].id}", "Storage Queue Data Contributor"),
            ("${azurerm_storage_queue.replacements_poison[0].id}", "Storage Queue Data Contributor"),
            ("${var.controller_resource_group_id}", "Reader"),
            (_secret_scope("controller_customer_id"), "Key Vault Secrets User"),
        },
    }
    roles = _resources("azurerm_role_assignment")
    for job in JOBS:
        held = [
            (scope, role)
            for identity, scope, role, name in _grants(readers)
            if identity == job and roles[name].get("count") != NATIVE_COUNT
        ]
        assert len(held) == len(set(held)) and set(held) == expected[job], job
    # no role on the whole backup account (the container is the limit), and the host account
    # role is on the app's own account: the backup identity cannot rewrite the restore app's package
    for _, scope, role, _ in _grants(readers):
        assert "azurerm_storage_account.backup" not in scope, scope
        if role == "Storage Blob Data Owner":
            assert scope == "${azurerm_storage_account.host[each.key].id}"
    # the app identities never get a built-in role that deletes or administers
    for _, _, role, _ in _grants(readers):
        assert role not in {
            "Owner",
            "Contributor",
            "Storage Blob Data Contributor",
            "Storage Account Contributor",
        }


def test_no_identity_may_delete_a_blob_and_each_writes_only_its_own_path(
    console: helpers.LocalsConsole,
) -> None:
    definition = _resources("azurerm_role_definition")["backup_blobs"]
    permissions = _one(definition, "permissions")
    assert permissions["actions"] == []
    assert definition["assignable_scopes"] == ["${local.resource_group_id}"] == [definition["scope"]]
    # both custom roles (this one and native mode's) grant the one list of blob actions
    for name, custom in _resources("azurerm_role_definition").items():
        assert _one(custom, "permissions")["data_actions"] == "${local.blob_data_actions}", name
    assert sorted(_merged("locals")["blob_data_actions"]) == sorted(
        [f"{_BLOB}/read", f"{_BLOB}/write", f"{_BLOB}/add/action"]
    ), "no delete, no deleteBlobVersion, no wildcard"
    assignment = _resources("azurerm_role_assignment")["backup_blobs"]
    assert assignment["scope"] == "${azurerm_storage_container.backups.id}"
    assert assignment["role_definition_id"] == _BLOB_ROLE
    assert assignment["condition_version"] == "2.0"
    condition = assignment["condition"]
    for action in ("write", "add/action"):
        assert f"!(ActionMatches{{'{_BLOB}/{action}'}})" in condition, action
    assert "${local.writable_paths[each.key]}" in condition
    assert _merged("locals")["blob_path"] == f"@Resource[{_BLOB}:path]"
    for mode in ("native", "export"):
        values = _BASE_VALUES | _NATIVE_VALUES | {"backup_mode": mode}
        paths = console.evaluate(values, {"paths": "local.writable_paths"})["paths"]
        path = f"@Resource[{_BLOB}:path]"
        # backup: its blob, the record of its last success (BACKUP_URL + RECORD_SUFFIX) and the
        # readiness check's (BACKUP_URL + .last-verify.json)
        assert paths["backup"] == " OR ".join(
            f"{path} StringEquals 'aviatrix/controller-backup.enc{suffix}'"
            for suffix in ("", RECORD_SUFFIX, VERIFY_SUFFIX)
        )
        # restore: its markers (BACKUP_URL + ".restores/<key>.json"), and in native mode the fresh backup
        markers = f"{path} StringLike 'aviatrix/controller-backup.enc.restores/*'"
        fresh = f" OR {path} StringEquals 'aviatrix/controller-backup.enc'" if mode == "native" else ""
        assert paths["restore"] == markers + fresh, mode
    # the condition names the blob: the name may hold no quote or wildcard
    blob_name = _merged("variable")["backup_object_name"]
    assert "[A-Za-z0-9._/-]" in blob_name["validation"][0]["condition"]


def test_plan_refuses_a_blob_name_the_conditions_cannot_hold(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    for bad in ("it's.enc", "backups/*", "/lead.enc"):
        status, output = planner.plan(values | {"backup_object_name": bad})
        assert status != 0 and "backup_object_name must be 1-255 letters" in output, bad


# -- alerts ---------------------------------------------------------------------------------------


def test_alerts_count_the_real_functions(functions: dict[str, Any], console: helpers.LocalsConsole) -> None:
    names = _merged("locals")["functions"]
    assert set(names.values()) == set(functions)
    alert = _resources("azurerm_monitor_scheduled_query_rules_alert_v2")
    assert list(alert) == ["this"] and alert["this"]["for_each"] == "${local.alerts}"
    alerts = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"alerts": "local.alerts"})["alerts"]
    assert set(alerts) == {"failures", "no_recent_backup", "copy_failed", "verify_failed", "no_recent_verify"}
    # what counts is the core's own success line, not an HTTP 200 (a preflight check answers 200 too);
    # an unchanged night is a success too (the core's log line for it)
    backup = alerts["no_recent_backup"]["query"]
    assert "ago(25h)" in backup and "requests" not in backup
    assert 'where message startswith "backup stored " or message startswith "backup unchanged"' in backup
    verify = alerts["no_recent_verify"]["query"]
    assert "ago(25h)" in verify and 'where message startswith "verify passed"\n' in verify
    # a failed copy or check: the core's ERROR line for each (contract: its first words)
    assert 'where message startswith "backup copy failed"' in alerts["copy_failed"]["query"]
    assert 'where message startswith "verify failed"' in alerts["verify_failed"]["query"]
    assert "success == false" in alerts["failures"]["query"]
    assert all(f'"{name}"' in alerts["failures"]["query"] for name in functions)
    assert {key for key, a in alerts.items() if a["missing"]} == {"no_recent_backup", "no_recent_verify"}
    criteria = _one(alert["this"], "criteria")
    assert criteria["operator"] == '${each.value.missing ? "LessThan" : "GreaterThan"}'
    assert criteria["threshold"] == "${each.value.missing ? 1 : 0}"
    group = "${azurerm_monitor_action_group.alerts.id}"
    assert _one(alert["this"], "action")["action_groups"] == [group]
    assert alert["this"]["scopes"] == ["${azurerm_application_insights.this.id}"]
    receiver = _one(_resources("azurerm_monitor_action_group")["alerts"], "email_receiver")
    assert receiver["email_address"] == "${var.alert_email}"
    # both apps send their telemetry to the one component the alerts watch
    assert (
        _one(_resources("azurerm_function_app_flex_consumption")["app"], "site_config")[
            "application_insights_connection_string"
        ]
        == "${azurerm_application_insights.this.connection_string}"
    )


# -- the replacement-controller route -------------------------------------------------------------


def test_event_route_matches_the_code(function_app: ModuleType, functions: dict[str, Any]) -> None:
    import replacement_vm

    queue = _resources("azurerm_storage_queue")["replacements"]
    assert _merged("locals")["replacement_queue"] == function_app.REPLACEMENT_QUEUE
    binding = json.loads(functions["replacement_controller"].get_function_json())["bindings"][0]
    assert (
        binding["queueName"] == function_app.REPLACEMENT_QUEUE
        and queue["name"] == "${local.replacement_queue}"
    )
    topic = _resources("azurerm_eventgrid_system_topic")["controller_group"]
    assert topic["topic_type"] == "Microsoft.Resources.ResourceGroups"
    subscription = _resources("azurerm_eventgrid_system_topic_event_subscription")["replacement_vm"]
    assert set(subscription["included_event_types"]) == set(replacement_vm.EVENT_TYPES)
    string_in = _one(_one(subscription, "advanced_filter"), "string_in")
    assert string_in["key"] == "data.operationName"
    assert set(string_in["values"]) == set(replacement_vm.OPERATIONS)
    endpoint = _one(subscription, "storage_queue_endpoint")
    assert endpoint["queue_name"] == "${azurerm_storage_queue.replacements[0].name}"
    # the queue lives in the restore app's host account: its AzureWebJobsStorage connection
    restore_host = '${azurerm_storage_account.host["restore"].id}'
    assert endpoint["storage_account_id"] == queue["storage_account_id"] == restore_host
    assert _one(subscription, "delivery_identity")["type"] == "SystemAssigned"


def test_example_uses_the_module() -> None:
    example = helpers.load_file(EXAMPLE / "main.tf")
    module = example["module"][0]["controller_backup"]
    assert module["source"] == "../.."
    required = {name for name, spec in _merged("variable").items() if "default" not in spec}
    assert "controller_password" in required
    assert required <= set(module), f"the example misses {required - set(module)}"


# -- native mode ----------------------------------------------------------------------------------

_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_GUID = "6e1f3b8a-2c4d-4f5e-9a7b-0c1d2e3f4a5b"
#: what native mode cannot run without, on Azure
_NATIVE_REQUIRED = (
    "controller_private_ip",
    "native_account_name",
    "native_storage_account_id",
    "native_container_name",
    "native_region",
    "native_arm_subscription_id",
    "native_arm_directory_id",
    "native_arm_client_id",
    "native_arm_client_secret",
)
#: the module's required inputs, for a plan of its variables alone
_BASE_VALUES = {
    "name": "avxctlbk01",
    "resource_group_name": "rg-controller-backup",
    "location": "westeurope",
    "controller_url": "https://10.0.1.25",
    "controller_password": "not-a-real-password",
    "alert_email": "ops@example.com",
}
_NATIVE_VALUES = {
    "controller_private_ip": "10.0.1.25",
    "native_account_name": "backup-account",
    "native_storage_account_id": (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aviatrix-controller"
        "/providers/Microsoft.Storage/storageAccounts/avxctlbackups"
    ),
    "native_container_name": "controller-backups",
    "native_region": "westeurope",
    "native_arm_subscription_id": _GUID,
    "native_arm_directory_id": _GUID,
    "native_arm_client_id": _GUID,
    "native_arm_client_secret": "not-a-real-secret",
}


def _env_keys(expression: str | dict[str, str]) -> set[str]:
    """The setting names a map expression (or a plain map) assigns."""
    if isinstance(expression, dict):
        return set(expression)
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def _host_timeout_seconds() -> int:
    host = json.loads((ROOT / "functions" / "azure" / "host.json").read_text())
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    return hours * 3600 + minutes * 60 + seconds


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> helpers.VariablePlanner:
    return helpers.VariablePlanner(MODULE, tmp_path_factory.mktemp("azure-variables"))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> helpers.LocalsConsole:
    files = ("main.tf", "keyvault.tf", "monitoring.tf")
    return helpers.LocalsConsole(MODULE, tmp_path_factory.mktemp("azure-locals"), files)


def test_native_mode_is_the_default_and_export_is_opt_in() -> None:
    mode = _merged("variable")["backup_mode"]
    assert mode["default"] == "native"
    assert 'contains(["export", "native"], var.backup_mode)' in mode["validation"][0]["condition"]
    assert "a controller, proxy or emulator that serves export_config" in mode["description"]
    assert _merged("locals")["native_enabled"] == '${var.backup_mode == "native"}'
    # the mode reaches the app explicitly in both modes (the core's own default is native)
    assert _app_settings()["CONTROLLER_BACKUP_MODE"] == "var.backup_mode"
    native = {
        ("azurerm_role_definition", "native_files"),
        ("azurerm_role_assignment", "native_files"),
        ("azurerm_role_assignment", "native_files_reader"),
    }
    for kind, name in native:
        assert _resources(kind)[name]["count"] == NATIVE_COUNT, f"{kind}.{name} exists in export mode"
    gated = {
        (kind, name)
        for kind in ("azurerm_role_definition", "azurerm_role_assignment", "azurerm_key_vault_secret")
        for name, body in _resources(kind).items()
        if body.get("count") == NATIVE_COUNT
    }
    assert gated == native
    settings = _merged("locals")["native_app_settings"]
    assert settings.startswith("${local.native_enabled ? {") and settings.endswith("} : {}}")
    # no export-mode role touches the controller's storage
    for body in _resources("azurerm_role_assignment").values():
        if body.get("count") != NATIVE_COUNT:
            assert "native" not in body["scope"], body["scope"]


def test_native_settings_reach_every_function() -> None:
    """Both apps get the common settings (native ones included); the customer id only restore."""
    app_settings = _resources("azurerm_function_app_flex_consumption")["app"]["app_settings"]
    assert app_settings.startswith("${merge(") and "local.common_app_settings" in app_settings
    common = _merged("locals")["common_app_settings"]
    for part in ("local.native_app_settings", "var.controller_ca_bundle", "var.controller_tls_server_name"):
        assert part in common, part
    assert "local.customer_id_app_settings" in _merged("locals")["restore_app_settings"]
    assert "customer_id" not in common and "customer_id" not in _merged("locals")["backup_app_settings"]


def test_native_settings_are_the_ones_the_core_reads_for_an_azure_controller() -> None:
    from controller_backup.settings import Settings

    settings = _merged("locals")["native_app_settings"]
    keys = _env_keys(settings)
    required = {
        "CONTROLLER_PRIVATE_IP",
        "NATIVE_CLOUD_TYPE",
        "NATIVE_ACCOUNT_NAME",
        "NATIVE_BUCKET_URL",
        "NATIVE_REGION",
        "NATIVE_ARM_SUBSCRIPTION_ID",
        "NATIVE_ARM_DIRECTORY_ID",
        "NATIVE_ARM_CLIENT_ID",
        "NATIVE_ARM_CLIENT_SECRET",
    }
    assert required | {"NATIVE_BACKUP_WAIT"} == keys
    sample = {
        "CONTROLLER_BACKUP_MODE": "native",
        "CONTROLLER_PRIVATE_IP": "10.0.1.25",
        "NATIVE_CLOUD_TYPE": "azure",
        "NATIVE_ACCOUNT_NAME": "backup-account",
        "NATIVE_BUCKET_URL": "azblob://avxctlbackups/controller-backups",
        "NATIVE_REGION": "westeurope",
        "NATIVE_ARM_SUBSCRIPTION_ID": _GUID,
        "NATIVE_ARM_DIRECTORY_ID": _GUID,
        "NATIVE_ARM_CLIENT_ID": _GUID,
        "NATIVE_ARM_CLIENT_SECRET": "azure-kv:vault/native-arm-client-secret",
    }
    base = {"CONTROLLER_URL": "https://c", "CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "azblob://a/b/c"}
    parsed = Settings.from_env(base | sample)  # raises if the module misses one the core needs
    assert parsed.native_bucket.params == {
        "storage_name": "avxctlbackups",
        "container_name": "controller-backups",
    }
    assert 'NATIVE_CLOUD_TYPE = "azure"' in settings
    assert 'NATIVE_BUCKET_URL = "azblob://${local.native_storage_account}/' in settings
    # the secret is a reference to the module's vault, never a value
    assert (
        'NATIVE_ARM_CLIENT_SECRET = "azure-kv:${azurerm_key_vault.this.name}/${local.native_secret_name}"'
        in settings
    )
    assert "var.native_arm_client_secret" not in settings
    assert _merged("locals")["native_storage_account"] == '${try(local.native_account_id_parts[8], "-")}'
    assert _env_keys(_merged("locals")["max_age_app_settings"]) == {"RESTORE_MAX_BACKUP_AGE"}


def test_native_container_role_reads_and_writes_only_cloudn_blobs() -> None:
    definition = _resources("azurerm_role_definition")["native_files"]
    permissions = _one(definition, "permissions")
    assert permissions["actions"] == [], "no control-plane action: no container delete or change"
    # read and write blobs only: no delete, no wildcard (test_no_identity_may_delete_a_blob_...)
    assert permissions["data_actions"] == "${local.blob_data_actions}"
    assert not permissions.get("not_actions") and not permissions.get("not_data_actions")
    assert definition["assignable_scopes"] == ["${local.native_resource_group_id}"] == [definition["scope"]]
    assignment = _resources("azurerm_role_assignment")["native_files"]
    assert assignment["principal_id"] == RESTORE_PRINCIPAL, "only the restore writes the controller's files"
    reader = _resources("azurerm_role_assignment")["native_files_reader"]
    assert reader["principal_id"] == BACKUP_PRINCIPAL
    assert reader["role_definition_name"] == "Storage Blob Data Reader"
    assert reader["scope"] == assignment["scope"]
    assert reader["condition"] == assignment["condition"] == "${local.native_files_condition}"
    assert reader["condition_version"] == "2.0"
    assert (
        assignment["role_definition_id"]
        == "${azurerm_role_definition.native_files[0].role_definition_resource_id}"
    )
    # on the one container, not the account or the resource group
    assert assignment["scope"] == "${local.native_container_id}"
    container_id = _merged("locals")["native_container_id"]
    assert container_id == (
        '${coalesce(var.native_storage_account_id, "-")}/blobServices/default/containers/'
        '${coalesce(var.native_container_name, "-")}'
    )
    # every data action of the role is limited by the condition to the controller's files
    assert assignment["condition_version"] == "2.0"
    condition = _merged("locals")["native_files_condition"]
    for action in _merged("locals")["blob_data_actions"]:
        assert f"!(ActionMatches{{'{action}'}}" in condition, f"{action} is not limited to CloudN_* blobs"
    assert f"@Resource[{_BLOB}:path] StringLike 'CloudN_*'" in condition
    assert f"@Request[{_BLOB}:prefix] StringStartsWith 'CloudN_'" in condition
    assert condition.count("StringLike") + condition.count("StringStartsWith") == 2


def test_native_waits_fit_the_function_timeout(console: helpers.LocalsConsole) -> None:
    timeout = _host_timeout_seconds()
    limit = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"limit": "local.restore_time_limit"})["limit"]
    assert 840 <= limit <= timeout - 60, "RESTORE_TIME_LIMIT must end the restore before the host does"
    wait = _merged("variable")["native_backup_wait_seconds"]
    assert wait["default"] == 300
    maximum = int(re.search(r"<= (\d+)", wait["validation"][0]["condition"]).group(1))  # type: ignore[union-attr]
    assert maximum <= timeout - 300


@pytest.mark.parametrize("name", _NATIVE_REQUIRED)
def test_each_input_native_mode_needs_has_a_validation_naming_it(name: str) -> None:
    helpers.assert_native_mode_rule(_merged("variable"), name)


def test_plan_without_native_inputs_fails_naming_each_one(planner: helpers.VariablePlanner) -> None:
    # one missing input (the write-only secret): only that one is named
    helpers.assert_plan_names_missing_native_inputs(
        planner, _BASE_VALUES, _NATIVE_VALUES, _NATIVE_REQUIRED, "native_arm_client_secret"
    )


def test_plan_passes_with_the_native_inputs_or_in_export_mode(planner: helpers.VariablePlanner) -> None:
    helpers.assert_plan_passes_native_or_export(planner, _BASE_VALUES, _NATIVE_VALUES)


def test_native_variables_are_described_and_validated() -> None:
    variables = _merged("variable")
    native = [
        n
        for n in variables
        if n.startswith("native_") or n in ("backup_mode", "controller_private_ip", "restore_max_backup_age")
    ]
    assert len(native) == 13
    for name in native:
        assert variables[name].get("description"), name
        assert variables[name].get("validation"), f"variable {name} has no validation"
    readme = (MODULE / "README.md").read_text()
    documented = [
        *native,
        "create_customer_id_secret",
        "controller_customer_id",
        "subnet_id",
        "controller_ca_bundle",
    ]
    missing = [name for name in documented if f"`{name}`" not in readme]
    assert missing == [], f"README.md does not document {missing}"


# -- the customer id (BYOL) -----------------------------------------------------------------------


def test_the_customer_id_is_optional_and_reaches_only_the_restore_app_as_a_reference() -> None:
    assert _merged("variable")["create_customer_id_secret"]["default"] is False
    # the app gets a reference to that secret, never the value
    settings = _merged("locals")["customer_id_app_settings"]
    assert settings.startswith("${var.create_customer_id_secret ? {") and settings.endswith("} : {}}")
    assert (
        'CONTROLLER_CUSTOMER_ID = "azure-kv:${azurerm_key_vault.this.name}/${local.customer_id_secret}"'
        in settings
    )


def test_plan_checks_the_customer_id_goes_with_its_secret(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    status, output = planner.plan(values | {"create_customer_id_secret": True})
    assert (
        status != 0 and "controller_customer_id is required with create_customer_id_secret = true" in output
    )
    status, output = planner.plan(values | {"controller_customer_id": "CUSTOMER-1"})
    assert status != 0 and "controller_customer_id needs create_customer_id_secret = true" in output
    status, output = planner.plan(
        values | {"create_customer_id_secret": True, "controller_customer_id": "C-1"}
    )
    assert status == 0, output


# -- the example: what a real deployment needs -----------------------------------------------------


def _example() -> dict[str, list[Any]]:
    return _module(EXAMPLE)


def _example_call() -> dict[str, Any]:
    return dict(_example()["module"][0]["controller_backup"])


def _example_variables() -> dict[str, dict[str, Any]]:
    return {name: body for block in _example()["variable"] for name, body in block.items()}


def test_example_runs_native_mode_with_every_input_it_needs() -> None:
    call = _example_call()
    helpers.assert_example_runs_native_mode(call, _merged("variable"), _NATIVE_REQUIRED)
    # the controller's own storage account, found by name: its id and its region
    assert call["native_storage_account_id"] == "${data.azurerm_storage_account.controller.id}"
    assert call["native_region"] == "${data.azurerm_storage_account.controller.location}"
    assert call["native_container_name"] == "${var.controller_container_name}"
    assert call["native_account_name"] == "${var.controller_account_name}"
    assert call["native_arm_client_secret"] == "${var.native_arm_client_secret}"
    secret = _example_variables()["native_arm_client_secret"]
    assert secret["ephemeral"] is True and secret["sensitive"] is True


def test_example_pins_the_controllers_certificate_and_calls_its_private_address() -> None:
    call = _example_call()
    helpers.assert_example_pins_the_certificate(call)
    assert call["controller_url"] == "https://${var.controller_private_ip}"
    for name in ("controller_private_ip", "controller_ca_bundle", "controller_storage_account_name"):
        assert "default" not in _example_variables()[name], name


def test_example_integrates_the_app_with_the_controllers_vnet_and_opens_443() -> None:
    call = _example_call()
    assert call["subnet_id"] == "${azurerm_subnet.functions.id}"
    subnet = helpers.resources(_example(), "azurerm_subnet")["functions"]
    assert subnet["virtual_network_name"] == "${var.controller_vnet_name}"
    assert "_" not in subnet["name"], "Flex Consumption refuses an integration subnet name with '_'"
    delegation = _one(_one(subnet, "delegation"), "service_delegation")
    assert delegation["name"] == "Microsoft.App/environments", (
        "Flex Consumption's VNet integration delegation"
    )
    rule = helpers.resources(_example(), "azurerm_network_security_rule")["controller_from_functions"]
    assert rule["network_security_group_name"] == "${var.controller_nsg_name}"
    assert (rule["direction"], rule["access"], rule["protocol"]) == ("Inbound", "Allow", "Tcp")
    assert rule["destination_port_range"] == "443"
    assert rule["source_address_prefixes"] == "${azurerm_subnet.functions.address_prefixes}"
    assert rule["destination_address_prefix"] == "${var.controller_private_ip}"


# -- the replacement and restore-target settings ---------------------------------------------------

_OLD_SETTINGS = ("REPLACEMENT_CONTROLLER_URL", "REPLACEMENT_VM_TAG", "CONTROLLER_ALLOW_HTTP")


def test_only_the_restore_app_gets_the_replacement_settings() -> None:
    restore = _merged("locals")["restore_app_settings"]
    assert _env_keys(restore) == {
        "CONTROLLER_READY_TIMEOUT",
        "RESTORE_TIME_LIMIT",
        "REPLACEMENT_URL",
        "RESTORE_ALLOWED_TARGETS",
        "REPLACEMENT_TAG",
        "REPLACEMENT_NAME_PATTERN",
        "REPLACEMENT_RESOURCE_GROUPS",
    }
    assert "{REPLACEMENT_RESOURCE_GROUPS = var.controller_resource_group_id}" in restore
    assert "REPLACEMENT_URL = var.replacement_url" in restore
    assert 'RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)' in restore
    assert "{REPLACEMENT_TAG = var.replacement_tag}" in restore
    assert "{REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern}" in restore
    for other in ("common_app_settings", "backup_app_settings"):
        shared = _env_keys(_merged("locals")[other]) & _env_keys(restore)
        assert shared <= {"CONTROLLER_READY_TIMEOUT"}, other  # each app its own value of that one
    variables = _merged("variable")
    assert variables["restore_allowed_targets"]["default"] == []
    assert variables["replacement_url"]["default"] == "https://{private_ip}"


#: inputs and outputs renamed to the name the other clouds' modules use for the same thing (the
#: provider's own maximum_instance_count argument stays, so it is not listed)
_RENAMED = (
    "name_prefix",
    "min_size_ratio",
    "backup_blob_name",
    "backup_schedule",
    "replacement_controller_url",
    "replacement_vm_tag",
    "function_principal_ids",
)


def test_the_old_settings_are_gone_everywhere() -> None:
    old_names = ("function_app_name", "function_app_hostname", "function_principal_id", "host_account_name")
    helpers.assert_old_names_gone(helpers.module_texts(MODULE), _OLD_SETTINGS, old_names)


def test_the_renamed_inputs_are_gone_everywhere() -> None:
    helpers.assert_renamed_gone(MODULE, _RENAMED)


def test_plan_needs_a_tag_or_a_name_pattern_for_the_event_route(planner: helpers.VariablePlanner) -> None:
    group = {"controller_resource_group_id": "/subscriptions/s/resourceGroups/rg"}
    values = _BASE_VALUES | _NATIVE_VALUES | group
    status, output = planner.plan(values | {"replacement_tag": None})
    assert status != 0 and "The replacement-VM event route (controller_resource_group_id) needs" in output
    for passing in (
        {"replacement_tag": None, "replacement_name_pattern": "avx-controller*"},
        {"replacement_tag": None, "controller_resource_group_id": None},
        {},
    ):
        status, output = planner.plan(values | passing)
        assert status == 0, (passing, output)
    status, output = planner.plan(values | {"replacement_tag": "no-equals-sign"})
    assert status != 0 and "replacement_tag must be NAME=VALUE" in output


def test_plan_checks_the_replacement_url_and_the_allowed_targets(planner: helpers.VariablePlanner) -> None:
    helpers.assert_plan_checks_replacement_url_and_targets(
        planner, _BASE_VALUES | _NATIVE_VALUES, ("http://{private_ip}", "https://controller.example.com")
    )


def test_max_instance_count_limits_each_app(planner: helpers.VariablePlanner) -> None:
    app = _resources("azurerm_function_app_flex_consumption")["app"]
    assert app["maximum_instance_count"] == "${var.max_instance_count}"
    assert _merged("variable")["max_instance_count"]["default"] == 40
    for bad in (0, 1001, 2.5):
        status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"max_instance_count": bad})
        assert status != 0 and "max_instance_count must be a whole number between 1 and 1000" in output, bad


def test_plan_refuses_a_soft_delete_window_shorter_than_a_week(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"soft_delete_days": 1})
    assert status != 0 and "soft_delete_days must be between 7 and 365" in output


def test_an_existing_deployment_moves_to_the_for_each_addresses() -> None:
    """The secrets and their readers had a block each; `moved` blocks take them to the for_each
    instances, so an existing deployment is updated in place, never destroyed and recreated."""
    secret, reader = "azurerm_key_vault_secret", "azurerm_role_assignment"
    alert = "azurerm_monitor_scheduled_query_rules_alert_v2"
    secrets = {"controller_password": "", "controller_customer_id": "[0]", "native_arm_client_secret": "[0]"}
    readers = {
        'controller_password["backup"]': "controller_password_backup",
        'controller_password["restore"]': "controller_password_restore",
        "controller_customer_id[0]": "controller_customer_id_restore",
        "native_arm_client_secret[0]": "native_arm_client_secret_restore",
    }
    assert helpers.moves(_module()) == {
        **{f"{secret}.{name}{index}": f'{secret}.this["{name}"]' for name, index in secrets.items()},
        **{f"{reader}.{old}": f'{reader}.secret_reader["{key}"]' for old, key in readers.items()},
        **{f"{alert}.{name}": f'{alert}.this["{name}"]' for name in ("failures", "no_recent_backup")},
    }
    assert helpers.moved_problems(_module()) == []


# -- issue 13: copies, the readiness check, locked retention ------------------------------------


def test_copies_reach_both_apps_and_only_when_configured(console: helpers.LocalsConsole) -> None:
    settings = console.evaluate(_BASE_VALUES | _NATIVE_VALUES | _COPIES, {"s": "local.common_app_settings"})[
        "s"
    ]
    assert settings["BACKUP_COPY_URLS"] == ",".join(_COPIES["copy_urls"])
    assert json.loads(settings["BACKUP_COPY_CREDENTIALS"]) == _COPIES["copy_credentials"]
    plain = console.evaluate(_BASE_VALUES | _NATIVE_VALUES, {"s": "local.common_app_settings"})["s"]
    assert not {"BACKUP_COPY_URLS", "BACKUP_COPY_CREDENTIALS"} & set(plain)


def test_the_readiness_check_has_its_own_timer_on_the_backup_app() -> None:
    settings = _app_settings("backup")
    assert settings["VERIFY_SCHEDULE"] == "var.verify_schedule"
    assert "VERIFY_SCHEDULE" not in _app_settings("restore")
    assert _merged("variable")["verify_schedule"]["default"] == "0 0 6 * * *"


def test_plan_checks_the_copies_and_the_readiness_schedule(planner: helpers.VariablePlanner) -> None:
    values = _BASE_VALUES | _NATIVE_VALUES
    status, output = planner.plan(values | _COPIES | {"verify_schedule": "0 0 6 * * *"})
    assert status == 0, output
    helpers.assert_plan_refuses(
        planner,
        values,
        (
            ({"verify_schedule": "0 6 * * *"}, "verify_schedule needs six NCRONTAB fields"),
            ({"copy_urls": ["gs://a/b,gs://c/d"]}, "copy_urls must be store URLs"),
            (
                {"copy_credentials": {"gs://elsewhere/k": "env:KEY"}},
                "copy_credentials must name only URLs of copy_urls",
            ),
            (
                {"copy_urls": ["gs://a/b"], "copy_credentials": {"gs://a/b": "aws-sm:key"}},
                "copy_credentials must be secret references this cloud resolves",
            ),
            ({"immutability_days": 0}, "immutability_days must be a whole number from 1 to 146000"),
        ),
    )


def test_locked_retention_is_version_level_immutability_that_no_identity_can_lift() -> None:
    account = _resources("azurerm_storage_account")["backup"]
    policy = _one(account, "dynamic")["immutability_policy"]
    assert policy["for_each"] == "${var.immutability_days == null ? [] : [var.immutability_days]}"
    content = _one(policy, "content")
    assert content["period_since_creation_in_days"] == "${immutability_policy.value}"
    assert content["state"] == '${var.immutability_locked ? "Locked" : "Unlocked"}'
    assert content["allow_protected_append_writes"] is False
    # version-level immutability needs versioning, which keeps every replaced backup
    assert _one(account, "blob_properties")["versioning_enabled"] is True
    assert _merged("variable")["immutability_days"]["default"] is None
    assert _merged("variable")["immutability_locked"]["default"] is False
    # no plan may replace the account (adding the policy to an existing one would)
    assert _one(account, "lifecycle")["prevent_destroy"] is True
    # the apps' identities hold no control-plane role on the account (no policy change, no
    # delete), and their blob role neither deletes nor touches immutability
    for name, custom in _resources("azurerm_role_definition").items():
        permissions = _one(custom, "permissions")
        assert permissions["actions"] == [], name
    for action in _merged("locals")["blob_data_actions"]:
        assert "delete" not in action.lower() and "immutab" not in action.lower(), action
