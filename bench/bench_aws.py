"""S3 benchmark: our backup and restore through moto server against raw boto3 transfers of the same
bytes in the same run, and the Lambda handlers' cold start.

Not a test: it prints measured figures for the README. Every measured step runs in a fresh Python
process (so its peak RSS is its own) against servers in their own processes over loopback HTTP:
moto in server mode (an unversioned bucket, so repeated runs do not pile up versions in its
memory) and the controller emulator.

Rows (median of `repeats` runs; ratio against the named baseline):

- raw upload / raw download: boto3 `upload_file` / `download_file` with the SDK's defaults (8 MiB
  parts, 10 threads, CRC32 checksums), the baselines
- store put / store download: `S3Store` alone (16 MiB parts, 8 threads, SHA-256 part checksums,
  conditional-write hooks), against the raw transfer
- backup, restore: into and from `s3://`, as bench/common.py describes them

`cold_start()` compares importing the handlers with `import boto3` + a Powertools Logger alone
(what any Powertools Lambda pays), and the same plus the first S3 client (the handlers import boto3
only when a job opens its store): import seconds and peak RSS, fresh interpreters, medians of
several interleaved runs; it also counts any Azure or Google module the import loaded.

    python bench/bench_aws.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/bench_aws.py`
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import ImportCase, ratio_row  # noqa: E402

BUCKET = "bench-backups"
REGION = "us-east-1"
STORE_CLASS = "controller_backup.stores.s3:S3Store"

COLD_START_CASES = {
    "sdk": ImportCase(
        "import boto3\nfrom aws_lambda_powertools import Logger\nLogger(service='bench')",
        label="import boto3 + Powertools Logger",
    ),
    "backup_handler": ImportCase("import functions.aws.backup_handler"),
    "restore_handler": ImportCase("import functions.aws.restore_handler"),
    "sdk_client": ImportCase(
        "import boto3\nfrom aws_lambda_powertools import Logger\nLogger(service='bench')\n"
        "boto3.session.Session().client('s3')",
        label="import boto3 + Logger + first S3 client",
        baseline="sdk_client",
    ),
    "backup_handler_client": ImportCase(
        "import functions.aws.backup_handler\nfrom controller_backup.stores import s3\ns3._client()",
        label="import backup handler + first S3 client",
        baseline="sdk_client",
    ),
}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Fake credentials for moto only, and no Lambda or Powertools settings from this shell."""
    env = {k: v for k, v in common.child_env().items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",  # fake, for moto only
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    env.update(extra or {})
    return env


class MotoProcess:
    """moto in server mode in its own process, so its memory and CPU are not the client's."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Backup and restore through moto server vs raw boto3 transfers of the same bytes."""
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp_dir:
        tmp = Path(tmp_dir)
        moto = MotoProcess()
        env = _env({"AWS_ENDPOINT_URL": moto.url})
        step = functools.partial(common.run_step, env=env)
        try:
            step("s3.create_bucket", bucket=BUCKET)  # in a child: boto3 must not load into this driver
            store_url = f"s3://{BUCKET}/controller/backup.tar"
            raw_file = str(tmp / "raw.tar")
            raw_export, backups = [], []
            for original in common.each_configuration(size_bytes, repeats):
                raw_export.append(common.raw_export(original.url, raw_file))
                backups.append(
                    step("core.backup", url=original.url, password=common.PASSWORD, store=store_url)
                )
            raw_key = f"raw/{uuid.uuid4().hex}.tar"
            raw: dict[str, Any] = {"bucket": BUCKET, "key": raw_key}
            store: dict[str, Any] = {"store_class": STORE_CLASS, "store": f"s3://{BUCKET}/{raw_key}"}
            out = str(tmp / "down.tar")
            uploads, puts, downloads, store_downloads = [], [], [], []
            for _ in range(repeats):  # interleaved, so machine noise hits both alike
                uploads.append(step("s3.upload", path=raw_file, **raw))
                puts.append(step("store.put", path=raw_file, **store))
            for _ in range(repeats):
                downloads.append(step("s3.download", path=out, **raw))
                store_downloads.append(step("store.download", path=out, **store))
            restores, import_exports = [], []
            for _ in range(repeats):
                import_exports.append(common.raw_into_blank(size_bytes, "import_export", raw_file))
                restores.append(common.restore_into_blank(size_bytes, store_url, env))
        finally:
            moto.close()

    upload_s, download_s = common.median_seconds(uploads), common.median_seconds(downloads)
    export_s, import_export_s = common.median_seconds(raw_export), common.median_seconds(import_exports)

    def row(name: str, samples: list[common.Sample], baseline: float, baseline_name: str) -> dict[str, Any]:
        return ratio_row(name, samples, baseline, baseline_name, size_bytes)

    return [
        row("s3 raw upload (boto3 upload_file)", uploads, upload_s, "itself"),
        row("s3 store put (S3Store)", puts, upload_s, "raw upload"),
        row("s3 raw download (boto3 download_file)", downloads, download_s, "itself"),
        row("s3 store download (S3Store)", store_downloads, download_s, "raw download"),
        row("backup -> s3://", backups, upload_s, "raw upload"),
        row("backup -> s3://", backups, export_s + upload_s, "raw export + raw upload"),
        row("backup -> s3://", backups, max(export_s, upload_s), "max(raw export, raw upload)"),
        row("restore <- s3:// (verified)", restores, download_s, "raw download"),
        row(
            "restore <- s3:// (verified)",
            restores,
            download_s + import_export_s,
            "raw download + import + export",
        ),
    ]


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """The handlers' import against `import boto3` + Powertools Logger, fresh interpreters, medians."""
    return common.cold_start_rows("aws", COLD_START_CASES, repeats, cwd=ROOT, env=_env())


if __name__ == "__main__":
    sys.exit(common.cloud_main(__doc__ or "", run, cold_start))
