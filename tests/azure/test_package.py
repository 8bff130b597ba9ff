"""The deployment zip's layout, from the packaging script's own file list (no pip download here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_azure", ROOT / "scripts" / "package_azure.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layout(package: ModuleType, tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    (deps / "azure" / "storage" / "blob").mkdir(parents=True)
    (deps / "azure" / "storage" / "blob" / "__init__.py").write_text("")
    (deps / "azure" / "storage" / "blob" / "__pycache__").mkdir()
    (deps / "azure" / "storage" / "blob" / "__pycache__" / "x.pyc").write_bytes(b"")
    names = [name for name, _ in package.entries(deps)]
    assert {"host.json", "function_app.py", "replacement_vm.py"} <= set(names)  # at the root
    site = ".python_packages/lib/site-packages/"
    assert f"{site}azure/storage/blob/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n]
    core = {
        n.removeprefix(f"{site}controller_backup/")
        for n in names
        if n.startswith(f"{site}controller_backup/")
    }
    assert {"stores/azure_blob.py", "secrets/azure.py", "backup.py", "restore.py", "settings.py"} <= core
    assert not core & {
        "stores/s3.py",
        "stores/gcs.py",
        "secrets/aws.py",
        "secrets/gcp.py",
        "cli.py",
        "terminal.py",
    }
    assert not [n for n in core if n.startswith("emulator/")]


def test_foreign_packages_are_refused(package: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "boto3").mkdir()
    with pytest.raises(SystemExit, match="boto3"):
        package.check_foreign(tmp_path)
    (tmp_path / "boto3").rmdir()
    (tmp_path / "azure").mkdir()
    package.check_foreign(tmp_path)


def test_requirements_are_azure_only() -> None:
    lines = (ROOT / "functions" / "azure" / "requirements.txt").read_text().splitlines()
    names = [
        line.split(">")[0].split("=")[0].strip()
        for line in lines
        if line.strip() and not line.startswith("#")
    ]
    assert "azure-functions" in names and "azure-storage-blob" in names
    assert all(name.startswith("azure-") or name == "urllib3" for name in names), names
