"""The deployable source zip: what is in it, that it is reproducible, and that it runs on its own."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import package_gcp  # noqa: E402


def test_zip_holds_main_requirements_and_the_core(tmp_path: Path) -> None:
    path = package_gcp.build(tmp_path / "source.zip")
    names = zipfile.ZipFile(path).namelist()
    assert "main.py" in names and "requirements.txt" in names
    for module in (
        "__init__.py",
        "backup.py",
        "restore.py",
        "stores/gcs.py",
        "secrets/gcp.py",
        "settings.py",
    ):
        assert f"controller_backup/{module}" in names
    for foreign in (
        "stores/s3.py",
        "stores/azure_blob.py",
        "secrets/aws.py",
        "secrets/azure.py",
        "cli.py",
        "terminal.py",
    ):
        assert f"controller_backup/{foreign}" not in names
    assert not [n for n in names if "emulator" in n or "__pycache__" in n or n.endswith(".pyc")]
    requirements = zipfile.ZipFile(path).read("requirements.txt").decode()
    assert "google-cloud-storage" in requirements and "functions-framework" in requirements
    assert "boto" not in requirements and "azure" not in requirements


def test_zip_is_reproducible(tmp_path: Path) -> None:
    a = package_gcp.build(tmp_path / "a.zip").read_bytes()
    b = package_gcp.build(tmp_path / "b.zip").read_bytes()
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_unpacked_zip_imports_its_own_core(tmp_path: Path) -> None:
    """Unpacked like the runtime does: main imports the vendored core, not the repository's."""
    path = package_gcp.build(tmp_path / "source.zip")
    workspace = tmp_path / "workspace"
    zipfile.ZipFile(path).extractall(workspace)
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(workspace)!r})\n"
        "import main, controller_backup\n"
        "boto = sorted(m for m in sys.modules if m.startswith('boto'))\n"
        "print(json.dumps([controller_backup.__file__, boto]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, cwd=workspace
    )
    assert proc.returncode == 0, proc.stderr
    core_file, boto = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(core_file).is_relative_to(workspace) and boto == []
