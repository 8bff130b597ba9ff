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
- backup: `run_backup` from the controller emulator into `s3://` (login, checks, spool + sha256,
  archive walk, conditional upload, read-back check), against the raw upload, and against a raw
  export plus the raw upload (what a backup has to move at the least)
- restore: `run_restore` from `s3://` into a blank emulator (download, hash check, wait, version
  check, import, verifying re-export), against the raw download, and against the raw download plus
  a raw import and export

`cold_start()` compares importing the handlers with `import boto3` + a Powertools Logger alone
(what any Powertools Lambda pays), and the same plus the first S3 client (the handlers import boto3
only when a job opens its store): import seconds and peak RSS, fresh interpreters, medians of
several interleaved runs; it also counts any Azure or Google module the import loaded.

    python bench/bench_aws.py --size 256M [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
MIB = 1024 * 1024
BUCKET = "bench-backups"
REGION = "us-east-1"

# One measured step: `python -c STEP <json args>` prints {"seconds", "peak_rss_mib"}.
STEP = r"""
import json, os, resource, sys, time
args = json.loads(sys.argv[1])
kind = args["kind"]
if kind.startswith("raw_s3"):
    import boto3
if kind.startswith("store"):
    from controller_backup.stores.s3 import S3Store
if kind in ("backup", "restore"):
    from controller_backup.backup import run_backup
    from controller_backup.restore import run_restore
    from controller_backup.settings import Settings
start = time.perf_counter()
if kind == "raw_s3_upload":
    boto3.client("s3").upload_file(args["path"], args["bucket"], args["key"])
elif kind == "raw_s3_download":
    boto3.client("s3").download_file(args["bucket"], args["key"], args["path"])
elif kind == "store_put":
    store = S3Store(args["bucket"], args["key"])
    with open(args["path"], "rb") as src:
        store.put(src, os.path.getsize(args["path"]), {"sha256": "bench"})
elif kind == "store_download":
    store = S3Store(args["bucket"], args["key"])
    with open(args["path"], "wb") as out:
        store.download(out)
elif kind == "backup":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"], "BACKUP_MIN_SIZE_RATIO": "0"})
    run_backup(settings, trigger="bench")
elif kind == "restore":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"]})
    run_restore(settings, private_ip=args["private_ip"])
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib}))
"""

# Cold start: run one snippet in a fresh interpreter; report new foreign-cloud modules too.
IMPORT = r"""
import json, resource, sys, time
before = set(sys.modules)
start = time.perf_counter()
exec(sys.argv[1])
seconds = time.perf_counter() - start
new = {m.split(".")[0] for m in set(sys.modules) - before}
foreign = sorted(new & {"azure", "google", "functions_framework"})
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib, "foreign": foreign}))
"""

COLD_START_CASES = {
    "sdk": "import boto3\nfrom aws_lambda_powertools import Logger\nLogger(service='bench')",
    "backup_handler": "import functions.aws.backup_handler",
    "restore_handler": "import functions.aws.restore_handler",
    "sdk_client": (
        "import boto3\nfrom aws_lambda_powertools import Logger\nLogger(service='bench')\n"
        "boto3.session.Session().client('s3')"
    ),
    "backup_handler_client": (
        "import functions.aws.backup_handler\nfrom controller_backup.stores import s3\ns3._client()"
    ),
}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), str(ROOT / "shared"), env.get("PYTHONPATH")])
    )
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


