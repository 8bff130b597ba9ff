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

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FUNCTION_DIR = ROOT / "functions" / "gcp"
MIB = 1024 * 1024
BUCKET = "bench-backups"

# One measured step: `python -c STEP <json args>` prints {"seconds", "peak_rss_mib"}.
STEP = r"""
import json, os, resource, sys, time
args = json.loads(sys.argv[1])
kind = args["kind"]
if kind.startswith("raw_gcs") or kind.startswith("store"):
    from google.cloud import storage
if kind.startswith("store"):
    from controller_backup.stores.gcs import GcsStore
if kind in ("backup", "restore"):
    from controller_backup.backup import run_backup
    from controller_backup.restore import run_restore
    from controller_backup.settings import Settings
start = time.perf_counter()
if kind == "raw_gcs_upload":
    bucket = storage.Client(project="bench").bucket(args["bucket"])
    blob = bucket.blob(args["key"], chunk_size=args.get("chunk_size"))
    with open(args["path"], "rb") as src:
        blob.upload_from_file(src, size=os.path.getsize(args["path"]), checksum="crc32c")
elif kind == "raw_gcs_download":
    blob = storage.Client(project="bench").bucket(args["bucket"]).blob(args["key"])
    with open(args["path"], "wb") as out:
        blob.download_to_file(out, checksum="crc32c")
elif kind == "store_put":
    store = GcsStore(args["bucket"], args["key"])
    with open(args["path"], "rb") as src:
        store.put(src, os.path.getsize(args["path"]), {"sha256": "bench"})
elif kind == "store_download":
    store = GcsStore(args["bucket"], args["key"])
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

# Cold start: time one import in a fresh interpreter; also report foreign cloud modules loaded.
IMPORT = r"""
import json, resource, sys, time
target, path, before = sys.argv[1], sys.argv[2], sys.argv[3]
if path:
    sys.path.insert(0, path)
for name in filter(None, before.split(",")):
    __import__(name)
start = time.perf_counter()
__import__(target)
seconds = time.perf_counter() - start
clouds = ("boto3", "botocore", "aws_lambda_powertools", "azure")
foreign = sorted(m for m in sys.modules if m.split(".")[0] in clouds)
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib, "foreign": foreign}))
"""


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "shared"), env.get("PYTHONPATH")]))
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


def _fake_gcs_module() -> Any:
    """tests/fixtures/gcp.py: the one way this repository starts fake-gcs-server."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fixtures import gcp

    return gcp


def _store_chunk_size() -> int:
    """GcsStore's chunk size, read in a child process: this driver must not import the SDK, since
    Linux carries a process's peak RSS across fork and exec into every measured step."""
    proc = subprocess.run(
        [sys.executable, "-c", "from controller_backup.stores.gcs import DEFAULT_CHUNK_SIZE as c; print(c)"],
        capture_output=True, text=True, check=True, env=_env(), timeout=60,
    )  # fmt: skip
    return int(proc.stdout.strip())


def _median(samples: list[dict[str, float]]) -> float:
    return float(statistics.median(s["seconds"] for s in samples))


def _peak(samples: list[dict[str, float]]) -> float:
    return round(max(s["peak_rss_mib"] for s in samples), 1)


