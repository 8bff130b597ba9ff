#!/usr/bin/env python3
"""Build the Azure Functions deployment zip: `dist/azure/function.zip`.

Layout (what the Python worker on Linux expects of a zip deploy without a remote build):

    host.json                              at the root
    function_app.py, replacement_vm.py     the v2-model app
    .python_packages/lib/site-packages/    the dependencies, installed for the runtime:
        azure-* SDKs (pip --platform manylinux2014_x86_64 --python-version 3.12 --only-binary=:all:)
        controller_backup/                 the core, without other clouds' stores and secrets,
                                           the emulator or the command line

The zip is deterministic (sorted entries, fixed timestamps and modes), so its hash changes only
when its content does; pass that hash to Terraform to redeploy on change. The build refuses to
finish if an AWS or Google package slipped into the dependencies.

    python scripts/package_azure.py [--output dist/azure/function.zip] [--python-version 3.12]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "azure"
CORE_DIR = ROOT / "shared" / "controller_backup"
DEFAULT_OUTPUT = ROOT / "dist" / "azure" / "function.zip"
SITE_PACKAGES = ".python_packages/lib/site-packages"
APP_FILES = ("host.json", "function_app.py", "replacement_vm.py")

#: core paths (relative to the package) the Azure function never runs
EXCLUDED_CORE = {
    "emulator",
    "cli.py",
    "terminal.py",
    "demo.py",
    "stores/s3.py",
    "stores/gcs.py",
    "secrets/aws.py",
    "secrets/gcp.py",
}
#: top-level names that must never be in the Azure zip
FOREIGN = ("boto3", "botocore", "s3transfer", "aws_lambda_powertools", "google", "functions_framework")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def core_files() -> list[Path]:
    files = []
    for path in sorted(CORE_DIR.rglob("*")):
        rel = path.relative_to(CORE_DIR)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix not in (".py", ".typed"):
            continue
        if rel.as_posix() in EXCLUDED_CORE or rel.parts[0] in EXCLUDED_CORE:
            continue
        files.append(path)
    return files


def install_dependencies(target: Path, python_version: str) -> None:
    """pip-install the SDKs for the Functions runtime (Linux x86_64), binary wheels only."""
    subprocess.run(  # noqa: S603 - a fixed pip command line; only the version is an argument
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            "--platform",
            "manylinux2014_x86_64",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
            "--upgrade",
            "-r",
            str(FUNCTION_DIR / "requirements.txt"),
        ],
        check=True,
    )


def _skip_dependency(rel: Path) -> bool:
    # bytecode is rebuilt by the runtime; pip's console scripts are of no use to a function
    return "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo") or rel.parts[0] == "bin"


def entries(deps: Path) -> list[tuple[str, Path]]:
    """(name in the zip, source file), sorted."""
    found = [(name, FUNCTION_DIR / name) for name in APP_FILES]
    found += [
        (f"{SITE_PACKAGES}/controller_backup/{p.relative_to(CORE_DIR).as_posix()}", p) for p in core_files()
    ]
    for path in sorted(deps.rglob("*")):
        rel = path.relative_to(deps)
        if path.is_file() and not _skip_dependency(rel):
            found.append((f"{SITE_PACKAGES}/{rel.as_posix()}", path))
    return sorted(found)


def check_foreign(deps: Path) -> None:
    foreign = sorted(p.name for p in deps.iterdir() if p.name.split("-")[0].split(".")[0] in FOREIGN)
    if foreign:
        raise SystemExit(f"refusing to package other clouds' modules: {', '.join(foreign)}")


def build(output: Path = DEFAULT_OUTPUT, python_version: str = "3.12") -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="package-azure-") as tmp:
        deps = Path(tmp) / "site-packages"
        install_dependencies(deps, python_version)
        check_foreign(deps)
        tmp_zip = output.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name, source in entries(deps):
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                # keep shared libraries executable, everything else read-only data
                mode = 0o755 if source.suffix == ".so" or ".so." in source.name else 0o644
                info.external_attr = mode << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, source.read_bytes())
        tmp_zip.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--python-version", default="3.12", help="the function app's Python version")
    args = parser.parse_args(argv)
    path = build(args.output, args.python_version)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    print(
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size} bytes "
        f"({size / 1024 / 1024:.1f} MiB, {count} files), sha256 {digest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
