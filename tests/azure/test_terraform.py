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
NATIVE_COUNT = "${local.native_enabled ? 1 : 0}"


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
        if ra["principal_id"] == FUNCTION_PRINCIPAL and ra.get("count") != NATIVE_COUNT
    ]
    assert len(function_roles) == 7  # the native-mode roles are checked below
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


# -- native mode ----------------------------------------------------------------------------------

_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def _env_keys(expression: str) -> set[str]:
    """The setting names a map expression assigns."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def _host_timeout_seconds() -> int:
    host = json.loads((ROOT / "functions" / "azure" / "host.json").read_text())
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_native_mode_is_off_by_default_and_everything_native_hangs_on_it() -> None:
    mode = _merged("variable")["backup_mode"]
    assert mode["default"] == "export"
    assert 'contains(["export", "native"], var.backup_mode)' in mode["validation"][0]["condition"]
    assert _merged("locals")["native_enabled"] == '${var.backup_mode == "native"}'
    native = {
        ("azurerm_role_definition", "native_files"),
        ("azurerm_role_assignment", "native_files"),
        ("azurerm_role_assignment", "native_arm_client_secret"),
        ("azurerm_key_vault_secret", "native_arm_client_secret"),
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
    app_settings = _resources("azurerm_function_app_flex_consumption")["app"]["app_settings"]
    assert "local.native_app_settings" in app_settings
    # no export-mode role touches the controller's storage
    for body in _resources("azurerm_role_assignment").values():
        if body.get("count") != NATIVE_COUNT:
            assert "native" not in body["scope"], body["scope"]


def test_native_settings_are_the_ones_the_core_reads_for_an_azure_controller() -> None:
    from controller_backup.settings import Settings

    settings = _merged("locals")["native_app_settings"]
    keys = _env_keys(settings)
    required = {
        "CONTROLLER_BACKUP_MODE",
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
    assert required | {"NATIVE_BACKUP_WAIT", "RESTORE_TIME_LIMIT"} == keys
    guid = "6e1f3b8a-2c4d-4f5e-9a7b-0c1d2e3f4a5b"
    sample = {
        "CONTROLLER_BACKUP_MODE": "native",
        "CONTROLLER_PRIVATE_IP": "10.0.1.25",
        "NATIVE_CLOUD_TYPE": "azure",
        "NATIVE_ACCOUNT_NAME": "backup-account",
        "NATIVE_BUCKET_URL": "azblob://avxctlbackups/controller-backups",
        "NATIVE_REGION": "westeurope",
        "NATIVE_ARM_SUBSCRIPTION_ID": guid,
        "NATIVE_ARM_DIRECTORY_ID": guid,
        "NATIVE_ARM_CLIENT_ID": guid,
        "NATIVE_ARM_CLIENT_SECRET": "azure-kv:vault/native-arm-client-secret",
    }
    base = {"CONTROLLER_URL": "https://c", "CONTROLLER_PASSWORD": "env:X", "BACKUP_URL": "azblob://a/b/c"}
    parsed = Settings.from_env(base | {key: sample[key] for key in required})  # raises if one is missing
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
    assert _merged("locals")["native_storage_account"] == '${try(local.native_account_id_parts[8], "-")}'
    assert _env_keys(_merged("locals")["max_age_app_settings"]) == {"RESTORE_MAX_BACKUP_AGE"}


def test_native_container_role_reads_and_writes_only_cloudn_blobs() -> None:
    definition = _resources("azurerm_role_definition")["native_files"]
    permissions = _one(definition, "permissions")
    assert permissions["actions"] == [], "no control-plane action: no container delete or change"
    assert sorted(permissions["data_actions"]) == sorted(
        [f"{_BLOB}/read", f"{_BLOB}/write", f"{_BLOB}/add/action"]
    ), "read and write blobs only: no delete, no wildcard"
    assert not permissions.get("not_actions") and not permissions.get("not_data_actions")
    assert definition["assignable_scopes"] == ["${local.native_resource_group_id}"] == [definition["scope"]]
    assignment = _resources("azurerm_role_assignment")["native_files"]
    assert assignment["principal_id"] == FUNCTION_PRINCIPAL
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
    condition = assignment["condition"]
    for action in permissions["data_actions"]:
        assert f"!(ActionMatches{{'{action}'}}" in condition, f"{action} is not limited to CloudN_* blobs"
    assert f"@Resource[{_BLOB}:path] StringLike 'CloudN_*'" in condition
    assert f"@Request[{_BLOB}:prefix] StringStartsWith 'CloudN_'" in condition
    assert condition.count("StringLike") + condition.count("StringStartsWith") == 2


def test_native_arm_secret_is_write_only_and_readable_on_its_own() -> None:
    secret = _resources("azurerm_key_vault_secret")["native_arm_client_secret"]
    assert "value" not in secret and secret["value_wo"] == "${var.native_arm_client_secret}"
    assert secret["value_wo_version"] == "${var.native_arm_client_secret_version}"
    assert secret["key_vault_id"] == "${azurerm_key_vault.this.id}"
    variable = _merged("variable")["native_arm_client_secret"]
    assert variable["sensitive"] is True and variable["ephemeral"] is True
    access = _resources("azurerm_role_assignment")["native_arm_client_secret"]
    assert access["role_definition_name"] == "Key Vault Secrets User"
    assert access["scope"] == (
        "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.native_arm_client_secret[0].name}"
    )
    assert access["principal_id"] == FUNCTION_PRINCIPAL


def test_native_waits_fit_the_function_timeout() -> None:
    timeout = _host_timeout_seconds()
    limit = int(_merged("locals")["restore_time_limit"])
    assert 840 <= limit <= timeout - 60, "RESTORE_TIME_LIMIT must end the restore before the host does"
    assert (
        "RESTORE_TIME_LIMIT = tostring(local.restore_time_limit)" in _merged("locals")["native_app_settings"]
    )
    wait = _merged("variable")["native_backup_wait_seconds"]
    assert wait["default"] == 300
    maximum = int(re.search(r"<= (\d+)", wait["validation"][0]["condition"]).group(1))  # type: ignore[union-attr]
    assert maximum <= timeout - 300


def test_native_mode_refuses_a_plan_without_its_settings() -> None:
    app = _resources("azurerm_function_app_flex_consumption")["app"]
    conditions = [p["condition"] for p in _one(app, "lifecycle")["precondition"]]
    assert all(c.startswith("${!local.native_enabled ||") for c in conditions), "export mode must pass"
    for name in (
        "controller_private_ip",
        "native_account_name",
        "native_storage_account_id",
        "native_container_name",
        "native_region",
        "native_arm_subscription_id",
        "native_arm_directory_id",
        "native_arm_client_id",
        "native_arm_client_secret",
    ):
        assert any(f"var.{name} != null" in c for c in conditions), name


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
        if name != "native_arm_client_secret":  # write-only: checked by the precondition
            assert variables[name].get("validation"), f"variable {name} has no validation"
    readme = (MODULE / "README.md").read_text()
    missing = [name for name in native if f"`{name}`" not in readme]
    assert missing == [], f"README.md does not document {missing}"


def test_example_shows_a_native_mode_block() -> None:
    text = (EXAMPLE / "main.tf").read_text()
    for line in (
        '# backup_mode                = "native"',
        "# native_storage_account_id",
        "# native_container_name",
        "# native_arm_client_secret   = var.native_arm_client_secret",
    ):
        assert line in text, line
