"""Terraform modules checked against their providers' published schemas, without the providers.

No azurerm or google provider binary can be downloaded here, so `terraform validate` cannot run
for those modules. CDK for Terraform's prebuilt bindings were generated from the providers' own
schemas and are published on npm: their `.jsii` metadata (JSON; `make tools` keeps only that and
package.json) has one class per resource, data source and provider, whose config struct has one
property per argument and nested block, and one struct per nested block, recursively. Each
property's docs link to the registry page ends in `#<terraform name>`, so names are read, not
guessed (cdktf renames some: `system` becomes `systemAttribute`, `kerberos_5i_...` loses its
underscore); a property without that link falls back to snake_case of its camelCase name.

The check: every resource, data source and provider block a module writes exists in the schema of
the provider version its `required_providers` allows; every argument and nested block (also
`dynamic` ones and their `content`) exists where it is written, blocks are written as blocks and
arguments as arguments, a block the schema allows once appears once, and required ones are there;
a call of a local module passes only that module's variables, and all its required ones.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import hcl2
from hcl2.utils import SerializationOptions

from tests.terraform.helpers import ROOT, load_module

#: blocks keep an `__is_block__` marker, so `x { }` and `x = { }` can be told apart
_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=True)
_BLOCK = "__is_block__"

#: where `make tools` puts the bindings (one directory per `<package>@<version>`)
SCHEMAS_DIR = Path(os.environ.get("CDKTF_SCHEMAS_DIR", ROOT / ".tools" / "cdktf-schemas"))


@dataclass(frozen=True)
class Binding:
    """A prebuilt binding on npm, and the provider version it was generated from."""

    package: str
    version: str
    provider_version: str

    @property
    def directory(self) -> Path:
        return SCHEMAS_DIR / f"{self.package.removeprefix('@cdktf/')}@{self.version}"


#: provider local name -> the binding read for it (the Makefile's CDKTF_BINDINGS pins the same).
#: Each is the newest release of its major line; its package.json (`cdktf.provider`) names the
#: provider version it was generated from, which must satisfy the modules' constraints:
#:   @cdktf/provider-azurerm 14.23.1 <- hashicorp/azurerm 4.55.0 (modules: >= 4.40, < 5.0)
#:   @cdktf/provider-google  16.12.1 <- hashicorp/google  6.50.0 (modules: >= 6.0)
BINDINGS: dict[str, Binding] = {
    "azurerm": Binding("@cdktf/provider-azurerm", "14.23.1", "4.55.0"),
    "google": Binding("@cdktf/provider-google", "16.12.1", "6.50.0"),
}


@dataclass(frozen=True)
class Field:
    """One argument or nested block of a schema block."""

    #: "either": a list of objects the provider also accepts written as blocks (attributes as blocks)
    kind: Literal["argument", "block", "either"]
    required: bool
    #: the nested block's struct (None for an argument)
    struct: str | None = None
    #: a block the schema allows at most once
    single: bool = False


@dataclass(frozen=True)
class ProviderSchema:
    """What one provider version accepts: config structs by Terraform type, and every struct."""

    name: str
    version: str
    provider: str
    resources: dict[str, str]
    data_sources: dict[str, str]
    structs: dict[str, dict[str, Field]]


_REPRESENTS = re.compile(
    r"^Represents a \{@link https://registry\.terraform\.io/providers/hashicorp/(?P<provider>[\w-]+)/"
    r"(?P<version>[\d.]+)/docs(?:/(?:resources|data-sources)/\w+)? (?P<type>[\w-]+)\}\.$"
)
#: `{@link https://registry.terraform.io/.../docs/resources/x#site_config LinuxFunctionApp#site_config}`
_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/providers/[^\s}]*#(\w+) \w+#\1\}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _struct_of(type_ref: dict[str, Any], assembly: str) -> tuple[str | None, bool]:
    """The struct a property's type refers to (if one of this assembly), and whether it is single."""
    if type_ref.get("fqn", "").startswith(f"{assembly}."):
        return type_ref["fqn"], True
    if "collection" in type_ref:
        fqn, _ = _struct_of(type_ref["collection"]["elementtype"], assembly)
        return fqn, False
    for member in type_ref.get("union", {}).get("types", []):
        fqn, single = _struct_of(member, assembly)
        if fqn:
            return fqn, single
    return None, False


