"""Build one cloud's deployable bundle from its lock, or regenerate the locks.

    python scripts/package.py aws|azure|gcp [--output PATH] [--copies-to gs,azblob]   # the bundle
    python scripts/package.py --lock [--upgrade] [--uv UV] aws azure gcp

One pin policy for every cloud: `functions/<cloud>/requirements.lock` holds exact versions with
their hashes, resolved by uv from that cloud's extra in pyproject.toml (plus the core's own
dependencies) for the runtime's platform and Python. uv because it resolves for a platform and
Python other than this machine's; pip-compile resolves for the interpreter running it. The
bundles install exactly that lock (`pip --require-hashes --no-deps --only-binary=:all:` for the
target platform), so a build next month ships the versions the tests ran; only `--lock` changes
them (`--upgrade` moves every pin to the newest release the extras allow, else pins are kept).

Each bundle carries the core's modules its cloud runs, named in an allow-list (paths inside the
core's package, so the emulator, a sibling package, is out of its reach), and its own handlers;
never the command line, or another cloud's secret resolver, nor another cloud's store unless told:

- aws    dist/aws/lambda.zip: handlers and core at the root, the lock installed beside them,
         botocore keeping only the models of the services the functions call;
- azure  dist/azure/function.zip: the v2-model app at the root, the lock and the core in
         .python_packages/lib/site-packages (a zip deploy without a remote build);
- gcp    dist/gcp/source.zip: main.py, the core beside it, and the lock as requirements.txt,
         which Cloud Build installs (its hashes make that install exact too).

`--copies-to` (a deployment whose BACKUP_COPY_URLS go to other clouds) adds the named stores'
modules and takes `functions/<cloud>/requirements-copies.lock` for the lock: the cloud's pins plus
every other cloud's store SDK (the `<kind>-store` extras), each package pinned as the lock of a
cloud that runs it pins it (the three locks are its constraints). One copies lock per cloud,
installed whole whichever stores are named: a bundle always ships one lock exactly, and three
locks are not nine; the unnamed store's SDK is small, and nothing imports it without its module.

Zips are deterministic (sorted entries, fixed timestamps and modes), so a hash of the zip, which
Terraform redeploys on, changes only when the content does. A zip over its platform's size limits
stops the build. Needs pip alone (uv for `--lock`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE_DIR = ROOT / "shared" / "controller_backup"

#: the runtimes' platform: every cloud runs x86_64 Linux with glibc 2.34 or newer (Lambda
#: python3.12 on Amazon Linux 2023, Azure Flex Consumption, Cloud Functions python312); wheels for
#: glibc 2.28 and older load on all of them
GLIBC = (2, 28)
UV_PLATFORM = f"x86_64-manylinux_{GLIBC[0]}_{GLIBC[1]}"
#: pip takes platform tags literally, so the tags uv's platform accepts are spelled out
PIP_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC[1], 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)

#: the core's modules every function runs (what the handlers import, directly or through others)
CORE_COMMON = (
    "__init__.py",
    "addresses.py",
    "archive.py",
    "backup.py",
    "backup_record.py",
    "check.py",
    "copies.py",
    "controller/__init__.py",
    "controller/client.py",
    "controller/driver.py",
    "controller/native.py",
    "controller/native_fields.py",
    "controller/retry.py",
    "controller/version.py",
    "destinations.py",
    "durations.py",
    "errors.py",
    "inspection.py",
    "job_requests.py",
    "native_bucket.py",
    "progress.py",
    "redact.py",
    "restore.py",
    "restore_marker.py",
    "restore_source.py",
    "results.py",
    "sdk.py",
    "secrets/__init__.py",
    "settings.py",
    "spool.py",
    "stores/__init__.py",
    "stores/base.py",
    "stores/credentials.py",
    "targets.py",
    "verify.py",
    "verify_record.py",
)

#: store kind -> (its modules in the core, the extra that installs its SDK alone)
STORES = {
    "s3": (("stores/s3.py",), "s3-store"),
    "azblob": (("stores/azure_blob.py", "stores/parts.py"), "azblob-store"),
    "gs": (("stores/gcs.py",), "gcs-store"),
}
#: the botocore models the S3 store uses (S3, and STS for a copy's role), kept where it is a copy's
S3_STORE_SERVICES = ("s3", "sts")
MiB = 2**20


@dataclass(frozen=True)
class Bundle:
    """What one cloud deploys: where each part goes in its zip, and what the lock is built for."""

    cloud: str
    output: str
    #: the runtime's Python, as Terraform sets it
    python_version: str
    #: (name in the zip, file under functions/<cloud>) of the handlers
    app_files: tuple[tuple[str, str], ...]
    #: the cloud's own store and secret resolver, which the core imports by scheme
    core_own: tuple[str, ...]
    #: the cloud's own store kind (BACKUP_URL's scheme)
    store: str
    #: (name in the zip, content) of files the handlers' layout needs that the repository has not
    written: tuple[tuple[str, bytes], ...] = ()
    #: where the core and the installed lock go in the zip
    site_packages: str = ""
    #: the lock's name in the zip when it ships for the platform to install (else it is installed)
    lock_as: str = ""
    #: botocore service models kept (the others are 15 of botocore's 18 MiB zipped)
    botocore_services: tuple[str, ...] = ()
    #: the platform's limits on the zip and on its unpacked content, in bytes (None: none checked)
    max_zipped: int | None = None
    max_unpacked: int | None = None
    #: other clouds' stores carried for copies (`--copies-to`); their SDKs come with the copies lock
    copies: tuple[str, ...] = ()

    @property
    def function_dir(self) -> Path:
        return ROOT / "functions" / self.cloud

    @property
    def lock(self) -> Path:
        """What the bundle installs: the cloud's lock, or with copies the one that adds their SDKs."""
        return self.function_dir / ("requirements-copies.lock" if self.copies else "requirements.lock")

    @property
    def install(self) -> bool:
        """Whether the build installs the lock into the zip (else the platform installs it)."""
        return not self.lock_as

    @property
    def other_stores(self) -> tuple[str, ...]:
        """The store kinds `--copies-to` may name: every other cloud's."""
        return tuple(sorted(kind for kind in STORES if kind != self.store))

    @property
    def core_modules(self) -> tuple[str, ...]:
        """The allow-list: the core's files (relative to the package) this bundle carries."""
        copies = (module for kind in self.copies for module in STORES[kind][0])
        return tuple(sorted({*CORE_COMMON, *self.core_own, *copies}))

    def with_copies(self, kinds: Sequence[str]) -> Bundle:
        """This bundle carrying the stores of `kinds` too; a kind it cannot add stops the build."""
        wrong = [kind for kind in kinds if kind not in self.other_stores]
        if wrong or not kinds:
            raise SystemExit(
                f"--copies-to: {', '.join(wrong) or 'nothing'} is not another cloud's store; the "
                f"{self.cloud} bundle carries {self.store} already and can add {', '.join(self.other_stores)}"
            )
        return dataclasses.replace(self, copies=tuple(sorted(set(kinds))))


