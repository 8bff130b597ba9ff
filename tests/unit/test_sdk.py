"""The missing-SDK helper: which failures it turns into settings errors, and that the install lines
it prints exist in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from controller_backup import secrets, stores
from controller_backup.errors import SettingsError
from controller_backup.sdk import BACKENDS, CLI_INSTALL, sdk_for

_PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
_EXTRAS: dict[str, list[str]] = _PYPROJECT["project"]["optional-dependencies"]


def _included_extras(extra: str) -> set[str]:
    """The extras `extra` pulls in through `controller-backup[...]` entries, itself included."""
    found = {extra}
    for requirement in _EXTRAS[extra]:
        match = re.fullmatch(r"controller-backup\[([a-z0-9,]+)\]", requirement)
        if match:
            for name in match.group(1).split(","):
                found |= _included_extras(name)
    return found


def test_every_cloud_backend_is_in_the_table() -> None:
    """A store or secret scheme added without an entry would crash on a machine without its SDK."""
    store_kinds = {f"{kind}://" for kind in stores._IMPLEMENTATIONS if kind != "local"}
    secret_schemes = {  # our own: other tests register schemes of their own
        f"{scheme}:"
        for scheme, path in secrets._LAZY_RESOLVERS.items()
        if path.startswith("controller_backup.secrets.")
    }
    assert set(BACKENDS) == store_kinds | secret_schemes


def test_the_cli_extra_brings_every_backend_and_dev_brings_the_cli() -> None:
    assert CLI_INSTALL == "pip install 'controller-backup[cli]'"
    assert {extra for _, extra in BACKENDS.values()} <= _included_extras("cli")
    assert "cli" in _included_extras("dev")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_missing_module_is_a_settings_error_naming_both_install_lines(backend: str) -> None:
    module, extra = BACKENDS[backend]
    with pytest.raises(SettingsError) as raised, sdk_for(backend):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    message = raised.value.message
    assert message.startswith(f"{backend} needs {module}, which is not installed;")
    assert CLI_INSTALL in message and f"pip install 'controller-backup[{extra}]'" in message
    assert raised.value.exit_code == 2


def test_a_missing_dependency_of_the_sdk_is_named_too() -> None:
    with (
        pytest.raises(
            SettingsError, match=r"s3:// needs boto3, which is not installed \(No module named 'botocore'\)"
        ),
        sdk_for("s3://"),
    ):
        raise ModuleNotFoundError("No module named 'botocore'", name="botocore")


def test_our_own_broken_import_is_a_bug_not_a_missing_sdk() -> None:
    with pytest.raises(ImportError, match=re.escape("controller_backup.stores.nothing")), sdk_for("s3://"):
        raise ModuleNotFoundError(
            "No module named 'controller_backup.stores.nothing'", name="controller_backup.stores.nothing"
        )


def test_a_registered_scheme_without_its_module_is_still_a_settings_error() -> None:
    with (
        pytest.raises(SettingsError, match=r"^vault: needs an SDK that is not installed \(hvac\)$"),
        sdk_for("vault:"),
    ):
        raise ModuleNotFoundError("No module named 'hvac'", name="hvac")


def test_other_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="not an import"), sdk_for("gs://"):
        raise ValueError("not an import")


def test_a_local_folder_missing_from_a_bundle_says_so() -> None:
    """The functions' bundles leave stores/local.py out: a local BACKUP_URL there is a setting to fix."""
    with (
        pytest.raises(SettingsError, match=r"^a local folder is not a store this deployment carries"),
        sdk_for("local://"),
    ):
        raise ModuleNotFoundError(
            "No module named 'controller_backup.stores.local'", name="controller_backup.stores.local"
        )
