"""Build dist/aws/lambda.zip: the core, the AWS handlers and only the AWS dependencies.

    python scripts/package_aws.py [--output dist/aws/lambda.zip] [--python-version 3.12]

Dependencies are installed for the Lambda runtime, not for this machine: `pip install --target`
with `--platform manylinux2014_x86_64 --python-version 3.12 --only-binary=:all:`, so a wheel with
compiled code is the one Lambda can load. They are pinned to the versions installed here (the ones
the tests ran with); boto3 is in the Lambda runtime already, but the runtime's copy changes under
you, so the package carries its own. aws-xray-sdk comes along so `enable_tracing` works; it is
imported only when tracing is on.

botocore ships the models of every AWS service (15 of its 18 MiB zipped); the functions call only
a few, so the package keeps those models alone (`--all-botocore-models` keeps everything).

The zip is deterministic (sorted entries, fixed timestamps), so Terraform's source_code_hash
changes only when the content does.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "dist" / "aws" / "lambda.zip"
#: distributions the functions import at run time (and their own dependencies, resolved by pip)
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "aws-lambda-powertools",
    "urllib3",
    "aws-xray-sdk",
)
#: AWS services the functions call: S3 (the store), Secrets Manager and SSM (the password), EC2 and
#: Auto Scaling (the replacement controller), STS (credential providers that assume a role)
BOTOCORE_SERVICES = ("s3", "secretsmanager", "ssm", "ec2", "autoscaling", "sts")
#: needed only with tracing on; packaged even where this machine lacks it
_UNPINNED_IF_ABSENT = {"aws-xray-sdk"}
_EXCLUDED_DIRS = {"__pycache__", "tests", "test"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def pinned_requirements() -> list[str]:
    """`name==version` for each runtime distribution, as installed alongside this script."""
    requirements = []
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            requirements.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if name not in _UNPINNED_IF_ABSENT:
                raise SystemExit(f"{name} is not installed here; run `pip install -e '.[aws]'`") from None
            requirements.append(name)  # not installed here: the newest release for the runtime
    return requirements


def install_dependencies(target: Path, python_version: str, platform: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        *pinned_requirements(),
    ]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter and fixed arguments


def prune_botocore_models(target: Path, keep: tuple[str, ...] = BOTOCORE_SERVICES) -> int:
    """Delete the service models nobody calls; returns how many were removed."""
    data = target / "botocore" / "data"
    removed = 0
    for service in data.iterdir():
        if service.is_dir() and service.name not in keep:
            shutil.rmtree(service)
            removed += 1
    missing = [name for name in keep if not (data / name).is_dir()]
    if missing:
        raise SystemExit(f"botocore has no model for {missing}")
    return removed


def _copy_tree(source: Path, dest: Path) -> None:
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(*_EXCLUDED_DIRS, *(f"*{s}" for s in _EXCLUDED_SUFFIXES)),
        dirs_exist_ok=True,
    )


def copy_sources(target: Path) -> None:
    """The core package and the AWS handlers, laid out as the handler paths in Terraform expect."""
    _copy_tree(ROOT / "shared" / "controller_backup", target / "controller_backup")
    _copy_tree(ROOT / "functions" / "aws", target / "functions" / "aws")
    (target / "functions" / "__init__.py").write_text('"""Cloud function handlers."""\n')


def _included(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(p in _EXCLUDED_DIRS for p in parts[:-1]) and path.suffix not in _EXCLUDED_SUFFIXES


def write_zip(source: Path, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".zip.tmp")
    files = sorted(p for p in source.rglob("*") if p.is_file() and _included(p, source))
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(output)


def unpacked_size(output: Path) -> int:
    with zipfile.ZipFile(output) as archive:
        return sum(i.file_size for i in archive.infolist())


def build(
    output: Path,
    python_version: str = "3.12",
    platform: str = "manylinux2014_x86_64",
    *,
    all_botocore_models: bool = False,
) -> Path:
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as tmp:
        staging = Path(tmp) / "package"
        staging.mkdir()
        install_dependencies(staging, python_version, platform)
        if not all_botocore_models:
            prune_botocore_models(staging)
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing runs them
        copy_sources(staging)
        write_zip(staging, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--python-version", default="3.12", help="the Lambda runtime's Python")
    parser.add_argument(
        "--platform", default="manylinux2014_x86_64", help="the Lambda runtime's platform tag"
    )
    parser.add_argument("--all-botocore-models", action="store_true", help="keep every AWS service's model")
    args = parser.parse_args(argv)
    output = build(
        args.output.resolve(),
        args.python_version,
        args.platform,
        all_botocore_models=args.all_botocore_models,
    )
    zipped, unpacked = output.stat().st_size, unpacked_size(output)
    print(f"{output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}: "
          f"{zipped / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB unpacked "
          f"(Lambda's limits: 50 MiB zipped for a direct upload, 250 MiB unpacked)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