BUNDLES = {
    "aws": Bundle(
        cloud="aws",
        output="dist/aws/lambda.zip",
        python_version="3.12",
        app_files=tuple(
            (f"functions/aws/{name}", name)
            for name in ("__init__.py", "backup_handler.py", "common.py", "restore_handler.py")
        ),
        core_own=("secrets/aws.py", *STORES["s3"][0]),
        store="s3",
        # the handler paths are `functions.aws.<module>.handler`: a regular package, not a namespace
        written=(("functions/__init__.py", b'"""Cloud function handlers."""\n'),),
        # S3 (the store), Secrets Manager and SSM (the password), EC2 and Auto Scaling (the
        # replacement controller), STS (credential providers that assume a role)
        botocore_services=("autoscaling", "ec2", "s3", "secretsmanager", "ssm", "sts"),
        # a direct upload, and the function with its layers unpacked
        max_zipped=50 * MiB,
        max_unpacked=250 * MiB,
    ),
    "azure": Bundle(
        cloud="azure",
        output="dist/azure/function.zip",
        python_version="3.12",
        app_files=tuple((name, name) for name in ("function_app.py", "host.json", "replacement_vm.py")),
        core_own=("secrets/azure.py", *STORES["azblob"][0]),
        store="azblob",
        site_packages=".python_packages/lib/site-packages/",
    ),
    "gcp": Bundle(
        cloud="gcp",
        output="dist/gcp/source.zip",
        python_version="3.12",
        app_files=(("main.py", "main.py"),),
        core_own=("secrets/gcp.py", *STORES["gs"][0]),
        store="gs",
        lock_as="requirements.txt",
    ),
}

