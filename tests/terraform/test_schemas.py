"""The schema check itself (tests/terraform/schema.py): it reports what Terraform would refuse.

The modules' own runs are in tests/azure and tests/gcp. Here a correct snippet proves the check
invents nothing, the same snippet with one mistake proves each kind of mistake is reported (with
file and path), and the pins prove the schemas read are the ones `make tools` installs, generated
from provider versions the modules allow.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.terraform import schema
from tests.terraform.helpers import ROOT, TERRAFORM_DIR, load_file

#: correct for azurerm 4.55.0 and google 6.50.0: the check must find nothing in it
GOOD = """
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.40, < 5.0"
    }
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}

provider "azurerm" {
  features {}
  storage_use_azuread = true
}

data "azurerm_client_config" "current" {}

resource "azurerm_storage_account" "a" {
  count                    = 1
  name                     = "acme"
  resource_group_name      = "rg"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 7
    }
  }

  identity {
    type = "SystemAssigned"
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_storage_bucket" "b" {
  name     = "acme"
  location = "EU"

  dynamic "encryption" {
    for_each = var.keys
    content {
      default_kms_key_name = encryption.value
    }
  }
}

variable "keys" {
  type = list(string)
}
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "main.tf").write_text(text)
    return [p.removeprefix(f"{tmp_path}/") for p in schema.check_module(tmp_path)]


def _changed(old: str, new: str) -> str:
    assert GOOD.count(old) == 1, old
    return GOOD.replace(old, new)


def test_a_correct_configuration_has_no_problems(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD) == []


_SA = "main.tf: azurerm_storage_account.a"
_GB = "main.tf: google_storage_bucket.b"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "account_tier             =",
            "acount_tier =",
            [
                f"{_SA}.acount_tier: unknown argument "
                "(did you mean account_tier, account_kind, access_tier?)",
                f"{_SA}: required argument 'account_tier' is missing",
            ],
            id="misspelled-argument",
        ),
        pytest.param(
            "      days = 7\n",
            "      days = 7\n      keep_forever {}\n",
            [f"{_SA}.blob_properties.delete_retention_policy.keep_forever: unknown block"],
            id="unknown-nested-block",
        ),
        pytest.param(
            'resource "azurerm_storage_account" "a"',
            'resource "azurerm_storage_acount" "a"',
            [
                "main.tf: azurerm_storage_acount.a: unknown resource type in azurerm 4.55.0 "
                "(did you mean azurerm_storage_account, azurerm_storage_container, azurerm_storage_sync?)"
            ],
            id="unknown-resource-type",
        ),
        pytest.param(
            'data "azurerm_client_config"',
            'data "azurerm_client_configuration"',
            [
                "main.tf: data.azurerm_client_configuration.current: unknown data source in azurerm "
                "4.55.0 (did you mean azurerm_client_config, azurerm_nginx_configuration, "
                "azurerm_app_configuration?)"
            ],
            id="unknown-data-source",
        ),
        pytest.param(
            '  identity {\n    type = "SystemAssigned"\n  }\n',
            '  identity = { type = "SystemAssigned" }\n',
            [f"{_SA}.identity: is a block, written as an argument"],
            id="block-written-as-argument",
        ),
        pytest.param(
            '  identity {\n    type = "SystemAssigned"\n  }\n',
            '  identity {\n    type = "SystemAssigned"\n  }\n  identity {\n    type = "UserAssigned"\n  }\n',
            [f"{_SA}.identity: written 2 times, the schema allows one block"],
            id="single-block-twice",
        ),
        pytest.param(
            '  location = "EU"\n',
            '  location = "EU"\n  labels {\n    a = "b"\n  }\n',
            [f"{_GB}.labels: is an argument, written as a block"],
            id="argument-written-as-block",
        ),
        pytest.param(
            "default_kms_key_name = encryption.value",
            "kms_key_name = encryption.value",
            [
                f"{_GB}.dynamic.encryption.content.kms_key_name: unknown argument "
                "(did you mean default_kms_key_name?)",
                f"{_GB}.dynamic.encryption.content: required argument 'default_kms_key_name' is missing",
            ],
            id="dynamic-content",
        ),
        pytest.param(
            'dynamic "encryption"',
            'dynamic "encryptions"',
            [f"{_GB}.dynamic.encryptions: unknown block (did you mean encryption?)"],
            id="unknown-dynamic-block",
        ),
        pytest.param(
            "  features {}\n",
            "  feature {}\n",
            # azurerm itself insists on `features` when configured: its schema does not
            ["main.tf: provider.azurerm.feature: unknown block (did you mean features?)"],
            id="provider-block",
        ),
        pytest.param(
            'version = ">= 4.40, < 5.0"',
            'version = ">= 4.60, < 5.0"',
            [
                ": terraform.required_providers.azurerm: '>= 4.60, < 5.0' excludes azurerm 4.55.0, the "
                "version of the schema checked: pin a binding generated from an allowed version "
                "(tests/terraform/schema.py)"
            ],
            id="constraint-excludes-the-schema",
        ),
        pytest.param(
            'resource "google_storage_bucket" "b" {',
            'resource "aws_s3_bucket" "c" {\n  bucket = "acme"\n}\n\nresource "google_storage_bucket" "b" {',
            ["main.tf: aws_s3_bucket.c: no schema for provider 'aws' (known: azurerm, google)"],
            id="provider-without-schema",
        ),
        pytest.param(
            'variable "keys" {',
            'ephemeral "random_password" "p" {}\n\nvariable "keys" {',
            ["main.tf: ephemeral: a kind of block this check does not cover: extend it"],
            id="uncovered-block-kind",
        ),
    ],
)
def test_each_kind_of_mistake_is_reported(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    problems = _problems(tmp_path, _changed(old, new))
    # the directory itself is named by its full path: compare what follows it
    assert [re.sub(r"^/\S+(?=: terraform\.)", "", p) for p in problems] == expected


def test_a_module_call_passes_only_the_modules_variables(tmp_path: Path) -> None:
    child = tmp_path / "child"
    child.mkdir()
    (child / "variables.tf").write_text(
        'variable "name" {\n  type = string\n}\n\nvariable "size" {\n  type    = number\n  default = 1\n}\n'
    )
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "main.tf").write_text('module "m" {\n  source = "../child"\n  sise   = 2\n}\n')
    problems = [p.replace(str(tmp_path), "") for p in schema.check_module(caller)]
    assert problems == [
        "/caller/main.tf: module.m.sise: not a variable of /child (did you mean size?)",
        "/caller/main.tf: module.m: required variable 'name' of /child is missing",
    ]


