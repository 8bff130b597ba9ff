"""What the benchmark drivers share: measured steps in fresh processes, the controller emulator,
the raw controller baselines, the cold-start harness, and ratio rows.

Every measured step runs as `python -m bench.steps.<module> <kind> <json args>` (bench/steps/), a
fresh interpreter, so the peak RSS it reports is that step's alone. Linux carries a process's peak
RSS across fork and exec into its children, so this module imports only the standard library: a
driver that imports it (and no cloud SDK) spawns steps that start light. `check_light_driver()`,
run before every measured step, fails loudly when a driver has loaded pytest, a cloud SDK or moto.
Baselines run in the same run as what they are compared with.

The backup and restore rows every cloud's driver prints:

- backup: `run_backup` from the controller emulator into the cloud's store (login, checks, spool +
  sha256, archive walk, conditional upload, read-back check), against the raw upload, against a
  raw export plus the raw upload, and against the slower of the two (what an overlapped backup
  has to move at the least)
- restore: `run_restore` from the store into a blank emulator (download, hash check, wait, version
  check, import, verifying re-export), against the raw download, and against the raw download plus
  a raw import and export
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "shared"
MIB = 1024 * 1024
#: the emulated controller's admin password; a blank controller's is its private IP
PASSWORD = "bench-Password-1"
BLANK_IP = "10.0.0.99"

#: one measured step's result: {"seconds", "peak_rss_mib"}
Sample = dict[str, float]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the repository and shared/ first on PYTHONPATH (for `bench` and the
    core, which is not installed), and `extra`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(SHARED), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def probe(name: str, *args: str) -> Any:
    """`python -m bench.probe <name> <args>`: a value read in a child process (see bench/probe.py)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.probe", name, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=child_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe {name} {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def parse_sizes(*texts: str) -> list[int]:
    """Sizes such as `256M` in bytes, by the emulator's own parser."""
    return [int(size) for size in probe("sizes", *texts)]


#: top-level packages a driver must never load: on Linux a child's peak RSS starts from its parent's
#: at spawn time (the high-water mark survives fork and exec), so any of these in the driver would
#: raise the peak RSS of every measured step after it (pytest alone takes a bare interpreter from
#: some 9 MiB to some 28 MiB)
HEAVY_MODULES = frozenset({"pytest", "_pytest", "boto3", "botocore", "azure", "google", "moto"})


def heavy_modules_loaded(modules: dict[str, Any] | None = None) -> list[str]:
    """The modules of HEAVY_MODULES' packages loaded in this process (or in `modules`).

    Bare namespace packages (no `__file__`, no code run) do not count: a `*-nspkg.pth` file in
    site-packages puts `google` and `google.cloud` in every interpreter at startup.
    """
    modules = sys.modules if modules is None else modules
    return sorted(
        name
        for name, module in list(modules.items())
        if name.partition(".")[0] in HEAVY_MODULES and getattr(module, "__file__", None)
    )


def check_light_driver() -> None:
    """Fail loudly if this driver has loaded a heavy module, which every measured step it spawns
    would inherit as its peak RSS floor: do that work in a child process (a step kind) instead."""
    heavy = heavy_modules_loaded()
    if heavy:
        roots = sorted({name.partition(".")[0] for name in heavy})
        raise RuntimeError(
            f"the benchmark driver has loaded {', '.join(roots)} ({len(heavy)} modules, e.g. "
            f"{', '.join(heavy[:3])}): every step it spawns would inherit that peak "
            "RSS (Linux carries it across fork and exec); import only the standard library in the "
            "driver and do SDK work in a child process"
        )


def step_command(step: str, **args: Any) -> list[str]:
    """The command of `step`, "module.kind": `python -m bench.steps.<module> <kind> <json args>`."""
    module, _, kind = step.partition(".")
    return [sys.executable, "-m", f"bench.steps.{module}", kind, json.dumps(args)]


