"""GCS benchmark: our backup and restore through fake-gcs-server against raw google-cloud-storage
transfers of the same bytes in the same run, and the GCP function's cold start.

Not a test: it prints measured figures for the README. Every measured step runs in a fresh Python
process (so its peak RSS is its own) against servers in their own processes over loopback HTTP:
fake-gcs-server (the bundled binary, filesystem backend, a bucket without versioning so repeated
runs do not pile up generations) and the controller emulator.

Rows (median of `repeats` runs; ratio against the named baseline):

- raw upload / raw download: `blob.upload_from_file` / `blob.download_to_file` with the SDK's
  defaults (a resumable upload in 100 MiB chunks), crc32c checked, of the same bytes (the baselines)
- store put / store download: `GcsStore` alone, against the raw transfer
- backup, restore: into and from `gs://`, as bench/common.py describes them

`cold_start()` compares `import main` (functions/gcp) with `import google.cloud.storage` alone:
import seconds and peak RSS, fresh interpreters, median of several runs; it also counts any AWS or
Azure module the import loaded (there must be none).

    python bench/bench_gcp.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import functools
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/bench_gcp.py`
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import ImportCase  # noqa: E402
from tests.fixtures.gcs_server import start_fake_gcs, stop_fake_gcs  # noqa: E402

FUNCTION_DIR = ROOT / "functions" / "gcp"
BUCKET = "bench-backups"
STORE_CLASS = "controller_backup.stores.gcs:GcsStore"


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Backup and restore through fake-gcs-server vs raw SDK transfers of the same bytes.

    Each repetition runs every step once, in turn, so load from other processes on the machine
    falls on the measured steps and their baselines alike.
    """
    samples: dict[str, list[common.Sample]] = {}

    def add(name: str, sample: common.Sample) -> None:
        samples.setdefault(name, []).append(sample)

    with tempfile.TemporaryDirectory(prefix="bench-gcp-") as tmp_dir:
        tmp = Path(tmp_dir)
        server = start_fake_gcs(
            backend="filesystem", root=tmp / "gcs", binary=Path(common.probe("fake_gcs_binary"))
        )
        env = common.child_env({"STORAGE_EMULATOR_HOST": server.url, "GOOGLE_CLOUD_PROJECT": "bench"})
        step = functools.partial(common.run_step, env=env)
        try:
            step("gcs.create_bucket", bucket=BUCKET)  # in a child: the SDK must not load into this driver
            store_url = f"gs://{BUCKET}/controller/backup.tar"
            raw_file, out = str(tmp / "raw.tar"), str(tmp / "down.tar")
            raw_key = f"raw/{uuid.uuid4().hex}.tar"
            blob: dict[str, Any] = {"bucket": BUCKET, "key": raw_key}
            store: dict[str, Any] = {"store_class": STORE_CLASS, "store": f"gs://{BUCKET}/{raw_key}"}
            for original in common.each_configuration(size_bytes, repeats):
                add("raw_export", common.raw_export(original.url, raw_file))
                add(
                    "backup",
                    step("core.backup", url=original.url, password=common.PASSWORD, store=store_url),
                )
                add("raw_upload", step("gcs.upload", path=raw_file, **blob))
                add("store_put", step("store.put", path=raw_file, **store))
                add("raw_download", step("gcs.download", path=out, **blob))
                add("store_download", step("store.download", path=out, **store))
            for _ in range(repeats):
                add("raw_import_export", common.raw_into_blank(size_bytes, "import_export", raw_file))
                add("restore", common.restore_into_blank(size_bytes, store_url, env))
        finally:
            stop_fake_gcs(server)

    def row(
        name: str, step: str, baseline_name: str, *baseline_steps: str, slower: bool = False
    ) -> dict[str, Any]:
        """`step` against the sum of `baseline_steps`' medians, or the slower one's."""
        medians = [common.median_seconds(samples[b]) for b in baseline_steps]
        baseline = max(medians) if slower else sum(medians)
        return common.ratio_row(name, samples[step], baseline, baseline_name, size_bytes)

    return [
        row("gcs raw upload (SDK defaults: 100 MiB chunks)", "raw_upload", "itself", "raw_upload"),
        row("gcs store put (GcsStore)", "store_put", "raw upload", "raw_upload"),
        row("gcs raw download (SDK defaults)", "raw_download", "itself", "raw_download"),
        row("gcs store download (GcsStore)", "store_download", "raw download", "raw_download"),
        row("raw export (HTTP GET to file)", "raw_export", "itself", "raw_export"),
        row("backup -> gs://", "backup", "raw export + raw upload", "raw_export", "raw_upload"),
        row(
            "backup -> gs://",
            "backup",
            "max(raw export, raw upload)",
            "raw_export",
            "raw_upload",
            slower=True,
        ),
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
        "main": ImportCase("import main", "import main (functions/gcp)", path=str(FUNCTION_DIR)),
        "sdk_on_runtime": ImportCase(
            "import google.cloud.storage",
            "import google.cloud.storage after functions_framework",
            baseline="sdk_on_runtime",
            setup=runtime,
        ),
        "main_on_runtime": ImportCase(
            "import main",
            "import main after functions_framework",
            baseline="sdk_on_runtime",
            setup=runtime,
            path=str(FUNCTION_DIR),
        ),
    }
    return common.cold_start_rows("gcp", cases, repeats, cwd=FUNCTION_DIR)


if __name__ == "__main__":
    sys.exit(common.cloud_main(__doc__ or "", run, cold_start))
