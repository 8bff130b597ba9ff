"""Azure benchmark: backup and restore through Azurite against a raw azure-storage-blob copy.

Not a test: it measures, in one run and against the same servers, what the product costs over
the least any tool must do to move the same bytes:

- backup   = export from the controller + staged, MD5-checked, conditional block upload
  baseline = raw HTTP GET of the export to a file + `BlobClient.upload_blob` of that file
- restore  = download (MD5 per range) + sha256 check + wait/version checks + import + verifying
             re-export
  baseline = `BlobClient.download_blob` to a file + raw multipart import + raw export

Both sides use the same transfer concurrency (the store's, 3). Every measured step runs in a fresh Python
process, so its peak RSS is its own; the emulators and Azurite run in their own processes, and the
container is created in a child process too: this driver imports only the standard library (Linux
carries a process's peak RSS across fork and exec into every step it spawns).
`cold_start()` compares importing the function app against importing azure.storage.blob alone:
import seconds and peak RSS, fresh interpreters, medians of several interleaved runs; it also
counts any AWS or Google module the import loaded.

    python bench/bench_azure.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/bench_azure.py`
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import ImportCase, median_seconds, ratio_row  # noqa: E402
from tests.fixtures.azurite_server import ACCOUNT, Azurite, container_name  # noqa: E402

#: the store's own (stores/azure_blob.py DEFAULT_MAX_CONCURRENCY), for the raw copy too
CONCURRENCY = 3
APP_DIR = ROOT / "functions" / "azure"


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Rows {"name", "seconds", "ratio", "peak_rss_mib"} for backup and restore at `size_bytes`."""
    azurite = Azurite(in_memory=False)
    try:
        container = container_name("bench")
        store = f"azblob://{ACCOUNT}/{container}/controller-backup.enc"
        # the raw steps and the store find the account alike, through the connection string
        env = common.child_env({"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string})
        step = functools.partial(common.run_step, env=env)
        raw: dict[str, Any] = {"container": container, "blob": "raw-copy.enc", "concurrency": CONCURRENCY}
        step("azure_blob.create_container", container=container)  # in a child: not in this driver
        with tempfile.TemporaryDirectory(prefix="bench-azure-") as tmp:
            raw_file, back_file = str(Path(tmp) / "raw.tar"), str(Path(tmp) / "down.tar")
            raw_export, raw_upload, backups = [], [], []
            for source in common.each_configuration(size_bytes, repeats):
                raw_export.append(common.raw_export(source.url, raw_file))
                raw_upload.append(step("azure_blob.upload", path=raw_file, **raw))
                backups.append(step("core.backup", url=source.url, password=common.PASSWORD, store=store))
            raw_download, raw_import_export, restores = [], [], []
            for _ in range(repeats):
                raw_download.append(step("azure_blob.download", path=back_file, **raw))
                raw_import_export.append(common.raw_into_blank(size_bytes, "import_export", back_file))
                restores.append(common.restore_into_blank(size_bytes, store, env, overwrite_configured=True))
    finally:
        azurite.stop()
    backup_base = median_seconds(raw_export) + median_seconds(raw_upload)
    restore_base = median_seconds(raw_download) + median_seconds(raw_import_export)

    def row(name: str, samples: list[common.Sample], baseline: float, vs: str) -> dict[str, Any]:
        return ratio_row(name, samples, baseline, vs, size_bytes, baseline_key="vs")

    up, down = median_seconds(raw_upload), median_seconds(raw_download)
    export = median_seconds(raw_export)
    return [
        row("raw upload_blob (SDK)", raw_upload, up, "itself"),
        row("backup via Azurite", backups, backup_base, "raw export + raw upload"),
        row("backup via Azurite", backups, max(export, up), "max(raw export, raw upload)"),
        row("raw download_blob (SDK)", raw_download, down, "itself"),
        row("restore via Azurite (verified)", restores, restore_base, "raw download + raw import + export"),
    ]


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """Import time and peak RSS of the function app against `import azure.storage.blob` alone."""
    # the two apps run the same package; CONTROLLER_BACKUP_FUNCTIONS picks each one's functions
    backup_app = "import os; os.environ['CONTROLLER_BACKUP_FUNCTIONS'] = 'backup'"
    restore_app = "import os; os.environ['CONTROLLER_BACKUP_FUNCTIONS'] = 'restore'"
    cases = {
        "sdk": ImportCase("import azure.storage.blob"),
        "backup_app": ImportCase("import function_app", "import function_app (backup app)", setup=backup_app),
        "restore_app": ImportCase(
            "import function_app", "import function_app (restore app)", setup=restore_app
        ),
        "first_run": ImportCase(
            "import function_app, azure.storage.blob, azure.identity, azure.keyvault.secrets",
            "backup app + SDKs of a first run",
            setup=backup_app,
        ),
    }
    return common.cold_start_rows("azure", cases, repeats, cwd=APP_DIR)


def _cold_start_marked(repeats: int) -> list[dict[str, Any]]:
    return [{"cold_start": True, **r} for r in cold_start(repeats)]


if __name__ == "__main__":
    sys.exit(common.cloud_main(__doc__ or "", run, _cold_start_marked))
