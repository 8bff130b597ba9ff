"""The Azure function loads only Azure modules (DESIGN.md invariant 8), checked in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import APP_DIR

FOREIGN = ("boto3", "botocore", "aws_lambda_powertools", "google", "functions_framework", "s3transfer")

PROBE = """
import json, sys
import function_app
import replacement_vm
from controller_backup.stores import open_store
from controller_backup.stores.azure_blob import AzureBlobStore
from controller_backup.secrets.azure import resolve_key_vault
print(json.dumps(sorted(sys.modules)))
"""


def test_function_app_imports_no_other_cloud() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=APP_DIR, capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "function_app" in modules and "azure.functions" in modules  # the probe really imported it
    foreign = [m for m in modules if m.split(".")[0] in FOREIGN]
    assert foreign == [], f"non-Azure cloud modules loaded: {foreign[:10]}"
