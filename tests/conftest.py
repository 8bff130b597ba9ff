"""Shared fixtures; each cloud's server fixtures live in tests/fixtures/<cloud>.py."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.controller",
    "tests.fixtures.aws",
    "tests.fixtures.azure",
    "tests.fixtures.gcp",
]
