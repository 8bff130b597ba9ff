"""The modules' README Inputs and Outputs tables are generated (scripts/terraform_docs.py, `make
docs`): each README must hold exactly what the generator makes of its module now, so no input or
output changes without its documentation."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.terraform.helpers import ROOT


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("terraform_docs", ROOT / "scripts" / "terraform_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs = _generator()


@pytest.mark.parametrize("module", docs.MODULES, ids=lambda path: path.name)
def test_readme_tables_are_what_the_module_says(module: Path) -> None:
    readme = (module / "README.md").read_text()
    assert docs.render(readme, module) == readme, f"{module.name}/README.md is out of date: run make docs"
    assert readme.count(docs.BEGIN) == readme.count(docs.END) == 1


def test_check_mode_passes_on_the_repository_and_changes_nothing() -> None:
    before = {module: (module / "README.md").read_text() for module in docs.MODULES}
    assert docs.main(["--check"]) == 0
    assert {module: (module / "README.md").read_text() for module in docs.MODULES} == before


def test_a_changed_input_or_output_makes_the_readme_stale(tmp_path: Path) -> None:
    module = tmp_path / "gcp"
    shutil.copytree(ROOT / "infra" / "terraform" / "gcp", module, ignore=shutil.ignore_patterns("examples"))
    readme = (module / "README.md").read_text()
    variables = module / "variables.tf"
    variables.write_text(variables.read_text().replace("Cloud Functions Python runtime.", "The runtime."))
    rendered = docs.render(readme, module)
    assert rendered != readme
    assert "| `runtime` | string | `python312` | The runtime. |" in rendered
    outputs = module / "outputs.tf"
    outputs.write_text(
        outputs.read_text() + 'output "extra" {\n  description = "One more."\n  value = 1\n}\n'
    )
    assert "| `extra` | One more. |" in docs.render(readme, module)
    # what is outside the markers is kept as written
    assert rendered.split(docs.BEGIN)[0] == readme.split(docs.BEGIN)[0]
    assert rendered.split(docs.END)[1] == readme.split(docs.END)[1]


def test_types_defaults_flags_and_markdown_are_rendered(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        """
variable "required" {
  description = "A <placeholder>, a glob CloudN_* and `code | with a pipe`."
  type        = string
}

variable "items" {
  description = "A | pipe,\\n  over two lines."
  type        = list(string)
  default     = ["a", "b"]
}

variable "secret" {
  type      = string
  default   = null
  sensitive = true
  ephemeral = true
}

variable "flag" {
  description = "On or off."
  type        = bool
  default     = false
}

variable "ratio" {
  description = "A number."
  type        = number
  default     = 0.5
}

variable "pattern" {
  description = "A string default."
  type        = string
  default     = "https://{private_ip}|x"
}
"""
    )
    (tmp_path / "outputs.tf").write_text(
        'output "plain" {\n  description = "Plain."\n  value = 1\n}\n\n'
        'output "hidden" {\n  description = "Hidden."\n  value = 2\n  sensitive = true\n}\n'
    )
    assert docs.tables(tmp_path).splitlines() == [
        docs.BEGIN,
        "## Inputs",
        "",
        "| name | type | default | description |",
        "| --- | --- | --- | --- |",
        r"| `required` | string | required | A \<placeholder>, a glob CloudN_\* and `code \| with a pipe`. |",
        r'| `items` | list(string) | `["a", "b"]` | A \| pipe, over two lines. |',
        "| `secret` | string (sensitive, ephemeral) | `null` |  |",
        "| `flag` | bool | `false` | On or off. |",
        "| `ratio` | number | `0.5` | A number. |",
        r"| `pattern` | string | `https://{private_ip}\|x` | A string default. |",
        "",
        "## Outputs",
        "",
        "| name | description |",
        "| --- | --- |",
        "| `plain` | Plain. |",
        "| `hidden` | Hidden. (sensitive) |",
        docs.END,
    ]


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="BEGIN TF DOCS"):
        docs.render("# A module\n\nNo generated section.\n", docs.MODULES[0])
