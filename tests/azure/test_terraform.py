"""The Azure Terraform module, checked offline: fmt, structure (python-hcl2) and checkov.

Structure checks tie the module to the code: the schedule app setting feeds the timer's
`%BACKUP_SCHEDULE%`, the alert queries count the functions the app really defines, the event
subscription sends exactly the events `replacement_vm` acts on into the queue the function reads,
and every role of the function's identity is scoped to this deployment's container, secret,
host account, queues, telemetry or the controller's resource group.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.terraform import helpers
from tests.terraform.helpers import ROOT, run_checkov, terraform_fmt_problems

MODULE = ROOT / "infra" / "terraform" / "azure"
EXAMPLE = MODULE / "examples" / "basic"
FUNCTION_PRINCIPAL = "${azurerm_function_app_flex_consumption.app.identity[0].principal_id}"


@cache
def _module(directory: Path = MODULE) -> dict[str, list[Any]]:
    return helpers.load_module(directory)


def _resources(type_name: str) -> dict[str, dict[str, Any]]:
    return helpers.resources(_module(), type_name)


def _merged(kind: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _module().get(kind, []):
        merged.update(block)
    return merged


def _one(block: dict[str, Any], name: str) -> dict[str, Any]:
    value = block[name]
    assert isinstance(value, list) and len(value) == 1, f"expected one {name} block"
    return dict(value[0])


def _app_settings() -> dict[str, str]:
    """NAME -> expression of the function's app settings (the literal maps inside merge(...))."""
    expression = _resources("azurerm_function_app_flex_consumption")["app"]["app_settings"]
    return dict(re.findall(r"(\w+) = (\"(?:[^\"\\]|\\.)*\"|[\w.()]+)", expression))


# -- formatting and tools -------------------------------------------------------------------------


def test_fmt_clean() -> None:
    assert terraform_fmt_problems(MODULE) == []


def test_checkov_finds_nothing_and_every_skip_has_a_reason() -> None:
    report = run_checkov(MODULE)
    assert report["passed"] > 20, "checkov scanned (almost) nothing"
    assert report["failed"] == [], [(f["check_id"], f["resource"]) for f in report["failed"]]
    for skipped in report["skipped"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason) > 30, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# -- the function app -----------------------------------------------------------------------------


def test_flex_consumption_python_with_system_identity() -> None:
    plan = _resources("azurerm_service_plan")["flex"]
    assert plan["sku_name"] == "FC1" and plan["os_type"] == "Linux"
    app = _resources("azurerm_function_app_flex_consumption")["app"]
    assert app["runtime_name"] == "python" and app["runtime_version"] == "3.12"
    assert _one(app, "identity")["type"] == "SystemAssigned"
    assert app["https_only"] is True and app["webdeploy_publish_basic_authentication_enabled"] is False
    assert app["storage_authentication_type"] == "SystemAssignedIdentity"
    # the host's account, never the backup account, carries the package and the host's state
    assert "azurerm_storage_account.host" in app["storage_container_endpoint"]
    assert _one(app, "site_config")["minimum_tls_version"] == "1.2"


def test_app_settings_feed_the_code(function_app: ModuleType, functions: dict[str, Any]) -> None:
    settings = _app_settings()
    assert settings["CONTROLLER_PASSWORD"].startswith('"azure-kv:${azurerm_key_vault.this.name}/')
    assert settings["BACKUP_URL"].startswith('"azblob://${azurerm_storage_account.backup.name}/')
    assert settings["BACKUP_SCHEDULE"] == "var.backup_schedule"
    assert settings["AzureWebJobsStorage__accountName"] == "azurerm_storage_account.host.name"
    assert settings["REPLACEMENT_CONTROLLER_URL"] == "var.replacement_controller_url"
    # the timer reads %BACKUP_SCHEDULE%; the default fires at midnight (UTC on Flex)
    timer = json.loads(functions["scheduled_backup"].get_function_json())["bindings"][0]
    assert timer["schedule"] == "%BACKUP_SCHEDULE%"
    schedule = _merged("variable")["backup_schedule"]["default"]
    assert schedule == "0 0 0 * * *" and len(schedule.split()) == 6
    # a restore's wait for the controller fits inside host.json's function timeout
    host = json.loads((ROOT / "functions" / "azure" / "host.json").read_text())
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    assert int(settings["CONTROLLER_READY_TIMEOUT"].strip('"')) < hours * 3600 + minutes * 60 + seconds


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
    assert _one(blob, "delete_retention_policy")["days"] == "${var.soft_delete_days}"
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


