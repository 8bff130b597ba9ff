"""Benchmark: backup and restore against a raw copy of the same bytes, in the same run.

Not a test: it prints a table of measured ratios and peak RSS, for the README. Every measured
step runs in a fresh Python process (so peak RSS is that step's alone) against emulators
running in their own processes over loopback HTTP:

- raw export:  log in, HTTP GET export_config straight into a file (urllib3, no checks)
- backup:      run_backup into a local-folder store (login, setup/version checks, spool + sha256,
               archive walk, atomic store write with fsync, read-back check)
- raw import:  log in, multipart POST import_config of the file (urllib3, no checks)
- restore:     run_restore from that store into a blank emulator (download, hash check, wait,
               version check, import, and the verifying re-export)
- raw import + export: what a verified restore must move at the least, for a fair ratio

    python bench/run.py                   # 1 MiB and 256 MiB, core only
    python bench/run.py --sizes 1M 64M    # other sizes
    python bench/run.py --clouds aws azure gcp   # also each cloud's bench module
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
PASSWORD = "bench-Password-1"
BLANK_IP = "10.0.0.99"
MIB = 1024 * 1024

# One measured step, run as `python -c STEP <json args>`; prints {"seconds", "peak_rss_mib"}.
STEP = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
kind = args["kind"]

def login(url, password, username="admin"):
    pool = urllib3.PoolManager(retries=False)
    token = json.loads(pool.request("GET", url + "/v2/api", fields={"action": "get_api_token"}).data)
    key = {"X-Access-Key": token["results"]["api_token"]}
    answer = json.loads(pool.request("POST", url + "/v2/api", headers=key, encode_multipart=False,
        fields={"action": "login", "username": username, "password": password}).data)
    return pool, key, answer["CID"]

import urllib3
if kind in ("backup", "restore"):
    from controller_backup.backup import run_backup
    from controller_backup.restore import run_restore
    from controller_backup.settings import Settings

start = time.perf_counter()
if kind == "raw_export":
    pool, key, cid = login(args["url"], args["password"])
    response = pool.request("GET", args["url"] + "/v2/api", headers=key,
        fields={"action": "export_config", "CID": cid}, preload_content=False)
    with open(args["path"], "wb") as out:
        for chunk in response.stream(1024 * 1024):
            out.write(chunk)
    response.release_conn()
elif kind in ("raw_import", "raw_import_export"):
    import os
    pool, key, cid = login(args["url"], args["password"])
    size = os.path.getsize(args["path"])
    boundary = "benchboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nimport_config\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"CID\"\r\n\r\n{cid}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.tar\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    class Body:
        def __init__(self):
            self.parts = [head, open(args["path"], "rb"), tail]
        def read(self, n=1024 * 1024):
            while self.parts:
                part = self.parts[0]
                chunk = part[:n] if isinstance(part, bytes) else part.read(n)
                if isinstance(part, bytes):
                    self.parts[0] = part[n:]
                if chunk:
                    return chunk
                self.parts.pop(0)
            return b""
    answer = pool.request("POST", args["url"] + "/v2/api", body=Body(), headers={**key,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail))})
    assert json.loads(answer.data)["return"], answer.data[:200]
    if kind == "raw_import_export":
        response = pool.request("GET", args["url"] + "/v2/api", headers=key,
            fields={"action": "export_config", "CID": cid}, preload_content=False)
        with open(args["path"] + ".check", "wb") as out:
            for chunk in response.stream(1024 * 1024):
                out.write(chunk)
elif kind == "backup":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"], "BACKUP_MIN_SIZE_RATIO": "0"})
    run_backup(settings, trigger="bench")
elif kind == "restore":
    settings = Settings.from_env({"CONTROLLER_URL": args["url"], "CONTROLLER_PASSWORD": args["password"],
        "BACKUP_URL": args["store"]})
    run_restore(settings, private_ip=args["private_ip"], force=True)
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib}))
"""


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def step(kind: str, **args: Any) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", STEP, json.dumps({"kind": kind, **args})],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


