"""Release metadata says what the project is: its license, the Pythons it is tested on, its history."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_the_license_is_apache_2_in_full_and_in_the_metadata() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    for clause in ("1. Definitions.", "9. Accepting Warranty or Additional Liability.", "END OF TERMS"):
        assert clause in text
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    # PEP 639: setuptools refuses a License classifier beside a license expression, and needs 77+
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_the_python_classifiers_are_the_versions_make_test_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    compat = re.search(r"^COMPAT_PYTHONS \?= (.+)$", makefile, re.MULTILINE)
    assert compat is not None
    minimum = re.fullmatch(r">=(3\.\d+)", PROJECT["requires-python"])
    assert minimum is not None
    tested = {minimum.group(1), *compat.group(1).split()}
    classified = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert classified == tested == {"3.11", "3.12", "3.13"}
    assert "Topic :: System :: Archiving :: Backup" in PROJECT["classifiers"]


def test_the_changelog_has_an_unreleased_section_then_this_version() -> None:
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[:2] == ["Unreleased", PROJECT["version"]]