def run_step(step: str, env: dict[str, str] | None = None, **args: Any) -> Sample:
    """Run `step` (`step_command`) in a fresh interpreter, with `env` (by default `child_env()`);
    its seconds and peak RSS.

    First checks that this driver is light (`check_light_driver`)."""
    check_light_driver()
    proc = subprocess.run(
        step_command(step, **args),
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env if env is not None else child_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{step} failed: {proc.stderr[-2000:]}")
    result: Sample = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


class EmulatorProcess:
    """`controller-backup emulator` in its own process, so its memory is not the client's."""

    def __init__(self, size: int, blank: bool = False, seed: int = 1) -> None:
        cmd = [sys.executable, "-m", "controller_backup.cli", "emulator", "--port", "0", "--size", str(size)]
        cmd += ["--seed", str(seed)]
        cmd += ["--blank", "--private-ip", BLANK_IP] if blank else ["--password", PASSWORD]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=child_env())
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        if not self.url.startswith("http"):
            raise RuntimeError(f"emulator did not start: {self.url!r}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def each_configuration(size: int, repeats: int) -> Iterator[EmulatorProcess]:
    """`repeats` controllers, one after the other, each holding another configuration of `size`:
    a backup of the configuration already stored only reads it back, so each measured backup
    needs a new one to measure the upload."""
    for seed in range(1, repeats + 1):
        with EmulatorProcess(size, seed=seed) as emulator:
            yield emulator


def raw_export(url: str, path: str) -> Sample:
    """The least a backup moves from the controller: its export, straight into `path`."""
    return run_step("raw.export", url=url, password=PASSWORD, path=path)


def raw_into_blank(size: int, kind: str, path: str) -> Sample:
    """A raw `import` (or `import_export`) of `path` into a fresh blank emulator."""
    with EmulatorProcess(size, blank=True) as blank:
        return run_step(f"raw.{kind}", url=blank.url, password=BLANK_IP, path=path)


def restore_into_blank(size: int, store: str, env: dict[str, str] | None = None, **args: Any) -> Sample:
    """A restore from `store` into a fresh blank emulator (a restore needs a new one)."""
    with EmulatorProcess(size, blank=True) as blank:
        return run_step(
            "core.restore", env, url=blank.url, password=PASSWORD, store=store, private_ip=BLANK_IP, **args
        )


def median_seconds(samples: Iterable[Sample]) -> float:
    """Medians, not means: the machine is shared, and one slow run should not move the figure."""
    return float(statistics.median(s["seconds"] for s in samples))


def ratio_row(
    name: str,
    samples: list[Sample],
    baseline: float,
    baseline_name: str,
    size: int,
    baseline_key: str = "baseline",
) -> dict[str, Any]:
    """A step's median seconds against a baseline measured in the same run (and the ratios of its
    fastest, median and slowest runs: single runs move a lot on a shared machine), and its highest
    peak RSS."""
    seconds = median_seconds(samples)
    spread = sorted(s["seconds"] for s in samples)
    return {
        "name": name,
        "size_mib": round(size / MIB, 2),
        "seconds": round(seconds, 3),
        "ratio": round(seconds / baseline, 2),
        "ratio_min_median_max": "/".join(f"{x / baseline:.2f}" for x in (spread[0], seconds, spread[-1])),
        baseline_key: baseline_name,
        "peak_rss_mib": round(max(s["peak_rss_mib"] for s in samples), 1),
    }


#: each cloud's top-level packages: a cloud's function must load none of the others'
CLOUD_PACKAGES = {
    "aws": ("boto3", "botocore", "aws_lambda_powertools"),
    "azure": ("azure",),
    "gcp": ("google", "functions_framework"),
}


class ImportCase(NamedTuple):
    """A cold-start row named `label` (else its code): `code` is timed, after `setup` (what a runtime
    has loaded already) and with `path` first on sys.path; its ratios are against case `baseline`."""

    code: str
    label: str = ""
    baseline: str = "sdk"
    setup: str = ""
    path: str = ""


def _import_sample(case: ImportCase, foreign: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    check_light_driver()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.steps.cold_start", case.code, case.setup, case.path, foreign],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
        cwd=str(cwd),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold start of {case.code!r} failed: {proc.stderr[-2000:]}")
    sample: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return sample


def cold_start_rows(
    cloud: str,
    cases: dict[str, ImportCase],
    repeats: int,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A row per case, in order: medians of `repeats` fresh interpreters per case.

    The disk cache is warmed once first, and the repeats are interleaved so machine noise hits
    every case alike. `foreign_modules` counts the modules of other clouds' packages that a case
    loaded: there must be none.
    """
    roots = ",".join(p for other, packages in CLOUD_PACKAGES.items() if other != cloud for p in packages)
    env = env if env is not None else child_env()
    for case in cases.values():
        _import_sample(case, roots, env, cwd)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            samples[name].append(_import_sample(case, roots, env, cwd))

    def median(name: str, key: str) -> float:
        return float(statistics.median(s[key] for s in samples[name]))

    return [
        {
            "name": case.label or case.code,
            "seconds": round(median(name, "seconds"), 3),
            "ratio": round(median(name, "seconds") / median(case.baseline, "seconds"), 2),
            "peak_rss_mib": round(median(name, "peak_rss_mib"), 1),
            "rss_ratio": round(median(name, "peak_rss_mib") / median(case.baseline, "peak_rss_mib"), 2),
            "foreign_modules": len({m for s in samples[name] for m in s["foreign"]}),
        }
        for name, case in cases.items()
    ]


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """The options every script has: `--repeats` and `--json`; the module docstring as help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this file")
    return parser


def format_row(row: dict[str, Any]) -> str:
    """`key=value` pairs, two spaces apart: how the cloud scripts print a row."""
    return "  ".join(f"{k}={v}" for k, v in row.items())


def cloud_main(
    doc: str,
    run: Callable[[int, int], list[dict[str, Any]]],
    cold_start: Callable[[int], list[dict[str, Any]]],
) -> int:
    """The command line of a cloud script: transfer rows at `--size`, then the cold start."""
    parser = argument_parser(doc)
    parser.add_argument("--size", default="256M")
    parser.add_argument("--cold-start-repeats", type=int, default=7)
    parser.add_argument("--skip-transfer", action="store_true", help="only measure the cold start")
    parser.add_argument("--no-cold-start", action="store_true", help="only measure the transfers")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    if not args.skip_transfer:
        rows += run(parse_sizes(args.size)[0], args.repeats)
    if not args.no_cold_start:
        rows += cold_start(args.cold_start_repeats)
    for r in rows:
        print(format_row(r))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0
