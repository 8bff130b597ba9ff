"""Each bundle's allow-list is exactly the core its cloud runs: what its handlers import, directly or
through other modules (lazily too), plus the store and secret resolver the core imports by scheme
for that cloud's extra. Read from the source, no build: a new import of the handlers that the
list misses, or a listed module nothing imports, fails here before any bundle ships without it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from controller_backup import secrets, stores
from controller_backup.sdk import BACKENDS

from tests.packaging.helpers import package

CORE = package.CORE_DIR


def _module_file(name: str) -> str | None:
    """`controller_backup.x.y` -> `x/y.py` or `x/y/__init__.py`, if it is one of the core's."""
    parts = name.split(".")
    if parts[0] != "controller_backup":
        return None
    base = Path(*parts[1:]) if parts[1:] else Path()
    for candidate in (base / "__init__.py", base.with_suffix(".py") if parts[1:] else None):
        if candidate is not None and (CORE / candidate).is_file():
            return candidate.as_posix()
    return None


def _imported(source: Path, package_name: str) -> set[str]:
    """The module names an import statement of `source` names, relative ones resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_name.split(".")[: len(package_name.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def _closure(sources: list[tuple[Path, str]]) -> set[str]:
    """The core's files reachable from `sources` ((file, its package)), every parent package too."""
    found: set[str] = set()
    todo = list(sources)
    while todo:
        source, package_name = todo.pop()
        for name in _imported(source, package_name):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                module = _module_file(".".join(parts[:end]))
                if module is not None and module not in found:
                    found.add(module)
                    own_package = ".".join(
                        parts[:end] if module.endswith("__init__.py") else parts[: end - 1]
                    )
                    todo.append((CORE / module, own_package))
    return found


def _by_scheme(cloud: str) -> list[tuple[Path, str]]:
    """The modules the core imports by name for this cloud's schemes (stores and secrets)."""
    paths = []
    for backend, (_, extra) in BACKENDS.items():
        if extra != cloud:
            continue
        if backend.endswith("://"):
            target = stores._IMPLEMENTATIONS[backend.removesuffix("://")]
        else:
            target = secrets._LAZY_RESOLVERS[backend.removesuffix(":")]
        module = target.partition(":")[0]
        paths.append((CORE / (_module_file(module) or module), module.rpartition(".")[0]))
    return paths


@pytest.mark.parametrize("cloud", sorted(package.BUNDLES))
def test_the_allow_list_is_what_the_handlers_import(cloud: str) -> None:
    bundle = package.BUNDLES[cloud]
    handlers = [
        (bundle.function_dir / source, f"functions.{cloud}")
        for _, source in bundle.app_files
        if source.endswith(".py")
    ]
    by_scheme = _by_scheme(cloud)
    assert len(by_scheme) >= 2  # a store and a secret resolver at least
    needed = _closure(handlers + by_scheme) | {p.relative_to(CORE).as_posix() for p, _ in by_scheme}
    listed = set(bundle.core_modules)
    assert sorted(needed - listed) == [], "imported by the handlers, missing from the allow-list"
    assert sorted(listed - needed) == [], "in the allow-list, imported by nothing the handlers run"


@pytest.mark.parametrize("cloud", sorted(package.BUNDLES))
def test_no_bundle_lists_the_emulator_the_command_line_or_another_cloud(cloud: str) -> None:
    listed = set(package.BUNDLES[cloud].core_modules)
    # every entry is a file inside the core's package: `../controller_emulator/...` cannot be one
    assert all((CORE / module).resolve().is_relative_to(CORE.resolve()) for module in listed)
    assert all((CORE / module).is_file() for module in listed)
    assert not listed & {"cli.py", "status_view.py", "terminal.py"}
    for other, bundle in package.BUNDLES.items():
        if other != cloud:
            assert not listed & set(bundle.core_own)


def test_the_closure_sees_lazy_and_relative_imports() -> None:
    """The reader above finds imports inside functions and relative ones (a blind reader would let
    the first test pass with an allow-list too short)."""
    cli = _closure([(CORE / "cli.py", "controller_backup")])
    assert "terminal.py" in cli and "status_view.py" in cli  # imported inside functions only
    assert "stores/base.py" in _closure([(CORE / "stores" / "__init__.py", "controller_backup.stores")])


@pytest.mark.parametrize("cloud", sorted(package.BUNDLES))
def test_copies_to_adds_each_named_store_and_nothing_else(cloud: str) -> None:
    """`--copies-to` adds the named stores' modules; what they import of the core is on the cloud's
    allow-list already (a store of ours on another cloud's bundle needs no more of the core)."""
    bundle = package.BUNDLES[cloud]
    for kind in bundle.other_stores:
        modules = set(package.STORES[kind][0])
        assert set(bundle.with_copies([kind]).core_modules) == set(bundle.core_modules) | modules
        closure = _closure([(CORE / module, "controller_backup.stores") for module in modules])
        assert closure <= set(bundle.core_modules) | modules
    both = bundle.with_copies(list(bundle.other_stores))
    added = set(both.core_modules) - set(bundle.core_modules)
    assert added == {module for kind in bundle.other_stores for module in package.STORES[kind][0]}
