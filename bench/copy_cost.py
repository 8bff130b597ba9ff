"""What one copy costs a backup: the same export backed up without a copy, and with one copy to a
second store (another local folder; moto's S3 over loopback), in the same run.

Not a test: it prints min/median/max seconds per case, and the bytes each backup writes, for the
README ("Copies"). Every run backs up into fresh, empty destinations, so each one writes (a night
whose configuration is unchanged only reads the copy back to verify it). The emulator runs in
this process and serves over loopback HTTP.

    python bench/copy_cost.py                  # 64 MiB, 5 runs
    python bench/copy_cost.py --size 8M --runs 3
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "shared"):  # run as `python bench/copy_cost.py`
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from controller_backup.backup import run_backup  # noqa: E402
from controller_backup.settings import Settings  # noqa: E402
from controller_emulator import Emulator, EmulatorConfig  # noqa: E402
from controller_emulator.cli import parse_size  # noqa: E402

PASSWORD = "bench-Passw0rd!"


def _settings(url: str, backup_url: str, copies: tuple[str, ...]) -> Settings:
    os.environ["BENCH_PASSWORD"] = PASSWORD
    env = {
        "CONTROLLER_URL": url,
        "CONTROLLER_PASSWORD": "env:BENCH_PASSWORD",
        "CONTROLLER_BACKUP_MODE": "export",
        "CONTROLLER_ALLOW_HTTP": "true",
        "BACKUP_URL": backup_url,
    }
    return dataclasses.replace(Settings.from_env(env), copy_urls=copies)


def _moto() -> Callable[[], str]:
    """A moto server and a versioned bucket; returns a maker of fresh object URLs in it."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",  # fake, for moto only
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return lambda: f"s3://{bucket}/{uuid.uuid4().hex}/backup.tar"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=64 * 1024 * 1024)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the numbers only: no request or warning lines
    s3_url = _moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    cases: dict[str, Callable[[Path], tuple[str, ...]]] = {
        "no copy": lambda _: (),
        "1 copy, local folder": lambda work: ((work / "copy" / "backup.tar").as_uri(),),
        "1 copy, S3 (moto)": lambda _: (s3_url(),),
    }
    config = EmulatorConfig(archive_size=args.size, seed=7, password=PASSWORD)
    with Emulator(config) as emulator, tempfile.TemporaryDirectory() as scratch:
        print(f"{args.size} bytes of configuration, {args.runs} runs per case")
        for name, copies in cases.items():
            stored: list[float] = []
            unchanged: list[float] = []
            written = 0
            for run in range(args.runs):
                work = Path(scratch) / f"{name.replace(' ', '_')}-{run}"
                settings = _settings(emulator.url, (work / "primary" / "backup.tar").as_uri(), copies(work))
                for night, times, status in ((1, stored, "ok"), (2, unchanged, "unchanged")):
                    started = time.perf_counter()
                    result = run_backup(settings)
                    times.append(time.perf_counter() - started)
                    assert result.status == status, (night, result.status)
                written = result.size * (1 + len(settings.copy_urls))
            for what, times in (("stored", stored), ("unchanged", unchanged)):
                print(
                    f"{name:<22} {what:<9} min {min(times):6.2f} s  median {statistics.median(times):6.2f} s "
                    f"max {max(times):6.2f} s" + (f"  bytes written {written}" if what == "stored" else "")
                )


if __name__ == "__main__":
    main()
