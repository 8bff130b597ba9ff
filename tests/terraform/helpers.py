"""Offline Terraform checks shared by every cloud's module tests.

No provider can be downloaded here, so a module is checked by `terraform fmt -check`, parsed with
python-hcl2 for its structure, and scanned with checkov (installed in its own venv by `make tools`,
because checkov's hcl2 fork clashes with python-hcl2). Where a provider is installed locally (the
AWS one, under TF_PLUGIN_DIR), `terraform validate` checks every argument against its real schema
and `terraform test` plans the module with it, asserting on the planned values. A missing tool
fails the test loudly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
#: plain values: python-hcl2 8 otherwise keeps the quotes around strings and block labels
_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
TERRAFORM_DIR = ROOT / "infra" / "terraform"


def _tool(name: str, env_var: str, default: Path | None = None) -> str:
    path = os.environ.get(env_var) or (str(default) if default and default.exists() else shutil.which(name))
    if not path:
        raise AssertionError(f"{name} is not installed (set {env_var} or run `make tools`)")
    return path


def terraform_fmt_problems(directory: Path) -> list[str]:
    """Files under `directory` that `terraform fmt -check -recursive` would rewrite."""
    proc = subprocess.run(
        [_tool("terraform", "TERRAFORM_BIN"), "fmt", "-check", "-recursive", "-list=true", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 3):
        raise AssertionError(f"terraform fmt failed: {proc.stderr}")
    return [line for line in proc.stdout.splitlines() if line.strip()]


#: a filesystem mirror of providers (`terraform init -plugin-dir`): terraform cannot download one here
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))


def _plugin_dir(provider: str) -> Path:
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / provider).is_dir():
        raise AssertionError(f"no local {provider} provider under {PLUGIN_DIR} (set TF_PLUGIN_DIR)")
    return PLUGIN_DIR


def terraform_validate(tree: Path, directory: Path, workdir: Path, provider: str) -> None:
    """`terraform validate` of `directory` (inside `tree`) against the real provider schema.

    `tree` is copied to `workdir` first, so `.terraform` never lands in the repository and a
    module's relative source (`../..`) still resolves; init uses only the local plugin mirror.
    """
    terraform = _tool("terraform", "TERRAFORM_BIN")
    copy = workdir / tree.name
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    cwd = copy / directory.relative_to(tree)
    for args in (
        ["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={_plugin_dir(provider)}"],
        ["validate", "-no-color"],
    ):
        proc = subprocess.run(
            [terraform, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
        )
        if proc.returncode != 0:
            raise AssertionError(f"terraform {args[0]} failed in {directory}: {proc.stdout}{proc.stderr}")


@dataclass
class PlanRun:
    """One `run` block's outcome in `terraform test -json`: pass, fail, error or skip."""

    status: str
    diagnostics: list[str] = field(default_factory=list)

    def report(self) -> str:
        if self.status == "skip":
            return "skipped: an earlier run in its file ended in an error"
        return f"{self.status}\n" + "\n".join(self.diagnostics)


def _diagnostic(message: dict[str, Any], sources: dict[str, tuple[Path, int, Path]]) -> str:
    """A diagnostic as Terraform prints it: summary, detail, where, and the values it saw. `sources`
    maps a copied test file to its own path, its length in lines and the shared file appended to
    it, so the place is given in the repository's files."""
    diag = message["diagnostic"]
    lines = [f"{diag.get('summary', '')}: {diag.get('detail', '')}".strip()]
    if where := diag.get("range"):
        path, line = where["filename"], where["start"]["line"]
        if path in sources:
            own, length, shared = sources[path]
            path, line = (str(own), line) if line <= length else (str(shared), line - length - 1)
        snippet = diag.get("snippet") or {}
        lines.append(f"  at {path}:{line}: {snippet.get('code', '').strip()}")
        lines += [f"  {v['traversal']} {v['statement']}" for v in snippet.get("values", [])]
    return "\n".join(lines)