def run(size_bytes: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Backup and restore through fake-gcs-server vs raw SDK transfers of the same bytes.

    Each repetition runs every step once, in turn, so load from other processes on the machine
    falls on the measured steps and their baselines alike.
    """
    core = _core_bench()
    fake_gcs = _fake_gcs_module()
    chunk_size = _store_chunk_size()

    samples: dict[str, list[dict[str, float]]] = {}

    def add(name: str, sample: dict[str, float]) -> None:
        samples.setdefault(name, []).append(sample)

    with tempfile.TemporaryDirectory(prefix="bench-gcp-") as tmp_dir:
        tmp = Path(tmp_dir)
        server = fake_gcs.start_fake_gcs(backend="filesystem", root=tmp / "gcs")
        env = _env({"STORAGE_EMULATOR_HOST": server.url, "GOOGLE_CLOUD_PROJECT": "bench"})
        try:
            subprocess.run(
                [sys.executable, "-c", "from google.cloud import storage; "
                 f"storage.Client(project='bench').create_bucket({BUCKET!r})"],
                check=True, env=env, timeout=60,
            )  # fmt: skip
            store_url = f"gs://{BUCKET}/controller/backup.tar"
            raw_file, out = str(tmp / "raw.tar"), str(tmp / "down.tar")
            raw_key = f"raw/{uuid.uuid4().hex}.tar"
            original = core.EmulatorProcess(size_bytes)
            try:
                for _ in range(repeats):
                    add(
                        "raw_export",
                        core.step("raw_export", url=original.url, password=core.PASSWORD, path=raw_file),
                    )
                    add(
                        "backup",
                        _step("backup", env, url=original.url, password=core.PASSWORD, store=store_url),
                    )
                    add("raw_upload", _step("raw_gcs_upload", env, bucket=BUCKET, key=raw_key, path=raw_file))
                    add(
                        "raw_upload_chunked",
                        _step("raw_gcs_upload", env, bucket=BUCKET, key=raw_key, path=raw_file,
                              chunk_size=chunk_size),
                    )  # fmt: skip
                    add("store_put", _step("store_put", env, bucket=BUCKET, key=raw_key, path=raw_file))
                    add("raw_download", _step("raw_gcs_download", env, bucket=BUCKET, key=raw_key, path=out))
                    add("store_download", _step("store_download", env, bucket=BUCKET, key=raw_key, path=out))
            finally:
                original.close()
            for _ in range(repeats):
                for kind in ("raw_import_export", "restore"):
                    blank = core.EmulatorProcess(size_bytes, blank=True)
                    try:
                        if kind == "restore":
                            add(kind, _step(kind, env, url=blank.url, password=core.PASSWORD, store=store_url,
                                            private_ip=core.BLANK_IP))  # fmt: skip
                        else:
                            add(kind, core.step(kind, url=blank.url, password=core.BLANK_IP, path=raw_file))
                    finally:
                        blank.close()
        finally:
            fake_gcs.stop_fake_gcs(server)

    seconds = {name: _median(values) for name, values in samples.items()}
    chunk_mib = chunk_size // MIB

    def row(name: str, step: str, baseline_name: str, *baseline_steps: str) -> dict[str, Any]:
        baseline = sum(seconds[b] for b in baseline_steps)
        return {
            "name": name,
            "size_mib": round(size_bytes / MIB, 1),
            "seconds": round(seconds[step], 3),
            "ratio": round(seconds[step] / baseline, 2),
            "baseline": baseline_name,
            "peak_rss_mib": _peak(samples[step]),
        }

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


def _import_sample(target: str, path: str = "", before: str = "") -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT, target, path, before],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=_env(),
        cwd=str(FUNCTION_DIR),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {target} failed: {proc.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return sample


def cold_start(repeats: int = 7) -> list[dict[str, Any]]:
    """`import main` against `import google.cloud.storage`, fresh interpreters, medians.

    Two comparisons: each import in a bare interpreter, and each import on top of
    `functions_framework` (what the Cloud Functions runtime has loaded before it imports main.py,
    so main's own increment is compared with the SDK's own increment on the same base).
    """
    cases = {
        "sdk": ("google.cloud.storage", "", ""),
        "main": ("main", str(FUNCTION_DIR), ""),
        "sdk_on_runtime": ("google.cloud.storage", "", "functions_framework"),
        "main_on_runtime": ("main", str(FUNCTION_DIR), "functions_framework"),
    }
    for case in cases.values():  # warm the disk cache once
        _import_sample(*case)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeats):  # interleaved, so machine noise hits every case alike
        for name, case in cases.items():
            samples[name].append(_import_sample(*case))

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
        row("sdk", "import google.cloud.storage", "sdk"),
        row("main", "import main (functions/gcp)", "sdk"),
        row("sdk_on_runtime", "import google.cloud.storage after functions_framework", "sdk_on_runtime"),
        row("main_on_runtime", "import main after functions_framework", "sdk_on_runtime"),
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
