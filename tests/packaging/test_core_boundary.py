"""The core never depends on its sibling, the emulator: no module of `controller_backup` imports
`controller_emulator`, except the command line, inside the functions of the two commands that run
one. Read from the source, every import statement (lazy ones too), so a new import fails here
before it puts the emulator on a function's import path or the command line's start."""

from __future__ import annotations

import ast

from tests.packaging.helpers import package

CORE = package.CORE_DIR
EMULATOR = "controller_emulator"
#: the command line's functions that may import the emulator: its two commands, and `demo --size`
ALLOWED = {"cli.py": {"_cmd_demo", "_parse_size", "_run_emulator"}}


def _emulator_imports(tree: ast.Module) -> list[tuple[str | None, int]]:
    """(enclosing function, line) of each import of the emulator; None at module or class level."""
    found: list[tuple[str | None, int]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(name == EMULATOR or name.startswith(f"{EMULATOR}.") for name in names):
            found.append((function, node.lineno))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def test_only_the_command_lines_emulator_commands_import_the_emulator() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 30  # the whole core is read, not an empty folder
    seen: dict[str, set[str | None]] = {}
    for path in modules:
        source = ast.parse(path.read_text(), filename=str(path))
        for function, _ in _emulator_imports(source):
            seen.setdefault(path.relative_to(CORE).as_posix(), set()).add(function)
    assert seen == ALLOWED


def test_the_scan_sees_every_form_of_import() -> None:
    """The reader above finds module-level, lazy, dotted and `import x` forms (a blind reader would
    let the first test pass with the core importing the emulator)."""
    source = ast.parse(
        "import controller_emulator\n"
        "from controller_emulator.cli import main\n"
        "import controller_emulatorish\n"
        "from . import controller_emulator as relative\n"
        "class Holder:\n"
        "    import controller_emulator.state\n"
        "def command():\n"
        "    def inner():\n"
        "        from controller_emulator import Emulator\n"
    )
    assert _emulator_imports(source) == [(None, 1), (None, 2), (None, 6), ("inner", 9)]