@pytest.mark.parametrize(
    ("version", "constraint", "ok"),
    [
        ("4.55.0", ">= 4.40, < 5.0", True),
        ("4.39.9", ">= 4.40, < 5.0", False),
        ("5.0.0", ">= 4.40, < 5.0", False),
        ("6.50.0", ">= 6.0", True),
        ("6.50.0", "~> 6.1", True),
        ("7.0.0", "~> 6.1", False),
        ("6.50.0", "~> 6.49.0", False),
        ("6.49.3", "~> 6.49.0", True),
        ("6.50.0", "6.50.0", True),
        ("6.50.0", "!= 6.50.0", False),
    ],
)
def test_version_constraints_read_as_terraform_reads_them(version: str, constraint: str, ok: bool) -> None:
    assert schema.satisfies(version, constraint) is ok


def test_the_makefile_installs_the_pinned_bindings() -> None:
    """`make tools` and the check name the same package versions: a bump in one fails here."""
    match = re.search(r"^CDKTF_BINDINGS := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "no CDKTF_BINDINGS in the Makefile"
    assert sorted(match[1].split()) == sorted(
        f"{b.package.removeprefix('@cdktf/')}@{b.version}" for b in schema.BINDINGS.values()
    )


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_the_schemas_provider_versions_are_the_ones_the_modules_allow(cloud: str) -> None:
    """Each module and example requires its provider with a constraint the schema's version meets."""
    for directory in (TERRAFORM_DIR / cloud, TERRAFORM_DIR / cloud / "examples" / "basic"):
        versions = load_file(directory / ("versions.tf" if directory.name == cloud else "main.tf"))
        required = versions["terraform"][0]["required_providers"][0]
        (local,) = set(required) & set(schema.BINDINGS)
        assert schema.satisfies(schema.BINDINGS[local].provider_version, required[local]["version"])


def test_a_binding_from_another_provider_version_is_refused(tmp_path: Path) -> None:
    binding = schema.BINDINGS["azurerm"]
    package = json.loads((binding.directory / "package.json").read_text())
    package["cdktf"]["provider"]["version"] = "4.39.0"
    (tmp_path / "package.json").write_text(json.dumps(package))
    with pytest.raises(AssertionError, match=r"generated from .*4\.39\.0"):
        schema.read_schema("azurerm", binding, tmp_path)


def test_a_missing_binding_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"run `make tools`"):
        schema.read_schema("google", schema.BINDINGS["google"], tmp_path / "absent")


def test_names_come_from_the_registry_links_not_from_camel_case() -> None:
    """cdktf renames some properties; the check must use the Terraform names."""
    azurerm = schema.load_schema("azurerm")
    ticket = azurerm.structs["@cdktf/provider-azurerm.pimActiveRoleAssignment.PimActiveRoleAssignmentTicket"]
    assert "system" in ticket and "system_attribute" not in ticket  # cdktf: systemAttribute
    rule = azurerm.structs["@cdktf/provider-azurerm.netappVolume.NetappVolumeExportPolicyRule"]
    assert "kerberos_5i_read_only_enabled" in rule  # cdktf: kerberos5IReadOnlyEnabled


def test_the_check_runs_on_a_copy_with_one_real_mistake(tmp_path: Path) -> None:
    """The real Azure module, one argument misspelled: reported with its file and path."""
    copy = tmp_path / "azure"
    shutil.copytree(TERRAFORM_DIR / "azure", copy, ignore=shutil.ignore_patterns("examples", ".terraform*"))
    function = copy / "function.tf"
    function.write_text(function.read_text().replace("instance_memory_in_mb", "instance_memory_mb", 1))
    problems = [p.removeprefix(f"{tmp_path}/") for p in schema.check_module(copy)]
    assert problems == [
        "azure/function.tf: azurerm_function_app_flex_consumption.app.instance_memory_mb: unknown argument "
        "(did you mean instance_memory_in_mb?)"
    ]