class EmulatorProcess:
    """`controller-backup emulator` in its own process, so its memory is not the client's."""

    def __init__(self, size: int, blank: bool = False) -> None:
        cmd = [sys.executable, "-m", "controller_backup.cli", "emulator", "--port", "0", "--size", str(size)]
        cmd += ["--blank", "--private-ip", BLANK_IP] if blank else ["--password", PASSWORD]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        if not self.url.startswith("http"):
            raise RuntimeError(f"emulator did not start: {self.url!r}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def bench_size(size: int, repeats: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        original = EmulatorProcess(size)
        try:
            raw_file = str(Path(tmp) / "raw.tar")
            store = str(Path(tmp) / "store" / "backup.tar")
            raw_export = [
                step("raw_export", url=original.url, password=PASSWORD, path=raw_file) for _ in range(repeats)
            ]
            backups = [
                step("backup", url=original.url, password=PASSWORD, store=store) for _ in range(repeats)
            ]
        finally:
            original.close()
        imports, restores, import_exports = [], [], []
        for _ in range(repeats):
            for kind, sink in (
                ("raw_import", imports),
                ("raw_import_export", import_exports),
                ("restore", restores),
            ):
                blank = EmulatorProcess(size, blank=True)
                try:
                    if kind == "restore":
                        sink.append(
                            step(kind, url=blank.url, password=PASSWORD, store=store, private_ip=BLANK_IP)
                        )
                    else:
                        sink.append(step(kind, url=blank.url, password=BLANK_IP, path=raw_file))
                finally:
                    blank.close()
    raw_export_s = statistics.median(r["seconds"] for r in raw_export)
    raw_import_s = statistics.median(r["seconds"] for r in imports)
    raw_import_export_s = statistics.median(r["seconds"] for r in import_exports)

    def row(
        name: str, samples: list[dict[str, float]], baseline: float, baseline_name: str
    ) -> dict[str, Any]:
        seconds = statistics.median(r["seconds"] for r in samples)
        return {
            "size_mib": round(size / MIB, 2),
            "name": name,
            "seconds": round(seconds, 3),
            "baseline": baseline_name,
            "ratio": round(seconds / baseline, 2),
            "peak_rss_mib": round(max(r["peak_rss_mib"] for r in samples), 1),
        }

    rows.append(row("raw export (HTTP GET to file)", raw_export, raw_export_s, "itself"))
    rows.append(row("backup", backups, raw_export_s, "raw export"))
    rows.append(row("raw import (multipart POST)", imports, raw_import_s, "itself"))
    rows.append(row("restore (incl. verifying re-export)", restores, raw_import_s, "raw import"))
    rows.append(
        row("restore (incl. verifying re-export)", restores, raw_import_export_s, "raw import + export")
    )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'size MiB':>9} {'step':<38} {'seconds':>8} {'ratio':>6} {'vs':<22} {'peak RSS MiB':>12}")
    for r in rows:
        print(
            f"{r['size_mib']:>9} {r['name']:<38} {r['seconds']:>8} {r['ratio']:>6} "
            f"{r['baseline']:<22} {r['peak_rss_mib']:>12}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["1M", "256M"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clouds", nargs="*", default=[], choices=["aws", "azure", "gcp"])
    parser.add_argument("--cloud-size", default="256M")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT / "shared"))
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        rows += bench_size(parse_size(size), args.repeats)
    print_table(rows)
    sizes = sorted({r["size_mib"] for r in rows})
    if len(sizes) >= 2:
        for name in ("backup", "restore (incl. verifying re-export)"):
            small = next(r for r in rows if r["name"] == name and r["size_mib"] == sizes[0])
            large = next(r for r in rows if r["name"] == name and r["size_mib"] == sizes[-1])
            print(
                f"peak RSS {name}: {large['peak_rss_mib']} MiB at {sizes[-1]} MiB vs "
                f"{small['peak_rss_mib']} MiB at {sizes[0]} MiB = "
                f"{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}x"
            )
    for cloud in args.clouds:
        module = importlib.import_module(f"bench_{cloud}")
        cloud_rows = module.run(parse_size(args.cloud_size))
        print(f"\n{cloud}:")
        for r in cloud_rows:
            print("  " + "  ".join(f"{k}={v}" for k, v in r.items()))
        if hasattr(module, "cold_start"):
            for r in module.cold_start():
                print("  cold start: " + "  ".join(f"{k}={v}" for k, v in r.items()))
        rows += [{"cloud": cloud, **r} for r in cloud_rows]
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