def _step(kind: str, env: dict[str, str], **args: Any) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", STEP, json.dumps({"kind": kind, **args})],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _core_bench() -> Any:
    """bench/run.py's shared pieces (emulator processes, raw controller steps)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import run as core_bench

    return core_bench


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


def _median(samples: list[dict[str, float]]) -> float:
    return float(statistics.median(s["seconds"] for s in samples))


def _peak(samples: list[dict[str, float]]) -> float:
    return round(max(s["peak_rss_mib"] for s in samples), 1)


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Backup and restore through moto server vs raw boto3 transfers of the same bytes."""
    core = _core_bench()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp_dir:
        tmp = Path(tmp_dir)
        moto = MotoProcess()
        env = _env({"AWS_ENDPOINT_URL": moto.url})
        try:
            subprocess.run(
                [sys.executable, "-c", f"import boto3; boto3.client('s3').create_bucket(Bucket={BUCKET!r})"],
                check=True,
                env=env,
                timeout=60,
            )
            store_url = f"s3://{BUCKET}/controller/backup.tar"
            raw_file = str(tmp / "raw.tar")
            original = core.EmulatorProcess(size_bytes)
            try:
                raw_export = [
                    core.step("raw_export", url=original.url, password=core.PASSWORD, path=raw_file)
                    for _ in range(repeats)
                ]
                backups = [
                    _step("backup", env, url=original.url, password=core.PASSWORD, store=store_url)
                    for _ in range(repeats)
                ]
            finally:
                original.close()
            raw_key = f"raw/{uuid.uuid4().hex}.tar"
            out = str(tmp / "down.tar")
            uploads, puts, downloads, store_downloads = [], [], [], []
            for _ in range(repeats):  # interleaved, so machine noise hits both alike
                uploads.append(_step("raw_s3_upload", env, bucket=BUCKET, key=raw_key, path=raw_file))
                puts.append(_step("store_put", env, bucket=BUCKET, key=raw_key, path=raw_file))
            for _ in range(repeats):
                downloads.append(_step("raw_s3_download", env, bucket=BUCKET, key=raw_key, path=out))
                store_downloads.append(_step("store_download", env, bucket=BUCKET, key=raw_key, path=out))
            restores, import_exports = [], []
            for _ in range(repeats):
                for kind in ("raw_import_export", "restore"):
                    blank = core.EmulatorProcess(size_bytes, blank=True)
                    try:
                        if kind == "restore":
                            restores.append(
                                _step(kind, env, url=blank.url, password=core.PASSWORD, store=store_url,
                                      private_ip=core.BLANK_IP)
                            )  # fmt: skip
                        else:
                            import_exports.append(
                                core.step(kind, url=blank.url, password=core.BLANK_IP, path=raw_file)
                            )
                    finally:
                        blank.close()
        finally:
            moto.close()

    upload_s, download_s = _median(uploads), _median(downloads)
    export_s, import_export_s = _median(raw_export), _median(import_exports)

    def row(
        name: str, samples: list[dict[str, float]], baseline: float, baseline_name: str
    ) -> dict[str, Any]:
        seconds = _median(samples)
        return {
            "name": name,
            "size_mib": round(size_bytes / MIB, 1),
            "seconds": round(seconds, 3),
            "ratio": round(seconds / baseline, 2),
            "baseline": baseline_name,
            "peak_rss_mib": _peak(samples),
        }

    rows.append(row("s3 raw upload (boto3 upload_file)", uploads, upload_s, "itself"))
    rows.append(row("s3 store put (S3Store)", puts, upload_s, "raw upload"))
    rows.append(row("s3 raw download (boto3 download_file)", downloads, download_s, "itself"))
    rows.append(row("s3 store download (S3Store)", store_downloads, download_s, "raw download"))
    rows.append(row("backup -> s3://", backups, upload_s, "raw upload"))
    rows.append(row("backup -> s3://", backups, export_s + upload_s, "raw export + raw upload"))
    rows.append(row("restore <- s3:// (verified)", restores, download_s, "raw download"))
    rows.append(
        row(
            "restore <- s3:// (verified)",
            restores,
            download_s + import_export_s,
            "raw download + import + export",
        )
    )
    return rows


def _import_sample(code: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT, code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=_env(),
        cwd=str(ROOT),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold start sample failed: {proc.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return sample


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """The handlers' import against `import boto3` + Powertools Logger, fresh interpreters, medians."""
    for code in COLD_START_CASES.values():  # warm the disk cache once
        _import_sample(code)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in COLD_START_CASES}
    for _ in range(repeats):  # interleaved, so machine noise hits every case alike
        for name, code in COLD_START_CASES.items():
            samples[name].append(_import_sample(code))

    def median(name: str, key: str) -> float:
        return float(statistics.median(s[key] for s in samples[name]))

    def row(name: str, label: str, baseline: str) -> dict[str, Any]:
        return {
            "name": label,
            "seconds": round(median(name, "seconds"), 3),
            "ratio": round(median(name, "seconds") / median(baseline, "seconds"), 2),
            "peak_rss_mib": round(median(name, "peak_rss_mib"), 1),
            "rss_ratio": round(median(name, "peak_rss_mib") / median(baseline, "peak_rss_mib"), 2),
            "foreign_modules": len({m for s in samples[name] for m in s["foreign"]}),
        }

    return [
        row("sdk", "import boto3 + Powertools Logger", "sdk"),
        row("backup_handler", "import functions.aws.backup_handler", "sdk"),
        row("restore_handler", "import functions.aws.restore_handler", "sdk"),
        row("sdk_client", "import boto3 + Logger + first S3 client", "sdk_client"),
        row("backup_handler_client", "import backup handler + first S3 client", "sdk_client"),
    ]


def _parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="256M")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-start-repeats", type=int, default=7)
    parser.add_argument("--skip-transfer", action="store_true", help="only measure the cold start")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    if not args.skip_transfer:
        rows += run(_parse_size(args.size), args.repeats)
    rows += cold_start(args.cold_start_repeats)
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