_EPOCH = (1980, 1, 1, 0, 0, 0)


# -- locks ----------------------------------------------------------------------------------------


def lock_command(bundle: Bundle) -> list[str]:
    """The `uv pip compile` arguments that write the bundle's lock (uv records them in its header).

    With copies: the cloud's extra and every other store's, each package constrained to its pin in
    the three clouds' own locks (written first), so a copy's SDK is the version its cloud runs.
    Every other store's, whichever `bundle.copies` names: one copies lock per cloud."""
    extras, constraints = [bundle.cloud], []
    if bundle.copies:
        extras += [STORES[kind][1] for kind in bundle.other_stores]
        constraints = [f"functions/{cloud}/requirements.lock" for cloud in sorted(BUNDLES)]
    return [
        "pip",
        "compile",
        "--generate-hashes",
        "--python-platform",
        UV_PLATFORM,
        "--python-version",
        bundle.python_version,
        *(arg for extra in extras for arg in ("--extra", extra)),
        *(arg for lock in constraints for arg in ("-c", lock)),
        "pyproject.toml",
        "-o",
        bundle.lock.relative_to(ROOT).as_posix(),
    ]


def write_lock(bundle: Bundle, uv: str, *, upgrade: bool = False) -> None:
    """Resolve the cloud's extra into its lock (relative paths, so the header is the same anywhere)."""
    extra = ["--upgrade"] if upgrade else []
    subprocess.run([uv, *lock_command(bundle), "--quiet", *extra], cwd=ROOT, check=True)  # noqa: S603


# -- building -------------------------------------------------------------------------------------


def install_lock(lock: Path, target: Path, python_version: str) -> None:
    """Install exactly the lock for the runtime (not for this machine): every pin, every hash."""
    subprocess.run(  # noqa: S603 - our own interpreter's pip, fixed arguments
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            *(arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)),
            "--target",
            str(target),
            "--requirement",
            str(lock),
        ],
        check=True,
    )


def prune_botocore_models(deps: Path, keep: Sequence[str]) -> None:
    """Delete the service models nobody calls; a kept one that is missing stops the build."""
    data = deps / "botocore" / "data"
    for service in data.iterdir():
        if service.is_dir() and service.name not in keep:
            shutil.rmtree(service)
    missing = [name for name in keep if not (data / name).is_dir()]
    if missing:
        raise SystemExit(f"botocore has no model for {missing}")


def _skipped(rel: Path) -> bool:
    # bytecode is rebuilt by the runtime; pip's console scripts are of no use to a function
    return "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo") or rel.parts[0] == "bin"


def _record(path: Path) -> bytes:
    """A RECORD without its console scripts' rows: they are not shipped, and their hashes cover
    the shebang pip wrote, the building interpreter's path, which would make the zip depend on it."""
    rows = path.read_bytes().splitlines(keepends=True)
    return b"".join(row for row in rows if not row.startswith(b"../"))


def entries(bundle: Bundle, deps: Path | None) -> dict[str, Path | bytes]:
    """Name in the zip -> its source file (or content): handlers, the allow-listed core, the deps."""
    found: dict[str, Path | bytes] = {name: bundle.function_dir / source for name, source in bundle.app_files}
    found.update(bundle.written)
    if bundle.lock_as:
        found[bundle.lock_as] = bundle.lock
    for module in bundle.core_modules:
        found[f"{bundle.site_packages}controller_backup/{module}"] = CORE_DIR / module
    if deps is not None:
        for path in sorted(deps.rglob("*")):
            rel = path.relative_to(deps)
            if path.is_file() and not _skipped(rel):
                name = f"{bundle.site_packages}{rel.as_posix()}"
                if name in found:
                    raise SystemExit(f"{name} is both ours and in the lock")
                found[name] = _record(path) if rel.name == "RECORD" else path
    return found