def terraform_test(
    module: Path,
    test_files: list[Path],
    shared: Path,
    workdir: Path,
    provider: str,
    variables: dict[str, Any],
) -> dict[tuple[str, str], PlanRun]:
    """`terraform test` of `module` with `test_files`: (file name, run name) -> its outcome.

    The module is copied to `workdir`, each test file under `tests/` with `shared` (the provider
    and overrides every file plans with) appended, so a diagnostic's line is the file's own. It is
    initialised from the local plugin mirror and tested once, with `variables` in a var file (the
    package path, and facts from the code the test files assert the module against).
    """
    terraform = _tool("terraform", "TERRAFORM_BIN")
    copy = workdir / module.name
    shutil.copytree(module, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "examples"))
    (copy / "tests").mkdir()
    sources: dict[str, tuple[Path, int, Path]] = {}
    for test_file in test_files:
        text = test_file.read_text()
        (copy / "tests" / test_file.name).write_text(f"{text}\n{shared.read_text()}")
        sources[f"tests/{test_file.name}"] = (
            test_file.relative_to(ROOT),
            text.count("\n"),
            shared.relative_to(ROOT),
        )
    var_file = workdir / "facts.tfvars.json"
    var_file.write_text(json.dumps(variables))
    init = ["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={_plugin_dir(provider)}"]
    proc = subprocess.run(
        [terraform, *init], cwd=copy, capture_output=True, text=True, check=False, timeout=300
    )
    if proc.returncode != 0:
        raise AssertionError(f"terraform init failed: {proc.stdout}{proc.stderr}")
    proc = subprocess.run(
        [terraform, "test", "-json", "-no-color", f"-var-file={var_file}"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    runs: dict[tuple[str, str], PlanRun] = {}
    # a diagnostic about a whole file ("" for the configuration) belongs to each of its runs
    beside_runs: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        file_name = Path(message.get("@testfile", "")).name
        if message.get("type") == "test_abstract":
            for path, names in message["test_abstract"].items():
                runs.update({(Path(path).name, name): PlanRun("not run") for name in names})
        elif message.get("type") == "test_run" and message["test_run"].get("progress") == "complete":
            runs[(file_name, message["@testrun"])].status = message["test_run"]["status"]
        elif message.get("type") == "diagnostic":
            run = runs.get((file_name, message.get("@testrun", "")))
            if run is not None:
                run.diagnostics.append(_diagnostic(message, sources))
            else:
                beside_runs.setdefault(file_name, []).append(_diagnostic(message, sources))
    if not runs:
        raise AssertionError(f"terraform test ran nothing: {proc.stdout}{proc.stderr}")
    for (file_name, _), run in runs.items():
        run.diagnostics += beside_runs.get(file_name, []) + beside_runs.get("", [])
    return runs


def load_file(path: Path) -> dict[str, list[Any]]:
    """One .tf file's top-level blocks, with plain (unquoted) strings."""
    with path.open() as fh:
        parsed: dict[str, list[Any]] = hcl2.load(fh, serialization_options=_HCL_OPTIONS)
    return parsed


def load_module(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of the module's .tf files, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for tf in sorted(directory.glob("*.tf")):
        for block_type, blocks in load_file(tf).items():
            merged.setdefault(block_type, []).extend(blocks)
    return merged


def blocks(module: dict[str, list[Any]], kind: str, type_name: str) -> dict[str, dict[str, Any]]:
    """name -> body of every `<kind> "<type_name>" "<name>"` block (kind: resource, data, ...)."""
    found: dict[str, dict[str, Any]] = {}
    for block in module.get(kind, []):
        found.update(block.get(type_name, {}))
    return found


def resources(module: dict[str, list[Any]], resource_type: str) -> dict[str, dict[str, Any]]:
    """name -> body of every `resource "<resource_type>" "<name>"` block."""
    return blocks(module, "resource", resource_type)


#: a resource address in a `moved` block: type.name, with an optional ["key"] or [index]
_ADDRESS = re.compile(r'(?P<type>\w+)\.(?P<name>\w+)(?:\[(?:"(?P<key>[^"]+)"|(?P<index>\d+))\])?')


def moves(module: dict[str, list[Any]]) -> dict[str, str]:
    """from -> to of every `moved` block, as plain addresses (`aws_iam_role.function["backup"]`)."""
    return {
        block["from"].removeprefix("${").removesuffix("}"): block["to"].removeprefix("${").removesuffix("}")
        for block in module.get("moved", [])
    }


def moved_problems(module: dict[str, list[Any]]) -> list[str]:
    """What would make a `moved` block lose an existing deployment's object: a `from` block still
    declared (Terraform refuses the move), or a `to` that names no block of the same type, a key
    on a block without for_each, or an index on a block without count."""
    problems = []
    for source, target in moves(module).items():
        old, new = _ADDRESS.fullmatch(source), _ADDRESS.fullmatch(target)
        if old is None or new is None:
            problems.append(f"{source} -> {target}: not a resource address")
            continue
        if old["type"] != new["type"]:
            problems.append(f"{source} -> {target}: another resource type")
        if old["key"] is None and old["index"] is None and old["name"] in resources(module, old["type"]):
            problems.append(f"{source} is still declared")
        body = resources(module, new["type"]).get(new["name"])
        if body is None:
            problems.append(f"{target}: no such block")
        elif new["key"] is not None and "for_each" not in body:
            problems.append(f"{target}: a key, but the block has no for_each")
        elif new["index"] is not None and "count" not in body:
            problems.append(f"{target}: an index, but the block has no count")
    return problems


def merged(module: dict[str, list[Any]], kind: str) -> dict[str, Any]:
    """name -> body of every top-level block of `kind` (variable, output, module), or every local
    of the `locals` blocks: one mapping, whichever file declares it."""
    found: dict[str, Any] = {}
    for block in module.get(kind, []):
        found.update(block)
    return found


def variables(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    """name -> body of every `variable "<name>"` block."""
    return merged(module, "variable")


#: the start of a validation that makes a variable required in native mode
_NATIVE_CONDITION = 'var.backup_mode != "native" ||'


def native_required(declared: dict[str, dict[str, Any]]) -> set[str]:
    """The variables a validation requires in native mode (each module says so the same way)."""
    return {
        name
        for name, body in declared.items()
        for rule in body.get("validation", [])
        if _NATIVE_CONDITION in rule["condition"] and f"var.{name} != null" in rule["condition"]
    }


def assert_native_mode_rule(declared: dict[str, dict[str, Any]], name: str) -> None:
    """`name` has a validation that requires it in native mode, naming it and the way out."""
    condition = f"{_NATIVE_CONDITION} var.{name} != null"
    rule = next((r for r in declared[name]["validation"] if condition in r["condition"]), None)
    assert rule is not None, f"{name}: no validation requires it in native mode"
    assert rule["error_message"].startswith(f"{name} is required in native mode")
    # and says what to do for a controller that serves export_config instead
    assert 'set backup_mode = "export"' in rule["error_message"]


def assert_example_runs_native_mode(
    call: dict[str, Any], declared: dict[str, dict[str, Any]], required: tuple[str, ...]
) -> None:
    """An example's module call: native mode, with every input native mode requires."""
    assert "backup_mode" not in call or call["backup_mode"] == "native"
    needed = native_required(declared)
    assert needed == set(required)
    assert needed <= set(call), f"the example misses {needed - set(call)}"
    assert call["controller_private_ip"] == "${var.controller_private_ip}"


def assert_example_names_the_controllers_bucket(call: dict[str, Any], example_inputs: dict[str, Any]) -> None:
    """An example (AWS, GCP) passes the controller's own bucket and account, from inputs it requires."""
    assert call["native_bucket_name"] == "${var.controller_bucket_name}"
    assert call["native_account_name"] == "${var.controller_account_name}"
    # the example's own inputs for them are required: a plan cannot go ahead without them
    for name in (
        "controller_private_ip",
        "controller_bucket_name",
        "controller_account_name",
        "controller_ca_bundle",
    ):
        assert "default" not in example_inputs[name], name


def assert_example_pins_the_certificate(call: dict[str, Any]) -> None:
    """An example pins the controller's certificate and never turns TLS verification off."""
    assert call["controller_ca_bundle"] == "${var.controller_ca_bundle}"
    # the certificate may name the controller otherwise than the private IP the functions call
    assert call["controller_tls_server_name"] == "${var.controller_tls_server_name}"
    assert "controller_verify_tls" not in call, "the example never turns TLS verification off"


def module_texts(module_dir: Path) -> list[str]:
    """A module's .tf files, its README and its basic example: where an old name must not stand."""
    paths = (
        *module_dir.glob("*.tf"),
        module_dir / "README.md",
        module_dir / "examples" / "basic" / "main.tf",
    )
    return [path.read_text() for path in paths]


def assert_old_names_gone(
    texts: list[str], old_settings: tuple[str, ...], old_names: tuple[str, ...]
) -> None:
    """No old setting (an app setting, anywhere in a word) nor old input or output name stands."""
    for name in old_settings:
        assert not any(re.search(rf"\b{name}\b", text) for text in texts), name
    for name in old_names:
        assert not any(re.search(rf"(?<![\w.]){name}\b", text) for text in texts), name


def assert_renamed_gone(module_dir: Path, renamed: tuple[str, ...]) -> None:
    """The module, its README and example, and the main README's deploy sections name each input
    the way the other clouds' modules do."""
    example = module_dir / "examples" / "basic" / "main.tf"
    for path in (*module_dir.glob("*.tf"), module_dir / "README.md", example, ROOT / "README.md"):
        text = path.read_text()
        for name in renamed:
            assert not re.search(rf"(?<![\w.]){name}\b", text), f"{path.name} still names {name}"


class _VariablesWorkdir:
    """A work directory holding a module's variables.tf, where Terraform runs without providers."""

    def __init__(self, module_dir: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.terraform = _tool("terraform", "TERRAFORM_BIN")
        shutil.copy(module_dir / "variables.tf", workdir / "variables.tf")

    def _init(self) -> None:
        proc = self._run(["init", "-backend=false", "-input=false", "-no-color"])
        if proc.returncode != 0:
            raise AssertionError(f"terraform init failed: {proc.stdout}{proc.stderr}")

    def _var_file(self, values: dict[str, Any]) -> Path:
        var_file = self.workdir / "values.tfvars.json"
        var_file.write_text(json.dumps(values))
        return var_file

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.terraform, *args],
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


class VariablePlanner(_VariablesWorkdir):
    """`terraform plan` of a module's variables.tf alone, to run its validations for real.

    A module's validations may name only its variables, so its variables.tf is a complete
    configuration without providers or resources: `plan` evaluates every validation offline,
    exactly as a plan of the whole module would, and answers with Terraform's own messages.
    """

    def __init__(self, module_dir: Path, workdir: Path) -> None:
        super().__init__(module_dir, workdir)
        self._init()

    def plan(self, values: dict[str, Any]) -> tuple[int, str]:
        """Exit status and the output with Terraform's line wrapping undone (one space per gap)."""
        var_file = self._var_file(values)
        proc = self._run(["plan", "-input=false", "-no-color", "-lock=false", f"-var-file={var_file}"])
        return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def assert_plan_names_missing_native_inputs(
    planner: VariablePlanner,
    base: dict[str, Any],
    native: dict[str, Any],
    required: tuple[str, ...],
    one: str,
) -> None:
    """A plan without the native inputs fails naming each; without only `one`, naming only it."""
    status, output = planner.plan(base)
    assert status != 0, output
    for name in required:
        assert f"{name} is required in native mode" in output, name
    status, output = planner.plan(base | native | {one: None})
    assert status != 0
    assert f"{one} is required in native mode" in output
    assert output.count("is required in native mode") == 1


def assert_plan_refuses(
    planner: VariablePlanner, values: dict[str, Any], refusals: tuple[tuple[dict[str, Any], str], ...]
) -> None:
    """Each (bad inputs, message) of `refusals`, over `values`: the plan fails, saying the message."""
    for bad, message in refusals:
        status, output = planner.plan(values | bad)
        assert status != 0 and message in output, (bad, output[-500:])


def assert_plan_passes_native_or_export(
    planner: VariablePlanner, base: dict[str, Any], native: dict[str, Any]
) -> None:
    """A plan passes with the native inputs, and in export mode without them."""
    status, output = planner.plan(base | native)
    assert status == 0, output
    status, output = planner.plan(base | {"backup_mode": "export"})
    assert status == 0, output


def assert_plan_checks_replacement_url_and_targets(
    planner: VariablePlanner, values: dict[str, Any], bad_urls: tuple[str, ...]
) -> None:
    """replacement_url is controller_url or an https:// template; allowed targets are host names."""
    for good in ("controller_url", "https://{private_ip}", "https://{public_ip}:8443"):
        status, output = planner.plan(values | {"replacement_url": good})
        assert status == 0, (good, output)
    for bad in bad_urls:
        status, output = planner.plan(values | {"replacement_url": bad})
        assert status != 0 and "replacement_url must be controller_url or https://" in output, bad
    status, output = planner.plan(values | {"restore_allowed_targets": ["10.0.2.0/24", "ctl-dr.example.com"]})
    assert status == 0, output
    status, output = planner.plan(values | {"restore_allowed_targets": ["10.0.2.0/24,10.0.3.0/24"]})
    assert status != 0 and "restore_allowed_targets must be host names" in output


#: a reference to a resource or data source of any of the three providers, with its attributes
_REFERENCE = re.compile(r"\b(?:data\.)?(?:aws|azurerm|google)_\w+\.\w+(?:\[[^\]]*\])?(?:\.\w+(?:\[\d+\])?)*")


def _stub(reference: re.Match[str]) -> str:
    """A reference's stand-in: the string "<reference>" (a one-element list for a splat)."""
    text = reference.group(0).replace('"', '\\"')
    return f'["<{text}>"]' if "[*]" in text else f'"<{text}>"'


class LocalsConsole(_VariablesWorkdir):
    """The values a module's locals take for given inputs, computed by Terraform without a provider.

    The module's variables.tf and the `locals` blocks of `locals_files` make the configuration, each
    reference to a resource or data source replaced by a string standing for it: what the locals
    derive from the inputs alone (timeouts, settings) comes out as a plan of the module computes it,
    where no provider can be installed to plan it (azurerm, google).
    """

    def __init__(self, module_dir: Path, workdir: Path, locals_files: tuple[str, ...] = ("main.tf",)) -> None:
        super().__init__(module_dir, workdir)
        text = "\n".join((module_dir / name).read_text() for name in locals_files)
        blocks = re.findall(r"^locals \{\n.*?^\}\n", text, flags=re.MULTILINE | re.DOTALL)
        if not blocks:
            raise AssertionError(f"no locals block in {locals_files}")
        (workdir / "locals.tf").write_text(_REFERENCE.sub(_stub, "\n".join(blocks)))
        self._init()

    def evaluate(self, inputs: dict[str, Any], expressions: dict[str, str]) -> dict[str, Any]:
        """name -> value of each expression (`local.x`, or one read from the module, `${...}` or
        not, its references to resources stubbed like the locals'), with `inputs` as the module's
        variables."""
        var_file = self._var_file(inputs)
        bare = {
            name: _REFERENCE.sub(_stub, re.sub(r"^\$\{(.*)\}$", r"\1", text, flags=re.DOTALL))
            for name, text in expressions.items()
        }
        query = "jsonencode({" + ", ".join(f"{name} = ({text})" for name, text in bare.items()) + "})"
        proc = self._run(
            ["console", "-no-color", f"-var-file={var_file}"], stdin=" ".join(query.split()) + "\n"
        )
        if proc.returncode != 0:
            raise AssertionError(f"terraform console failed: {proc.stdout}{proc.stderr}")
        values: dict[str, Any] = json.loads(json.loads(proc.stdout.strip()))
        return values


def run_checkov(directory: Path) -> dict[str, Any]:
    """checkov's JSON summary for `directory`; the caller asserts on `failed` and `skipped`."""
    checkov = _tool("checkov", "CHECKOV_BIN", ROOT / ".tools" / "checkov" / "bin" / "checkov")
    proc = subprocess.run(
        [checkov, "-d", str(directory), "--framework", "terraform", "-o", "json", "--compact"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        timeout=600,
    )
    if not proc.stdout.strip():
        raise AssertionError(f"checkov printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    passed = 0
    for rep in reports:
        results = rep.get("results", {})
        failed += results.get("failed_checks", [])
        skipped += results.get("skipped_checks", [])
        passed += len(results.get("passed_checks", []))
    return {"failed": failed, "skipped": skipped, "passed": passed}
