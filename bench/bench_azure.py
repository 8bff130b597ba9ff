"""Azure benchmark: backup and restore through Azurite against a raw azure-storage-blob copy.

Not a test: it measures, in one run and against the same servers, what the product costs over
the least any tool must do to move the same bytes:

- backup   = export from the controller + staged, MD5-checked, conditional block upload
  baseline = raw HTTP GET of the export to a file + `BlobClient.upload_blob` of that file
- restore  = download (MD5 per range) + sha256 check + wait/version checks + import + verifying
             re-export
  baseline = `BlobClient.download_blob` to a file + raw multipart import + raw export

Both sides use the same transfer concurrency (4). Every measured step runs in a fresh Python
process, so its peak RSS is its own; the emulators and Azurite run in their own processes.
`cold_start()` compares importing the function app against importing azure.storage.blob alone.

    python bench/bench_azure.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench", ROOT / "shared"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from run import BLANK_IP, MIB, PASSWORD, EmulatorProcess, parse_size, step  # noqa: E402

from tests.fixtures.azure import ACCOUNT, Azurite  # noqa: E402

CONCURRENCY = 4
APP_DIR = ROOT / "functions" / "azure"

AZ_STEP = r"""
import json, os, resource, sys, time
args = json.loads(sys.argv[1])
kind = args["kind"]
if kind in ("raw_upload", "raw_download"):
    from azure.storage.blob import BlobClient
else:
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = args["cs"]
    from controller_backup.backup import run_backup
    from controller_backup.restore import run_restore
    from controller_backup.settings import Settings
start = time.perf_counter()
if kind == "raw_upload":
    blob = BlobClient.from_connection_string(args["cs"], args["container"], args["blob"])
    with open(args["path"], "rb") as source:
        blob.upload_blob(source, length=os.path.getsize(args["path"]), overwrite=True,
                         max_concurrency=args["concurrency"])
elif kind == "raw_download":
    blob = BlobClient.from_connection_string(args["cs"], args["container"], args["blob"])
    with open(args["path"], "wb") as dest:
        blob.download_blob(max_concurrency=args["concurrency"]).readinto(dest)
elif kind == "backup":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"], "BACKUP_MIN_SIZE_RATIO": "0"})
    run_backup(settings, trigger="bench")
elif kind == "restore":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"]})
    run_restore(settings, private_ip=args["private_ip"], force=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak}))
"""

IMPORT_STEP = r"""
import json, resource, sys, time
before = set(sys.modules)
start = time.perf_counter()
for name in sys.argv[1].split(","):
    __import__(name)
seconds = time.perf_counter() - start
foreign = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] in ("boto3", "botocore", "google", "aws_lambda_powertools"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "foreign": foreign}))
"""


def _az_step(kind: str, **args: Any) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", AZ_STEP, json.dumps({"kind": kind, **args})],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _median(samples: list[dict[str, float]]) -> float:
    return statistics.median(s["seconds"] for s in samples)


def _peak(samples: list[dict[str, float]]) -> float:
    return round(max(s["peak_rss_mib"] for s in samples), 1)


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Rows {"name", "seconds", "ratio", "peak_rss_mib"} for backup and restore at `size_bytes`."""
    azurite = Azurite(in_memory=False)
    try:
        container = azurite.new_container()
        store = f"azblob://{ACCOUNT}/{container}/controller-backup.enc"
        common = {"cs": azurite.connection_string, "container": container, "concurrency": CONCURRENCY}
        with tempfile.TemporaryDirectory(prefix="bench-azure-") as tmp:
            raw_file, back_file = str(Path(tmp) / "raw.tar"), str(Path(tmp) / "down.tar")
            source = EmulatorProcess(size_bytes)
            try:
                raw_export, raw_upload, backups = [], [], []
                for _ in range(repeats):
                    raw_export.append(step("raw_export", url=source.url, password=PASSWORD, path=raw_file))
                    raw_upload.append(_az_step("raw_upload", blob="raw-copy.enc", path=raw_file, **common))
                    backups.append(
                        _az_step("backup", url=source.url, password=PASSWORD, store=store, **common)
                    )
            finally:
                source.close()
            raw_download, raw_import_export, restores = [], [], []
            for _ in range(repeats):
                raw_download.append(_az_step("raw_download", blob="raw-copy.enc", path=back_file, **common))
                for kind in ("raw_import_export", "restore"):
                    blank = EmulatorProcess(size_bytes, blank=True)
                    try:
                        if kind == "restore":
                            restores.append(
                                _az_step(
                                    "restore",
                                    url=blank.url,
                                    password=PASSWORD,
                                    store=store,
                                    private_ip=BLANK_IP,
                                    **common,
                                )
                            )
                        else:
                            raw_import_export.append(
                                step(kind, url=blank.url, password=BLANK_IP, path=back_file)
                            )
                    finally:
                        blank.close()
    finally:
        azurite.stop()
    size_mib = round(size_bytes / MIB, 2)
    backup_base = _median(raw_export) + _median(raw_upload)
    restore_base = _median(raw_download) + _median(raw_import_export)

    def row(name: str, seconds: float, baseline: float, peak: float, vs: str) -> dict[str, Any]:
        return {
            "name": name,
            "size_mib": size_mib,
            "seconds": round(seconds, 3),
            "ratio": round(seconds / baseline, 2),
            "vs": vs,
            "peak_rss_mib": peak,
        }

    up, down = _median(raw_upload), _median(raw_download)
    return [
        row("raw upload_blob (SDK)", up, up, _peak(raw_upload), "itself"),
        row("backup via Azurite", _median(backups), backup_base, _peak(backups), "raw export + raw upload"),
        row("raw download_blob (SDK)", down, down, _peak(raw_download), "itself"),
        row(
            "restore via Azurite (verified)",
            _median(restores),
            restore_base,
            _peak(restores),
            "raw download + raw import + export",
        ),
    ]


def _imports(modules: str, cwd: Path, repeats: int) -> list[dict[str, Any]]:
    samples = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-c", IMPORT_STEP, modules],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
        )
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return samples


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """Import time and peak RSS of the function app against `import azure.storage.blob` alone."""
    sdk = _imports("azure.storage.blob", ROOT, repeats)
    app = _imports("function_app", APP_DIR, repeats)
    first_run = _imports(
        "function_app,azure.storage.blob,azure.identity,azure.keyvault.secrets", APP_DIR, repeats
    )
    base_s, base_rss = _median(sdk), statistics.median(s["peak_rss_mib"] for s in sdk)

    def row(name: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
        seconds = _median(samples)
        rss = statistics.median(s["peak_rss_mib"] for s in samples)
        return {
            "name": name,
            "seconds": round(seconds, 4),
            "ratio": round(seconds / base_s, 2),
            "peak_rss_mib": round(rss, 1),
            "rss_ratio": round(rss / base_rss, 2),
            "foreign_modules": sorted({m for s in samples for m in s["foreign"]}),
        }

    return [
        row("import azure.storage.blob", sdk),
        row("import function_app", app),
        row("function_app + SDKs of a first run", first_run),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256M")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()
    rows = run(parse_size(args.size), args.repeats)
    if not args.no_cold_start:
        rows += [{"cold_start": True, **r} for r in cold_start()]
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
