#!/usr/bin/env python3
"""Build the Cloud Functions source zip: `dist/gcp/source.zip`.

Contents: `main.py`, `requirements.txt` (the Google SDKs; Cloud Build installs them), and the core
vendored beside main.py as the `controller_backup` package, so the function imports it like any
local module. Only what the GCP function runs goes in: no other cloud's store or secret module,
no emulator, no command line. The zip is deterministic (sorted entries, fixed timestamps and
modes), so its hash changes only when its content does; Terraform names the uploaded object by
that hash, which is what makes a code change redeploy.

    python scripts/package_gcp.py [--output dist/gcp/source.zip]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "gcp"
CORE_DIR = ROOT / "shared" / "controller_backup"
DEFAULT_OUTPUT = ROOT / "dist" / "gcp" / "source.zip"

#: core paths (relative to the package) the GCP function never runs
EXCLUDED = {
    "emulator",
    "cli.py",
    "terminal.py",
    "demo.py",
    "stores/s3.py",
    "stores/azure_blob.py",
    "secrets/aws.py",
    "secrets/azure.py",
}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def core_files() -> list[Path]:
    files = []
    for path in sorted(CORE_DIR.rglob("*")):
        rel = path.relative_to(CORE_DIR)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if rel.as_posix() in EXCLUDED or rel.parts[0] in EXCLUDED:
            continue
        if path.suffix not in (".py", ".typed"):
            continue
        files.append(path)
    return files


def entries() -> list[tuple[str, Path]]:
    """(name in the zip, source file), sorted."""
    found = [("main.py", FUNCTION_DIR / "main.py"), ("requirements.txt", FUNCTION_DIR / "requirements.txt")]
    found += [(f"controller_backup/{p.relative_to(CORE_DIR).as_posix()}", p) for p in core_files()]
    return sorted(found)


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, source in entries():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    tmp.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    path = build(args.output)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    print(f"{path} {size} bytes ({size / 1024:.1f} KiB) sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
