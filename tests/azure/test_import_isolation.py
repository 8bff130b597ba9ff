"""The Azure function loads only Azure modules (docs/design.md, invariant 8), checked in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import APP_DIR, FUNCTIONS_SETTING

#: other clouds' SDKs, and the command line's terminal library
FOREIGN = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "google",
    "functions_framework",
    "s3transfer",
    "rich",
)

# The dev venv's functions-framework ships a `-nspkg.pth` that registers empty `google` namespace
# packages at interpreter start, before any import of ours; the probe therefore reports what the
# imports added, and what foreign modules already existed (which must be code-free namespaces).
PROBE = """
import json, sys
before = set(sys.modules)
import function_app
import replacement_vm
from controller_backup.stores import open_store
from controller_backup.stores.azure_blob import AzureBlobStore
from controller_backup.secrets.azure import resolve_key_vault
added = sorted(set(sys.modules) - before)
preloaded = {m: getattr(sys.modules[m], "__file__", None) for m in before}
print(json.dumps({"added": added, "preloaded": preloaded}))
"""


@pytest.mark.parametrize("group", ["backup", "restore"])
def test_function_app_imports_no_other_cloud(group: str) -> None:
    env = {**os.environ, FUNCTIONS_SETTING: group}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    added = report["added"]
    assert "function_app" in added and "azure.functions" in added  # the probe really imported it
    assert "controller_backup.stores.azure_blob" in added
    foreign = [m for m in added if m.split(".")[0] in FOREIGN]
    assert foreign == [], f"non-Azure cloud modules loaded: {foreign[:10]}"
    preloaded = {m: f for m, f in report["preloaded"].items() if m.split(".")[0] in FOREIGN}
    assert all(f is None for f in preloaded.values()), f"foreign code loaded at start: {preloaded}"
