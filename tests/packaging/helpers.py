"""What every cloud's bundle test shares: the script, the runtime's Python, and the probe that runs
code from an unpacked bundle alone.

A probe runs on the runtimes' Python (3.12, which the locks are built for, so compiled wheels
load) with `-S` and a clean environment: only the standard library and the bundle's folders are
importable, so a module missing from the bundle fails the probe instead of being found in the
repository or the dev venv.
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> Any:
    """scripts/package.py by its path (`scripts` is no package: another one of that name installed
    would win an import by name)."""
    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


package = sys.modules.get("package_script") or _load_script()

#: top-level modules no bundle may load: other clouds', and the test tooling's
FOREIGN = {
    "aws": {"azure", "google", "functions_framework", "moto", "pytest", "_pytest"},
    "azure": {"boto3", "botocore", "s3transfer", "aws_lambda_powertools", "google", "functions_framework"}
    | {"moto", "pytest", "_pytest"},
    "gcp": {"boto3", "botocore", "s3transfer", "aws_lambda_powertools", "azure", "moto", "pytest", "_pytest"},
}
#: the top-level modules of each store's SDK, which a bundle carrying that store for copies may load
STORE_SDKS = {"s3": {"boto3", "botocore", "s3transfer"}, "azblob": {"azure"}, "gs": {"google"}}


def runtime_python(version: str) -> str:
    """The runtimes' interpreter, found the way `make compat` finds it; missing is a failure."""
    home = os.path.expanduser("~")
    candidates = [
        f"python{version}",
        *sorted(glob.glob(f"{home}/.pyenv/versions/{version}.*/bin/python{version}")),
    ]
    for candidate in candidates:
        try:
            found = subprocess.run([candidate, "-c", ""], capture_output=True, check=False, timeout=30)
        except FileNotFoundError:
            continue
        if found.returncode == 0:
            return candidate
    pytest.fail(f"python{version}, the functions' runtime, is not installed: the bundle cannot be run")


def normalized(name: str) -> str:
    """A distribution's name as indexes compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock: Path) -> dict[str, str]:
    """name -> version of every requirement in a lock, each of which must carry a hash."""
    pins = {}
    for requirement in re.split(r"\n(?=\S)", lock.read_text()):
        if requirement.startswith("#") or not requirement.strip():
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+) \\\n", requirement)
        assert match, f"{lock.name}: not an exact pin: {requirement[:80]!r}"
        assert "--hash=sha256:" in requirement, f"{lock.name}: {match.group(1)} has no hash"
        pins[normalized(match.group(1))] = match.group(2)
    return pins


def installed_distributions(names: list[str]) -> dict[str, str]:
    """name -> version of the distributions a zip carries, from their .dist-info folders."""
    found = {}
    for name in names:
        folder = next((part for part in name.split("/") if part.endswith(".dist-info")), None)
        if folder:
            dist, _, version = folder.removesuffix(".dist-info").partition("-")
            found[normalized(dist)] = version
    return found


def unpack(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    return target


def core_files(archive: Path, bundle: Any) -> set[str]:
    """The core's files in a built zip, relative to the package."""
    prefix = f"{bundle.site_packages}controller_backup/"
    with zipfile.ZipFile(archive) as zipped:
        return {n.removeprefix(prefix) for n in zipped.namelist() if n.startswith(prefix)}