def write_zip(output: Path, files: dict[str, Path | bytes]) -> None:
    """The one zip writer: sorted entries, fixed timestamps, shared libraries executable."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            source = files[name]
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            base = name.rsplit("/", 1)[-1]
            mode = 0o755 if base.endswith(".so") or ".so." in base else 0o644
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source if isinstance(source, bytes) else source.read_bytes())
    tmp.replace(output)


def check_size(bundle: Bundle, output: Path) -> None:
    """Stop the build of a zip its platform would refuse, naming the limit."""
    with zipfile.ZipFile(output) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    for what, size, limit in (
        ("zipped", output.stat().st_size, bundle.max_zipped),
        ("unpacked", unpacked, bundle.max_unpacked),
    ):
        if limit is not None and size > limit:
            output.unlink()  # nobody deploys it by mistake
            raise SystemExit(
                f"{output.name}: {size / MiB:.1f} MiB {what}, over the {bundle.cloud} limit "
                f"of {limit / MiB:.0f} MiB"
            )


def build(bundle: Bundle, output: Path | None = None) -> Path:
    """Write the bundle's zip (by default under dist/) and return its path."""
    output = output or ROOT / bundle.output
    with tempfile.TemporaryDirectory(prefix=f"package-{bundle.cloud}-") as tmp:
        deps = None
        if bundle.install:
            deps = Path(tmp) / "site-packages"
            install_lock(bundle.lock, deps, bundle.python_version)
            # another cloud's bundle carrying botocore for its copies keeps the S3 store's models
            services = bundle.botocore_services or (S3_STORE_SERVICES if bundle.copies else ())
            if services:
                prune_botocore_models(deps, services)
        write_zip(output, entries(bundle, deps))
    check_size(bundle, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("clouds", nargs="+", choices=sorted(BUNDLES))
    parser.add_argument("--output", type=Path, help="the zip's path (one cloud only)")
    parser.add_argument(
        "--copies-to",
        type=lambda text: [kind.strip() for kind in text.split(",") if kind.strip()],
        help="other clouds' stores the bundle carries for its copies, comma-separated: s3, azblob, gs",
    )
    parser.add_argument("--lock", action="store_true", help="regenerate the locks instead of building")
    parser.add_argument("--upgrade", action="store_true", help="with --lock: newest versions, not kept pins")
    parser.add_argument("--uv", default="uv", help="with --lock: the uv executable")
    args = parser.parse_args(argv)
    if args.output and (args.lock or len(args.clouds) > 1):
        parser.error("--output names one zip: give one cloud, without --lock")
    if (args.upgrade or args.uv != "uv") and not args.lock:
        parser.error("--upgrade and --uv go with --lock")
    if args.copies_to is not None and args.lock:
        parser.error("--copies-to goes with a build: --lock writes every cloud's copies lock")
    if args.lock:
        # the copies locks last: the clouds' own locks are their constraints
        own = [BUNDLES[cloud] for cloud in args.clouds]
        for bundle in own + [b.with_copies(b.other_stores) for b in own]:
            write_lock(bundle, args.uv, upgrade=args.upgrade)
            print(bundle.lock.relative_to(ROOT))
        return 0
    for cloud in args.clouds:
        bundle = BUNDLES[cloud]
        if args.copies_to is not None:
            bundle = bundle.with_copies(args.copies_to)
        path = build(bundle, args.output.resolve() if args.output else None)
        with zipfile.ZipFile(path) as archive:
            count, unpacked = len(archive.infolist()), sum(i.file_size for i in archive.infolist())
        size = path.stat().st_size
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(
            f"{shown}: {size} bytes ({size / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB unpacked, "
            f"{count} files), sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