def _field(prop: dict[str, Any], assembly: str) -> tuple[str, Field]:
    docs = prop.get("docs", {})
    anchors = {m for text in _strings(docs) for m in _ANCHOR.findall(text)}
    if len(anchors) > 1:
        raise AssertionError(f"{prop['name']}: several Terraform names in its docs: {sorted(anchors)}")
    name = anchors.pop() if anchors else _snake(prop["name"])
    struct, single = _struct_of(prop["type"], assembly)
    required = not prop.get("optional", False)
    if struct is None:
        return name, Field("argument", required)
    kind: Literal["block", "either"] = "block" if docs.get("summary", "").endswith(" block.") else "either"
    return name, Field(kind, required, struct, single and kind == "block")


def _read_assembly(directory: Path) -> dict[str, Any]:
    path = directory / ".jsii"
    if not path.is_file():
        raise AssertionError(f"no provider schema at {path} (run `make tools`, or set CDKTF_SCHEMAS_DIR)")
    data: dict[str, Any] = json.loads(path.read_bytes())
    if data.get("schema") == "jsii/file-redirect":  # newer jsii: the assembly itself is elsewhere
        target = directory / data["filename"]
        raw = target.read_bytes()
        data = json.loads(gzip.decompress(raw) if data.get("compression") == "gzip" else raw)
    return data


def read_schema(provider: str, binding: Binding, directory: Path) -> ProviderSchema:
    """The schema of `provider` in `directory`, asserting it is `binding` and generated from its version."""
    if not (directory / "package.json").is_file():
        raise AssertionError(
            f"no provider schema in {directory} (run `make tools`, or set CDKTF_SCHEMAS_DIR)"
        )
    package = json.loads((directory / "package.json").read_text())
    generated_from = package.get("cdktf", {}).get("provider", {})
    expected = {"name": f"registry.terraform.io/hashicorp/{provider}", "version": binding.provider_version}
    if (package.get("name"), package.get("version")) != (binding.package, binding.version) or {
        k: generated_from.get(k) for k in expected
    } != expected:
        raise AssertionError(
            f"{directory} holds {package.get('name')} {package.get('version')} generated from "
            f"{generated_from}, not {binding} (run `make tools`)"
        )
    assembly = _read_assembly(directory)
    name = assembly["name"]
    resources: dict[str, str] = {}
    data_sources: dict[str, str] = {}
    providers: list[str] = []
    structs: dict[str, dict[str, Field]] = {}
    for fqn, type_ in assembly["types"].items():
        if type_.get("datatype"):
            structs[fqn] = dict(_field(prop, name) for prop in type_.get("properties", []))
            continue
        base = type_.get("base")
        if base not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource", "cdktf.TerraformProvider"):
            continue
        match = _REPRESENTS.match(type_.get("docs", {}).get("summary", ""))
        if not match or match["provider"] != provider or match["version"] != binding.provider_version:
            raise AssertionError(f"{fqn} is not documented as {provider} {binding.provider_version}")
        config = type_["initializer"]["parameters"][-1]["type"]["fqn"]
        if base == "cdktf.TerraformProvider":
            providers.append(config)
        else:
            (resources if base == "cdktf.TerraformResource" else data_sources)[match["type"]] = config
    if len(providers) != 1 or not resources or not data_sources:
        raise AssertionError(f"{directory}: no provider, resources or data sources found")
    return ProviderSchema(provider, binding.provider_version, providers[0], resources, data_sources, structs)


@cache
def load_schema(provider: str) -> ProviderSchema:
    """The pinned schema of `provider` (a local name in BINDINGS): a second or two, once per process."""
    binding = BINDINGS[provider]
    return read_schema(provider, binding, binding.directory)


# -- version constraints --------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().lstrip("v").split("."))


def satisfies(version: str, constraints: str) -> bool:
    """Whether `version` meets a Terraform version constraint string (">= 4.40, < 5.0", "~> 6.1")."""
    have = _version(version)
    for constraint in constraints.split(","):
        match = re.fullmatch(r"\s*(=|!=|>=|<=|>|<|~>)?\s*(v?[\d.]+)\s*", constraint)
        if not match:
            raise ValueError(f"unsupported version constraint {constraint!r}")
        op, want = match[1] or "=", _version(match[2])
        width = max(len(have), len(want))
        padded, target = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if op == "~>":  # the last given part may grow; the ones before it are fixed
            upper = (*want[:-2], want[-2] + 1) if len(want) > 1 else (want[0] + 1,)
            ok = padded >= target and have[: len(upper)] < upper
        else:
            ok = {
                "=": padded == target,
                "!=": padded != target,
                ">=": padded >= target,
                "<=": padded <= target,
                ">": padded > target,
                "<": padded < target,
            }[op]
        if not ok:
            return False
    return True


