"""The Azure zip, built from the Azure lock by scripts/package.py: the layout a zip deploy without a
remote build needs, reproducible, and an HTTP backup run from nothing but its contents on the
runtime's Python against Azurite, with both apps' functions registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from controller_emulator import Emulator

from tests.packaging.helpers import assert_contents, package, run_in_bundle, unpack

from .conftest import EVENTS

BUNDLE = package.BUNDLES["azure"]
SITE = ".python_packages/lib/site-packages/"


@pytest.fixture(scope="module")
def function_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build(BUNDLE, tmp_path_factory.mktemp("dist") / "function.zip")


def test_the_app_is_at_the_root_and_the_lock_and_core_in_python_packages(function_zip: Path) -> None:
    names = assert_contents(function_zip, BUNDLE)
    assert [n for n in names if "/" not in n] == ["function_app.py", "host.json", "replacement_vm.py"]
    assert all(n.startswith(SITE) for n in names if "/" in n)
    assert f"{SITE}azure/storage/blob/__init__.py" in names
    assert not [n for n in names if n.startswith(f"{SITE}bin/")]


def test_the_zip_is_reproducible(function_zip: Path, tmp_path: Path) -> None:
    assert package.build(BUNDLE, tmp_path / "again.zip").read_bytes() == function_zip.read_bytes()


def test_an_http_backup_runs_from_the_unpacked_zip_alone(
    function_zip: Path, tmp_path: Path, controller: Emulator, azure_env: dict[str, str]
) -> None:
    """As the host loads it: the app's folder and .python_packages on the path, function_app
    imported per app (CONTROLLER_BACKUP_FUNCTIONS), a function called with the worker's request."""
    root = unpack(function_zip, tmp_path / "wwwroot")
    stored = json.loads((EVENTS / "http_backup.json").read_text())
    code = f"""
import importlib.util, os
import azure.functions as func

def load(group):
    os.environ["CONTROLLER_BACKUP_FUNCTIONS"] = group
    spec = importlib.util.spec_from_file_location("function_app_" + group, {str(root / "function_app.py")!r})
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return {{f.get_function_name(): f for f in module.app.get_functions()}}

restore = load("restore")
backup = load("backup")
stored = {stored!r}
request = func.HttpRequest(
    method=stored["method"], url=stored["url"], headers=stored["headers"], params=stored["params"],
    route_params=stored["route_params"], body=json.dumps(stored["body"]).encode(),
)
response = backup["backup"].get_user_function()(request)
result = {{
    "functions": sorted([*backup, *restore]),
    "status": response.status_code,
    "body": json.loads(response.get_body()),
}}
"""
    report = run_in_bundle(BUNDLE, [root, root / SITE], code)
    result = report["result"]
    assert result["functions"] == [
        "backup",
        "replacement_controller",
        "restore",
        "scheduled_backup",
        "scheduled_verify",
    ]
    assert result["status"] == 200, result["body"]
    assert result["body"]["sha256"] == controller.export_sha256()
    assert result["body"]["object"] == azure_env["BACKUP_URL"]
