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

import pytest

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
        "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.controller_customer_id[0].name}": {
            "Key Vault Secrets User"
        },
    }
    function_roles = [
        (ra["scope"], ra["role_definition_name"])
        for ra in _resources("azurerm_role_assignment").values()
        if ra["principal_id"] == FUNCTION_PRINCIPAL and ra.get("count") != NATIVE_COUNT
    ]
    assert len(function_roles) == 8  # the native-mode roles are checked below
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
    # what counts is the core's own success line, not an HTTP 200 (a preflight check answers 200 too)
    assert "ago(25h)" in query and 'message startswith "backup stored "' in query
    assert "requests" not in query
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
    "name_prefix": "avxctlbk01",
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


def _env_keys(expression: str) -> set[str]:
    """The setting names a map expression assigns."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) = ", expression))


def _host_timeout_seconds() -> int:
    host = json.loads((ROOT / "functions" / "azure" / "host.json").read_text())
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    return hours * 3600 + minutes * 60 + seconds


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> helpers.VariablePlanner:
    return helpers.VariablePlanner(MODULE, tmp_path_factory.mktemp("azure-variables"))


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
    # no export-mode role touches the controller's storage
    for body in _resources("azurerm_role_assignment").values():
        if body.get("count") != NATIVE_COUNT:
            assert "native" not in body["scope"], body["scope"]


def test_native_settings_reach_every_function() -> None:
    """All four functions run in one app: its app settings are every function's environment."""
    app_settings = _resources("azurerm_function_app_flex_consumption")["app"]["app_settings"]
    assert app_settings.startswith("${merge(")
    for part in ("local.native_app_settings", "local.customer_id_app_settings", "var.controller_ca_bundle"):
        assert part in app_settings, part


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
    assert required | {"NATIVE_BACKUP_WAIT", "RESTORE_TIME_LIMIT"} == keys
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


@pytest.mark.parametrize("name", _NATIVE_REQUIRED)
def test_each_input_native_mode_needs_has_a_validation_naming_it(name: str) -> None:
    rules = _merged("variable")[name]["validation"]
    condition = f'var.backup_mode != "native" || var.{name} != null'
    rule = next((r for r in rules if condition in r["condition"]), None)
    assert rule is not None, f"{name}: no validation requires it in native mode"
    assert rule["error_message"].startswith(f"{name} is required in native mode")
    # and says what to do for a controller that serves export_config instead
    assert 'set backup_mode = "export"' in rule["error_message"]


def test_plan_without_native_inputs_fails_naming_each_one(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES)
    assert status != 0, output
    for name in _NATIVE_REQUIRED:
        assert f"{name} is required in native mode" in output, name
    # one missing input (the write-only secret): only that one is named
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES | {"native_arm_client_secret": None})
    assert status != 0
    assert "native_arm_client_secret is required in native mode" in output
    assert output.count("is required in native mode") == 1


def test_plan_passes_with_the_native_inputs_or_in_export_mode(planner: helpers.VariablePlanner) -> None:
    status, output = planner.plan(_BASE_VALUES | _NATIVE_VALUES)
    assert status == 0, output
    status, output = planner.plan(_BASE_VALUES | {"backup_mode": "export"})
    assert status == 0, output


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


def test_customer_id_is_write_only_optional_and_readable_on_its_own() -> None:
    secret = _resources("azurerm_key_vault_secret")["controller_customer_id"]
    assert secret["count"] == "${var.create_customer_id_secret ? 1 : 0}"
    assert "value" not in secret and secret["value_wo"] == "${var.controller_customer_id}"
    assert secret["value_wo_version"] == "${var.controller_customer_id_version}"
    assert secret["name"] == "${local.customer_id_secret}"
    variable = _merged("variable")["controller_customer_id"]
    assert variable["sensitive"] is True and variable["ephemeral"] is True
    assert _merged("variable")["create_customer_id_secret"]["default"] is False
    access = _resources("azurerm_role_assignment")["controller_customer_id"]
    assert access["count"] == "${var.create_customer_id_secret ? 1 : 0}"
    assert access["role_definition_name"] == "Key Vault Secrets User"
    assert access["scope"] == (
        "${azurerm_key_vault.this.id}/secrets/${azurerm_key_vault_secret.controller_customer_id[0].name}"
    )
    assert access["principal_id"] == FUNCTION_PRINCIPAL
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
    assert "backup_mode" not in call or call["backup_mode"] == "native"
    native_required = {
        name
        for name, variable in _merged("variable").items()
        for rule in variable.get("validation", [])
        if 'var.backup_mode != "native" ||' in rule["condition"]
        and f"var.{name} != null" in rule["condition"]
    }
    assert native_required == set(_NATIVE_REQUIRED)
    assert native_required <= set(call), f"the example misses {native_required - set(call)}"
    assert call["controller_private_ip"] == "${var.controller_private_ip}"
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
    assert call["controller_ca_bundle"] == "${var.controller_ca_bundle}"
    # the certificate may name the controller otherwise than the private IP the functions call
    assert call["controller_tls_server_name"] == "${var.controller_tls_server_name}"
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
