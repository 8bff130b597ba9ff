"""The benchmark's measured steps run as modules, each printing its seconds and peak RSS; the
drivers stay light, and the guard that says so still refuses a heavy one.

Only the steps that need no cloud server run here (the controller emulator and a local folder);
the cloud steps run in `make bench`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import common

SIZE = 64 << 10


def spawn(command: list[str]) -> subprocess.CompletedProcess[str]:
    """`command` in a child with the drivers' environment (`bench` and the core on its path)."""
    return subprocess.run(
        command, capture_output=True, text=True, check=False, env=common.child_env(), timeout=120
    )


def run(step: str, **args: Any) -> dict[str, Any]:
    """`step` as the drivers run it (`common.step_command`), from this (heavy) test process."""
    proc = spawn(common.step_command(step, **args))
    assert proc.returncode == 0, proc.stderr[-2000:]
    sample: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(sample) == {"seconds", "peak_rss_mib"}
    assert 0 < sample["seconds"] < 60
    # Linux carries this (heavy) test process's peak RSS into the child: the step's own bound sits
    # on top of that floor (the drivers themselves stay light, `check_light_driver`)
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert 5 < sample["peak_rss_mib"] < inherited + 512
    return sample


def test_raw_and_core_steps_against_the_emulator(tmp_path: Path) -> None:
    raw, store = tmp_path / "raw.tar", str(tmp_path / "store" / "backup.tar")
    with common.EmulatorProcess(SIZE) as original:
        run("raw.export", url=original.url, password=common.PASSWORD, path=str(raw))
        run("core.backup", url=original.url, password=common.PASSWORD, store=store)
    assert raw.stat().st_size >= SIZE
    with common.EmulatorProcess(SIZE, blank=True) as blank:
        run("raw.import", url=blank.url, password=common.BLANK_IP, path=str(raw))
    with common.EmulatorProcess(SIZE, blank=True) as blank:
        run("raw.import_export", url=blank.url, password=common.BLANK_IP, path=str(raw))
    # the hand-made multipart body carried the archive whole: the controller exports it back
    assert (tmp_path / "raw.tar.check").read_bytes() == raw.read_bytes()
    with common.EmulatorProcess(SIZE, blank=True) as blank:
        run(
            "core.restore",
            url=blank.url,
            password=common.PASSWORD,
            store=store,
            private_ip=common.BLANK_IP,
        )


def test_store_steps_through_a_local_store(tmp_path: Path) -> None:
    source, copy = tmp_path / "source.bin", tmp_path / "copy.bin"
    source.write_bytes(bytes(range(256)) * 1024)
    store = {"store_class": "controller_backup.stores.local:LocalStore", "store": str(tmp_path / "s" / "o")}
    run("store.put", path=str(source), **store)
    run("store.download", path=str(copy), **store)
    assert copy.read_bytes() == source.read_bytes()


def test_an_unknown_kind_fails() -> None:
    proc = spawn(common.step_command("raw.upload"))
    assert proc.returncode != 0
    assert "unknown step kind 'upload'" in proc.stderr


def cold_start(code: str, setup: str, foreign_roots: str) -> dict[str, Any]:
    proc = spawn([sys.executable, "-m", "bench.steps.cold_start", code, setup, "", foreign_roots])
    assert proc.returncode == 0, proc.stderr[-2000:]
    sample: dict[str, Any] = json.loads(proc.stdout)
    assert sample["seconds"] > 0 and sample["peak_rss_mib"] > 5
    return sample


def test_cold_start_names_the_foreign_modules_a_case_loaded() -> None:
    # `email.mime.text` stands in for another cloud's SDK; `setup` loads `email` before the clock
    assert cold_start("import email.mime.text", "import email", "boto3,azure")["foreign"] == []
    assert "email.mime.text" in cold_start("import email.mime.text", "import email", "email")["foreign"]


def test_run_step_refuses_to_measure_from_a_heavy_driver(tmp_path: Path) -> None:
    # this process has loaded pytest: every step it spawned would start from its peak RSS
    with pytest.raises(RuntimeError, match=r"has loaded _pytest, (.*, )?pytest \("):
        common.run_step("raw.export", url="http://127.0.0.1:9", password="-", path=str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_heavy_modules_are_those_that_ran_code() -> None:
    namespace = types.ModuleType("google")  # what a *-nspkg.pth file leaves: no __file__, no code
    sdk = types.ModuleType("boto3")
    sdk.__file__ = "site-packages/boto3/__init__.py"
    assert common.heavy_modules_loaded({"google": namespace, "boto3": sdk, "json": json}) == ["boto3"]


def test_the_drivers_load_nothing_heavy() -> None:
    code = (
        "import bench.run, bench.bench_aws, bench.bench_azure, bench.bench_gcp, bench.common as c; "
        "c.check_light_driver(); print(sorted(c.heavy_modules_loaded()))"
    )
    proc = spawn([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_sizes_are_read_by_the_emulators_parser() -> None:
    assert common.parse_sizes("64K", "1M", "2G") == [64 << 10, 1 << 20, 2 << 30]
    with pytest.raises(RuntimeError, match="not a size: 'lots'"):
        common.parse_sizes("lots")


def test_run_py_prints_its_table_and_rows(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    run_py = str(common.ROOT / "bench" / "run.py")
    proc = spawn([sys.executable, run_py, "--sizes", "64K", "--repeats", "1", "--json", str(rows_file)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split()[:4] == ["size", "MiB", "step", "seconds"]
    rows = json.loads(rows_file.read_text())
    assert [(r["name"], r["baseline"]) for r in rows] == [
        ("raw export (HTTP GET to file)", "itself"),
        ("backup", "raw export"),
        ("raw import (multipart POST)", "itself"),
        ("restore (incl. verifying re-export)", "raw import"),
        ("restore (incl. verifying re-export)", "raw import + export"),
    ]
    assert all(r["seconds"] > 0 and r["ratio"] > 0 and r["peak_rss_mib"] > 5 for r in rows)
