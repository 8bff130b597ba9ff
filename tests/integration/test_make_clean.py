"""`make clean` removes what the project creates, and nothing a deployment keeps (run on a copy of
the Makefile in an empty folder, never on this checkout)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: what `make` targets, `pip install -e .`, the tests and the linters leave behind
CREATED = [
    ".venv/bin/python",
    ".venv-3.12/.installed",
    ".venv-3.13/.installed",
    ".tools/checkov/bin/checkov",
    "dist/aws/lambda.zip",
    "dist/gcp/source.zip.tmp",
    "build/lib/controller_backup/cli.py",
    "shared/controller_backup.egg-info/PKG-INFO",
    ".demo/controller-backup.tar",
    ".pytest_cache/v/cache/lastfailed",
    ".mypy_cache/3.11/cli.data.json",
    ".ruff_cache/0.17.6/123",
    ".hypothesis/examples/ab/cd",
    "shared/controller_backup/__pycache__/cli.cpython-311.pyc",
    "tests/unit/__pycache__/test_sdk.cpython-311-pytest-8.pyc",
    "infra/terraform/aws/.terraform/providers/registry.terraform.io/hashicorp/aws/x",
    "infra/terraform/aws/examples/basic/.terraform/modules/modules.json",
]
#: what belongs to the project or to an operator's deployment
KEPT = [
    "shared/controller_backup/cli.py",
    "tests/unit/test_sdk.py",
    "infra/terraform/aws/main.tf",
    "infra/terraform/aws/examples/basic/terraform.tfstate",
    "infra/terraform/aws/examples/basic/terraform.tfstate.backup",
    "infra/terraform/aws/examples/basic/.terraform.lock.hcl",
    ".git/objects/ab/__pycache__",
]


def test_make_clean_removes_what_the_project_creates_and_keeps_state(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in CREATED + KEPT:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    done = subprocess.run(
        ["make", "clean"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(["Makefile", *KEPT])
    for name in ("shared/controller_backup/__pycache__", "infra/terraform/aws/.terraform", ".venv", "dist"):
        assert not (tmp_path / name).exists(), name
