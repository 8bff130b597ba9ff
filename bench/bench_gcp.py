"""GCS benchmark: our backup and restore through fake-gcs-server against raw google-cloud-storage
transfers of the same bytes in the same run, and the GCP function's cold start.

Not a test: it prints measured figures for the README. Every measured step runs in a fresh Python
process (so its peak RSS is its own) against servers in their own processes over loopback HTTP:
fake-gcs-server (the bundled binary, filesystem backend, a bucket without versioning so repeated
runs do not pile up generations) and the controller emulator.

Rows (median of `repeats` runs; ratio against the named baseline):

- raw upload / raw download: `blob.upload_from_file` / `blob.download_to_file` with the SDK's
  defaults, crc32c checked, of the same bytes (the baselines); the raw upload also with the
  store's chunk size, because fake-gcs-server spends time per resumable chunk that real GCS does
  not (each chunk appears to rewrite the upload so far), which makes smaller chunks slower here
- store put / store download: `GcsStore` alone, against the raw transfer
- backup: `run_backup` from the controller emulator into `gs://` (login, checks, spool + sha256,
  archive walk, conditional upload, read-back check), against the raw upload, and against a raw
  export plus the raw upload (what a backup has to move at the least)
- restore: `run_restore` from `gs://` into a blank emulator (download, hash check, wait, version
  check, import, verifying re-export), against the raw download, and against the raw download plus
  a raw import and export

`cold_start()` compares `import main` (functions/gcp) with `import google.cloud.storage` alone:
import seconds and peak RSS, fresh interpreters, median of several runs; it also counts any AWS or
Azure module the import loaded (there must be none).

    python bench/bench_gcp.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import common
from common import MIB, ROOT, SHARED, ImportCase

FUNCTION_DIR = ROOT / "functions" / "gcp"
BUCKET = "bench-backups"

# The raw SDK steps and GcsStore's; backup and restore come with the script (common.step_script).
STEP = common.step_script(
    imports="""\
if kind.startswith("raw_gcs") or kind.startswith("store") or kind == "create_bucket":
    from google.cloud import storage
""",
    steps="""\
if kind == "create_bucket":
    storage.Client(project="bench").create_bucket(args["bucket"])
elif kind == "raw_gcs_upload":
    bucket = storage.Client(project="bench").bucket(args["bucket"])
    blob = bucket.blob(args["key"], chunk_size=args.get("chunk_size"))
    with open(args["path"], "rb") as src:
        blob.upload_from_file(src, size=os.path.getsize(args["path"]), checksum="crc32c")
elif kind == "raw_gcs_download":
    blob = storage.Client(project="bench").bucket(args["bucket"]).blob(args["key"])
    with open(args["path"], "wb") as out:
        blob.download_to_file(out, checksum="crc32c")
""",
    store="controller_backup.stores.gcs:GcsStore",
)


def _fake_gcs_module() -> Any:
    """tests/fixtures/gcs_server.py: the one way this repository starts fake-gcs-server (standard
    library only, so importing it keeps this driver light)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fixtures import gcs_server

    return gcs_server


def _fake_gcs_binary() -> Path:
    """`gcs_server.fake_gcs_binary()`, called in a child process: it imports the wrapper package,
    which must not load into this driver."""
    code = "from tests.fixtures.gcs_server import fake_gcs_binary; print(fake_gcs_binary())"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=False, env=common.child_env(ROOT), timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"fake-gcs-server binary not found: {proc.stderr[-2000:]}")
    return Path(proc.stdout.strip())