def test_key_vault_rbac_and_write_only_password() -> None:
    vault = _resources("azurerm_key_vault")["this"]
    assert vault["rbac_authorization_enabled"] is True and vault["purge_protection_enabled"] is True
    secret = _resources("azurerm_key_vault_secret")["controller_password"]
    assert "value" not in secret and secret["value_wo"] == "${var.controller_password}"
    password = _merged("variable")["controller_password"]
    assert password["sensitive"] is True and password["ephemeral"] is True


def test_function_roles_are_scoped_to_this_deployment() -> None:
    allowed = {
        "${azurerm_storage_container.backups.id}": {"Storage Blob Data Contributor"},
        "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.controller_password.name}": {
            "Key Vault Secrets User"
        },
        "${azurerm_storage_account.host.id}": {"Storage Blob Data Owner"},
        "${azurerm_application_insights.this.id}": {"Monitoring Metrics Publisher"},
        "${azurerm_storage_queue.replacements[0].id}": {"Storage Queue Data Contributor"},
        "${azurerm_storage_queue.replacements_poison[0].id}": {"Storage Queue Data Contributor"},
        "${var.controller_resource_group_id}": {"Reader"},
    }
    function_roles = [
        (ra["scope"], ra["role_definition_name"])
        for ra in _resources("azurerm_role_assignment").values()
        if ra["principal_id"] == FUNCTION_PRINCIPAL
    ]
    assert len(function_roles) == 7
    for scope, role in function_roles:
        assert role in allowed.get(scope, set()), f"{role} on {scope} is not least privilege"
    backup_scopes = [scope for scope, _ in function_roles if "storage_account.backup" in scope]
    assert backup_scopes == [], "no role on the whole backup account: the container is the limit"


# -- alerts ---------------------------------------------------------------------------------------


def test_alerts_count_the_real_functions(functions: dict[str, Any]) -> None:
    names = _merged("locals")["functions"]
    assert set(names.values()) == set(functions)
    alerts = _resources("azurerm_monitor_scheduled_query_rules_alert_v2")
    assert set(alerts) == {"failures", "no_recent_backup"}
    missing = alerts["no_recent_backup"]
    query = _one(missing, "criteria")["query"]
    assert "ago(25h)" in query and "success == true" in query
    assert "${local.functions.scheduled_backup}" in query and "${local.functions.backup}" in query
    criteria = _one(missing, "criteria")
    assert criteria["operator"] == "LessThan" and criteria["threshold"] == 1
    assert "success == false" in _one(alerts["failures"], "criteria")["query"]
    group = "${azurerm_monitor_action_group.alerts.id}"
    for alert in alerts.values():
        assert _one(alert, "action")["action_groups"] == [group]
        assert alert["scopes"] == ["${azurerm_application_insights.this.id}"]
    receiver = _one(_resources("azurerm_monitor_action_group")["alerts"], "email_receiver")
    assert receiver["email_address"] == "${var.alert_email}"


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
    assert _one(subscription, "delivery_identity")["type"] == "SystemAssigned"


def test_example_uses_the_module() -> None:
    example = helpers.load_file(EXAMPLE / "main.tf")
    module = example["module"][0]["controller_backup"]
    assert module["source"] == "../.."
    required = {name for name, spec in _merged("variable").items() if "default" not in spec}
    assert "controller_password" in required
    assert required <= set(module), f"the example misses {required - set(module)}"