# -- the check ------------------------------------------------------------------------------------

#: Terraform's own arguments and blocks, valid whatever the provider's schema says
_META_ARGUMENTS = {
    "resource": frozenset({"count", "for_each", "provider", "depends_on"}),
    "data": frozenset({"count", "for_each", "provider", "depends_on"}),
    "provider": frozenset[str](),
}
_META_BLOCKS = {
    "resource": frozenset({"lifecycle", "connection", "provisioner"}),
    "data": frozenset({"lifecycle"}),
    "provider": frozenset[str](),
}
#: top-level blocks with nothing a provider's schema says about them (module calls are checked apart)
_LANGUAGE_ONLY = {"terraform", "variable", "output", "locals", "moved", "removed", "import"}
_MODULE_META = {"source", "version", "providers", "count", "for_each", "depends_on"}
_DYNAMIC_KEYS = {"for_each", "iterator", "labels", "content"}


def _is_block(value: Any) -> bool:
    """`x { ... }` (a list of bodies, each marked), as opposed to an argument `x = ...`."""
    return (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get(_BLOCK) for v in value)
    )


def _labelled_blocks(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label, body) of `x "label" { ... }` blocks (python-hcl2 marks the body, not the list item)."""
    if not isinstance(value, list):
        return []
    found = [
        (label, body)
        for item in value
        if isinstance(item, dict)
        for label, body in item.items()
        if isinstance(body, dict) and body.get(_BLOCK)
    ]
    return found if len(found) == len(value) else []


def _hint(name: str, names: Any) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


class _Checker:
    """Collects the problems of one module, block by block."""

    def __init__(self, schemas: Mapping[str, ProviderSchema] | None) -> None:
        self.schemas = schemas
        self.known = set(BINDINGS if schemas is None else schemas)
        self.problems: list[str] = []

    def get(self, local: str) -> ProviderSchema | None:
        """A provider's schema, loaded only when the module uses it."""
        if local not in self.known:
            return None
        return load_schema(local) if self.schemas is None else self.schemas[local]

    def report(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def schema_for(self, type_name: str, where: str) -> ProviderSchema | None:
        local = type_name.split("_", 1)[0]
        schema = self.get(local)
        if schema is None:
            self.report(where, f"no schema for provider {local!r} (known: {', '.join(sorted(self.known))})")
        return schema

    def top_level(self, kind: str, type_name: str, body: dict[str, Any], where: str) -> None:
        """One `resource`, `data` or `provider` block: its type, then its body."""
        schema = self.schema_for(type_name, where)
        if schema is None:
            return
        if kind == "provider":
            struct = schema.provider
        else:
            known = schema.resources if kind == "resource" else schema.data_sources
            if type_name not in known:
                label = "resource type" if kind == "resource" else "data source"
                self.report(
                    where, f"unknown {label} in {schema.name} {schema.version}{_hint(type_name, known)}"
                )
                return
            struct = known[type_name]
        self.body(schema, struct, body, where, _META_ARGUMENTS[kind], _META_BLOCKS[kind])

    def body(
        self,
        schema: ProviderSchema,
        struct: str,
        body: dict[str, Any],
        where: str,
        meta_arguments: frozenset[str] = frozenset(),
        meta_blocks: frozenset[str] = frozenset(),
    ) -> None:
        """Every key of one block's body against its struct, recursively; then the required ones."""
        fields = schema.structs[struct]
        present: set[str] = set()
        for key, value in body.items():
            if key == _BLOCK:
                continue
            path = f"{where}.{key}"
            if key == "dynamic" and _labelled_blocks(value):
                for label, dyn_body in _labelled_blocks(value):
                    present.add(label)
                    self.dynamic(schema, fields, label, dyn_body, f"{where}.dynamic.{label}")
                continue
            present.add(key)
            labelled = bool(_labelled_blocks(value))
            block = labelled or _is_block(value)
            if key in (meta_blocks if block else meta_arguments):
                continue
            field = fields.get(key)
            if field is None:
                what = "block" if block else "argument"
                self.report(path, f"unknown {what}{_hint(key, fields)}")
            elif labelled:
                self.report(path, "a block of the provider's schema takes no label")
            elif block and field.kind == "argument":
                self.report(path, "is an argument, written as a block")
            elif not block and field.kind == "block":
                self.report(path, "is a block, written as an argument")
            elif block and field.struct:
                if field.single and len(value) > 1:
                    self.report(path, f"written {len(value)} times, the schema allows one block")
                for nested in value:
                    self.body(schema, field.struct, nested, path)
        for name, field in sorted(fields.items()):
            if field.required and name not in present:
                self.report(where, f"required {'block' if field.struct else 'argument'} {name!r} is missing")

    def dynamic(
        self, schema: ProviderSchema, fields: dict[str, Field], label: str, body: dict[str, Any], where: str
    ) -> None:
        """`dynamic "label" { for_each, iterator, labels, content { ... } }`: content is label's block."""
        for key in body:
            if key not in _DYNAMIC_KEYS | {_BLOCK}:
                self.report(f"{where}.{key}", "not an argument of a dynamic block")
        field = fields.get(label)
        if field is None:
            self.report(where, f"unknown block{_hint(label, fields)}")
            return
        if field.struct is None:
            self.report(where, "is an argument: a dynamic block cannot set it")
            return
        for content in body.get("content", []):
            self.body(schema, field.struct, content, f"{where}.content")


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _required_providers(module: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for terraform in module.get("terraform", []):
        for required in terraform.get("required_providers", []):
            found.update({k: v for k, v in required.items() if k != _BLOCK and isinstance(v, dict)})
    return found


def _check_versions(checker: _Checker, module: dict[str, list[Any]], used: set[str], directory: Path) -> None:
    """Each provider the module uses is required with a constraint its schema's version meets."""
    required = _required_providers(module)
    for local in sorted(used & checker.known):
        schema = checker.get(local)
        assert schema is not None
        where = f"{_display(directory)}: terraform.required_providers.{local}"
        spec = required.get(local)
        if spec is None:
            checker.report(where, "missing: the schema checked would be a guess")
            continue
        if spec.get("source", "").removeprefix("registry.terraform.io/") != f"hashicorp/{local}":
            checker.report(where, f"source {spec.get('source')!r} is not hashicorp/{local}")
        if "version" not in spec:
            checker.report(where, "no version constraint")
        elif not satisfies(schema.version, spec["version"]):
            checker.report(
                where,
                f"{spec['version']!r} excludes {local} {schema.version}, the version of the schema "
                "checked: pin a binding generated from an allowed version (tests/terraform/schema.py)",
            )


def _check_module_call(checker: _Checker, directory: Path, body: dict[str, Any], where: str) -> None:
    """A call of a local module passes only its variables, and every variable without a default."""
    source = body.get("source", "")
    if not isinstance(source, str) or not source.startswith(("./", "../")):
        return
    target = (directory / source).resolve()
    variables: dict[str, Any] = {}
    for block in load_module(target).get("variable", []):
        variables.update(block)
    for key in body:
        if key not in variables and key not in _MODULE_META and key != _BLOCK:
            checker.report(f"{where}.{key}", f"not a variable of {_display(target)}{_hint(key, variables)}")
    for variable, spec in sorted(variables.items()):
        if "default" not in spec and variable not in body:
            checker.report(where, f"required variable {variable!r} of {_display(target)} is missing")


def check_module(directory: Path, schemas: Mapping[str, ProviderSchema] | None = None) -> list[str]:
    """Every problem of the .tf files in `directory`, as "file: address.path: message" lines.

    `schemas` defaults to the pinned bindings, each loaded the first time a module uses it.
    """
    checker = _Checker(schemas)
    merged: dict[str, list[Any]] = {}
    used: set[str] = set()
    for tf in sorted(directory.glob("*.tf")):
        parsed: dict[str, list[Any]] = hcl2.loads(tf.read_text(), serialization_options=_HCL_OPTIONS)
        file = _display(tf)
        for kind, blocks in parsed.items():
            merged.setdefault(kind, []).extend(blocks)
            if kind not in _LANGUAGE_ONLY | {"resource", "data", "provider", "module"}:
                checker.report(f"{file}: {kind}", "a kind of block this check does not cover: extend it")
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_name, named in block.items():
                    if type_name == _BLOCK:
                        continue
                    used.add(type_name.split("_", 1)[0])
                    for name, body in named.items():
                        if name != _BLOCK:
                            prefix = "data." if kind == "data" else ""
                            where = f"{file}: {prefix}{type_name}.{name}"
                            checker.top_level(kind, type_name, body, where)
        for block in parsed.get("provider", []):
            for local, body in block.items():
                if local != _BLOCK:
                    used.add(local)
                    checker.top_level("provider", local, body, f"{file}: provider.{local}")
        for block in parsed.get("module", []):
            for name, body in block.items():
                if name != _BLOCK:
                    _check_module_call(checker, directory, body, f"{file}: module.{name}")
    _check_versions(checker, merged, used, directory)
    return checker.problems