def _store_chunk_size() -> int:
    """GcsStore's chunk size, read in a child process: this driver must not import the SDK, since
    Linux carries a process's peak RSS across fork and exec into every measured step."""
    proc = subprocess.run(
        [sys.executable, "-c", "from controller_backup.stores.gcs import DEFAULT_CHUNK_SIZE as c; print(c)"],
        capture_output=True, text=True, check=True, env=common.child_env(SHARED), timeout=60,
    )  # fmt: skip
    return int(proc.stdout.strip())


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Backup and restore through fake-gcs-server vs raw SDK transfers of the same bytes.

    Each repetition runs every step once, in turn, so load from other processes on the machine
    falls on the measured steps and their baselines alike.
    """
    fake_gcs = _fake_gcs_module()
    chunk_size = _store_chunk_size()

    samples: dict[str, list[common.Sample]] = {}

    def add(name: str, sample: common.Sample) -> None:
        samples.setdefault(name, []).append(sample)

    with tempfile.TemporaryDirectory(prefix="bench-gcp-") as tmp_dir:
        tmp = Path(tmp_dir)
        server = fake_gcs.start_fake_gcs(backend="filesystem", root=tmp / "gcs", binary=_fake_gcs_binary())
        env = common.child_env(
            SHARED, extra={"STORAGE_EMULATOR_HOST": server.url, "GOOGLE_CLOUD_PROJECT": "bench"}
        )
        step = functools.partial(common.run_step, STEP, env=env)
        try:
            step("create_bucket", bucket=BUCKET)  # in a child: the SDK must not load into this driver
            store_url = f"gs://{BUCKET}/controller/backup.tar"
            raw_file, out = str(tmp / "raw.tar"), str(tmp / "down.tar")
            blob: dict[str, Any] = {"bucket": BUCKET, "key": f"raw/{uuid.uuid4().hex}.tar"}
            with common.EmulatorProcess(size_bytes) as original:
                for _ in range(repeats):
                    add("raw_export", common.raw_export(original.url, raw_file))
                    add("backup", step("backup", url=original.url, password=common.PASSWORD, store=store_url))
                    add("raw_upload", step("raw_gcs_upload", path=raw_file, **blob))
                    add(
                        "raw_upload_chunked",
                        step("raw_gcs_upload", path=raw_file, chunk_size=chunk_size, **blob),
                    )
                    add("store_put", step("store_put", path=raw_file, **blob))
                    add("raw_download", step("raw_gcs_download", path=out, **blob))
                    add("store_download", step("store_download", path=out, **blob))
            for _ in range(repeats):
                add("raw_import_export", common.raw_into_blank(size_bytes, "raw_import_export", raw_file))
                add("restore", common.restore_into_blank(size_bytes, step, store_url))
        finally:
            fake_gcs.stop_fake_gcs(server)

    chunk_mib = chunk_size // MIB

    def row(name: str, step: str, baseline_name: str, *baseline_steps: str) -> dict[str, Any]:
        baseline = sum(common.median_seconds(samples[b]) for b in baseline_steps)
        return common.ratio_row(name, samples[step], baseline, baseline_name, size_bytes)

    defaults = "raw upload (SDK defaults)"
    same = f"raw upload ({chunk_mib} MiB chunks)"
    return [
        row("gcs raw upload (SDK defaults: 100 MiB chunks)", "raw_upload", "itself", "raw_upload"),
        row(f"gcs raw upload ({chunk_mib} MiB chunks)", "raw_upload_chunked", defaults, "raw_upload"),
        row("gcs store put (GcsStore)", "store_put", same, "raw_upload_chunked"),
        row("gcs store put (GcsStore)", "store_put", defaults, "raw_upload"),
        row("gcs raw download (SDK defaults)", "raw_download", "itself", "raw_download"),
        row("gcs store download (GcsStore)", "store_download", "raw download", "raw_download"),
        row("raw export (HTTP GET to file)", "raw_export", "itself", "raw_export"),
        row("backup -> gs://", "backup", f"raw export + {same}", "raw_export", "raw_upload_chunked"),
        row("backup -> gs://", "backup", f"raw export + {defaults}", "raw_export", "raw_upload"),
        row(
            "restore <- gs:// (verified)",
            "restore",
            "raw download + import + export",
            "raw_download",
            "raw_import_export",
        ),
        row("restore <- gs:// (verified)", "restore", "raw download", "raw_download"),
    ]


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """`import main` against `import google.cloud.storage`, fresh interpreters, medians.

    Two comparisons: each import in a bare interpreter, and each import on top of
    `functions_framework` (what the Cloud Functions runtime has loaded before it imports main.py,
    so main's own increment is compared with the SDK's own increment on the same base).
    """
    runtime = "import functions_framework"
    cases = {
        "sdk": ImportCase("import google.cloud.storage"),
        "main": ImportCase("import main", path=str(FUNCTION_DIR)),
        "sdk_on_runtime": ImportCase("import google.cloud.storage", setup=runtime),
        "main_on_runtime": ImportCase("import main", setup=runtime, path=str(FUNCTION_DIR)),
    }
    rows = [
        ("sdk", "import google.cloud.storage", "sdk"),
        ("main", "import main (functions/gcp)", "sdk"),
        ("sdk_on_runtime", "import google.cloud.storage after functions_framework", "sdk_on_runtime"),
        ("main_on_runtime", "import main after functions_framework", "sdk_on_runtime"),
    ]
    return common.cold_start_rows("gcp", cases, rows, repeats, cwd=FUNCTION_DIR)


if __name__ == "__main__":
    sys.exit(common.cloud_main(__doc__ or "", run, cold_start))