def _runtime_imports(tree: ast.Module, package_name: str) -> list[str]:
    """Every import statement of a module in `package_name`, lazy ones included, relative ones made
    absolute, but not those only type checkers read (`if TYPE_CHECKING:`)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level:
            anchor = package_name.split(".")[: len(package_name.split(".")) - node.level + 1]
            module = ".".join([*anchor, *([node.module] if node.module else [])])
            node = ast.ImportFrom(module=module, names=node.names, level=0)
        if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.module != "__future__"):
            found.append(ast.unparse(node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def bundle_imports(bundle: Any) -> list[str]:
    """Each import statement in the bundle's own code (handlers and core), once: a probe runs them
    all, so every branch's imports, not only the ones one run takes, must resolve in the bundle."""
    sources = [
        (bundle.function_dir / src, name.rpartition("/")[0].replace("/", "."))
        for name, src in bundle.app_files
        if src.endswith(".py")
    ]
    sources += [
        (package.CORE_DIR / module, "controller_backup." + module.rpartition("/")[0].replace("/", "."))
        for module in bundle.core_modules
    ]
    statements: dict[str, None] = {}
    for source, package_name in sources:
        for statement in _runtime_imports(ast.parse(source.read_text()), package_name.rstrip(".")):
            statements.setdefault(statement)
    return list(statements)


_PRELUDE = """
import importlib, json, sys
sys.path[:0] = {paths!r}
for statement in {imports!r}:
    exec(statement, {{}})
for module in {modules!r}:
    importlib.import_module(module)
"""
_EPILOGUE = """
core = [m for m in sys.modules if m.startswith("controller_backup")]
core = {m: getattr(sys.modules[m], "__file__", None) for m in core}
print("PROBE " + json.dumps({"result": result, "modules": sorted(sys.modules), "core": core}))
"""


def run_in_bundle(
    bundle: Any, paths: list[Path], code: str, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `code` (which sets `result`) from the unpacked bundle alone, after every import statement
    of the bundle's code and every core module in it; returns the result and what was loaded.

    Fails if anything imported came from outside `paths` and the standard library, or if a module
    of another cloud (or of the tests) was loaded, but for the SDKs of the stores it carries for
    its copies.
    """
    modules = []
    for module in bundle.core_modules:
        parts = ["controller_backup", *module.removesuffix(".py").split("/")]
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    probe = (
        _PRELUDE.format(paths=[str(p) for p in paths], imports=bundle_imports(bundle), modules=modules)
        + code
        + _EPILOGUE
    )
    clean = {k: v for k, v in (env if env is not None else os.environ).items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [runtime_python(bundle.python_version), "-S", "-c", probe],
        env=clean,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("PROBE "))
    report: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    report["stdout"] = proc.stdout
    outside = {m: f for m, f in report["core"].items() if f and not any(f.startswith(str(p)) for p in paths)}
    assert outside == {}, f"core modules loaded from outside the bundle: {outside}"
    allowed = set().union(*(STORE_SDKS[kind] for kind in bundle.copies))
    foreign = sorted({m.split(".")[0] for m in report["modules"]} & (FOREIGN[bundle.cloud] - allowed))
    assert foreign == [], f"the {bundle.cloud} bundle loaded {foreign}"
    return report


def assert_contents(archive: Path, bundle: Any) -> list[str]:
    """The zip holds the allow-listed core, exactly, its handlers and its lock; returns its names."""
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        infos = zipped.infolist()
    assert core_files(archive, bundle) == set(bundle.core_modules)
    assert {name for name, _ in bundle.app_files} <= set(names)
    # the emulator is the core's sibling, never deployed: neither it nor its libraries
    emulator = {"controller_emulator", "python_multipart", "trustme"}
    assert not [n for n in names if set(n.split("/")) & emulator]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in infos)
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert {n for n, mode in modes.items() if mode == 0o755} == {
        n for n in modes if n.endswith(".so") or ".so." in n
    }
    assert set(modes.values()) <= {0o644, 0o755}
    assert names == sorted(names)
    built_by = sys.executable.encode()  # nothing of the machine that built it
    with zipfile.ZipFile(archive) as zipped:
        assert not [n for n in names if built_by in zipped.read(n)]
        if bundle.install:  # the lock installed: exactly its pins, nothing more
            assert installed_distributions(names) == lock_pins(bundle.lock)
        else:  # the lock shipped as it is, for the platform to install
            assert zipped.read("requirements.txt") == bundle.lock.read_bytes()
    return names
