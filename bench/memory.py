"""Peak RSS of a backup at a small and a large configuration, on every store: memory must stay flat.

Not a test: it prints, per store, the backup's peak RSS at each size and the ratio of the largest
to the smallest (the goal: at most 1.1x for 1 GiB against 1 MiB). Each backup runs in a fresh
process (`core.backup`, as in bench/run.py) against the controller emulator and the store's
emulator, each in its own process: a local folder, moto server, Azurite, fake-gcs-server.

    python bench/memory.py                      # 1 MiB and 1 GiB, every store
    python bench/memory.py --sizes 1M 256M --stores s3
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/memory.py`
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.bench_aws import BUCKET, MotoProcess, _env  # noqa: E402
from tests.fixtures.azurite_server import ACCOUNT, Azurite, container_name  # noqa: E402
from tests.fixtures.gcs_server import start_fake_gcs, stop_fake_gcs  # noqa: E402

STORES = ("local", "s3", "azblob", "gs")


@contextlib.contextmanager
def store_for(kind: str, tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh store of `kind`: its URL and the environment a step needs to reach it."""
    if kind == "local":
        yield str(tmp / "store" / "backup.tar"), common.child_env()
    elif kind == "s3":
        moto = MotoProcess()
        try:
            env = _env({"AWS_ENDPOINT_URL": moto.url})
            common.run_step("s3.create_bucket", env, bucket=BUCKET)
            yield f"s3://{BUCKET}/controller/backup.tar", env
        finally:
            moto.close()
    elif kind == "azblob":
        azurite = Azurite(in_memory=False)
        try:
            env = common.child_env({"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string})
            container = container_name("memory")
            common.run_step("azure_blob.create_container", env, container=container)
            yield f"azblob://{ACCOUNT}/{container}/backup.enc", env
        finally:
            azurite.stop()
    else:
        server = start_fake_gcs(
            backend="filesystem", root=tmp / "gcs", binary=Path(common.probe("fake_gcs_binary"))
        )
        try:
            env = common.child_env({"STORAGE_EMULATOR_HOST": server.url, "GOOGLE_CLOUD_PROJECT": "bench"})
            common.run_step("gcs.create_bucket", env, bucket=BUCKET)
            yield f"gs://{BUCKET}/controller/backup.tar", env
        finally:
            stop_fake_gcs(server)


def main() -> int:
    parser = common.argument_parser(__doc__ or "")
    parser.add_argument("--sizes", nargs="+", default=["1M", "1G"])
    parser.add_argument("--stores", nargs="+", default=list(STORES), choices=STORES)
    args = parser.parse_args()
    sizes = common.parse_sizes(*args.sizes)
    for kind in args.stores:
        peaks: list[float] = []
        for size in sizes:
            with (
                tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_dir,
                store_for(kind, Path(tmp_dir)) as (url, env),
            ):
                samples = [
                    common.run_step("core.backup", env, store=url, url=source.url, password=common.PASSWORD)
                    for source in common.each_configuration(size, args.repeats)
                ]
            peak = max(s["peak_rss_mib"] for s in samples)
            seconds = common.median_seconds(samples)
            peaks.append(peak)
            print(f"{kind:<7} {size // common.MIB:>6} MiB  backup {seconds:7.2f} s  peak RSS {peak:6.1f} MiB")
        print(f"{kind:<7} peak RSS largest / smallest: {peaks[-1] / peaks[0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
