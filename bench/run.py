"""Benchmark: backup and restore against a raw copy of the same bytes, in the same run.

Not a test: it prints a table of measured ratios and peak RSS, for the README. Every measured
step runs in a fresh Python process (so peak RSS is that step's alone) against emulators
running in their own processes over loopback HTTP:

- raw export:  log in, HTTP GET export_config straight into a file (urllib3, no checks)
- backup:      run_backup into a local-folder store (login, setup/version checks, spool with the
               sha256 and the archive walk in one pass, atomic store write with fsync, read-back check)
- raw import:  log in, multipart POST import_config of the file (urllib3, no checks)
- restore:     run_restore from that store into a blank emulator (hash and structure checks in one
               pass, wait, version check, import, and the verifying re-export, hashed as it arrives)
- raw import + export: what a verified restore must move at the least, for a fair ratio

    python bench/run.py                   # 1 MiB and 256 MiB, core only
    python bench/run.py --sizes 1M 64M    # other sizes
    python bench/run.py --clouds aws azure gcp   # also each cloud's bench module
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/run.py`
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    PASSWORD,
    Sample,
    argument_parser,
    each_configuration,
    format_row,
    median_seconds,
    parse_sizes,
    ratio_row,
    raw_export,
    raw_into_blank,
    restore_into_blank,
    run_step,
)


def bench_size(size: int, repeats: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        raw_file = str(Path(tmp) / "raw.tar")
        store = str(Path(tmp) / "store" / "backup.tar")
        exports: list[Sample] = []
        backups: list[Sample] = []
        for original in each_configuration(size, repeats):
            exports.append(raw_export(original.url, raw_file))
            backups.append(run_step("core.backup", url=original.url, password=PASSWORD, store=store))
        imports: list[Sample] = []
        import_exports: list[Sample] = []
        restores: list[Sample] = []
        for _ in range(repeats):
            imports.append(raw_into_blank(size, "import", raw_file))
            import_exports.append(raw_into_blank(size, "import_export", raw_file))
            restores.append(restore_into_blank(size, store, overwrite_configured=True))
    export_s, import_s = median_seconds(exports), median_seconds(imports)
    import_export_s = median_seconds(import_exports)
    restore = "restore (incl. verifying re-export)"
    return [
        ratio_row("raw export (HTTP GET to file)", exports, export_s, "itself", size),
        ratio_row("backup", backups, export_s, "raw export", size),
        ratio_row("raw import (multipart POST)", imports, import_s, "itself", size),
        ratio_row(restore, restores, import_s, "raw import", size),
        ratio_row(restore, restores, import_export_s, "raw import + export", size),
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'size MiB':>9} {'step':<38} {'seconds':>8} {'ratio':>6} {'vs':<22} {'peak RSS MiB':>12}")
    for r in rows:
        print(
            f"{r['size_mib']:>9} {r['name']:<38} {r['seconds']:>8} {r['ratio']:>6} "
            f"{r['baseline']:<22} {r['peak_rss_mib']:>12}"
        )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--sizes", nargs="+", default=["1M", "256M"])
    parser.add_argument("--clouds", nargs="*", default=[], choices=["aws", "azure", "gcp"])
    parser.add_argument("--cloud-size", default="256M")
    args = parser.parse_args()
    *sizes, cloud_size = parse_sizes(*args.sizes, args.cloud_size)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        rows += bench_size(size, args.repeats)
    print_table(rows)
    mibs = sorted({r["size_mib"] for r in rows})
    if len(mibs) >= 2:
        for name in ("backup", "restore (incl. verifying re-export)"):
            small = next(r for r in rows if r["name"] == name and r["size_mib"] == mibs[0])
            large = next(r for r in rows if r["name"] == name and r["size_mib"] == mibs[-1])
            print(
                f"peak RSS {name}: {large['peak_rss_mib']} MiB at {mibs[-1]} MiB vs "
                f"{small['peak_rss_mib']} MiB at {mibs[0]} MiB = "
                f"{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}x"
            )
    for cloud in args.clouds:
        module = importlib.import_module(f"bench.bench_{cloud}")
        cloud_rows = module.run(cloud_size, args.repeats)
        print(f"\n{cloud}:")
        for r in cloud_rows:
            print("  " + format_row(r))
        if hasattr(module, "cold_start"):
            for r in module.cold_start():
                print("  cold start: " + format_row(r))
        rows += [{"cloud": cloud, **r} for r in cloud_rows]
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
