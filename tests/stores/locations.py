"""One fresh object location on each of the four stores, for tests that must hold on all of them.

`location` is parametrized over the store kinds and starts only the server its kind needs (moto,
Azurite, fake-gcs-server: the session fixtures in tests/fixtures), so `-k local` needs none.
A test module uses it by importing it: `from tests.stores.locations import location`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_backup.stores import ObjectStore, StoreOptions, open_store

STORE_KINDS = ("local", "s3", "azblob", "gs")


@dataclass(frozen=True)
class Location:
    """A fresh, empty object location: its kind and its URL."""

    kind: str
    url: str

    def open(self, options: StoreOptions | None = None) -> ObjectStore:
        return open_store(self.url, options)

    @property
    def local_path(self) -> Path:
        """The plain file of a local location."""
        assert self.kind == "local", self.kind
        return Path(self.url.removeprefix("file://"))


def new_location(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """A fresh location of `kind`, its server started through the session fixtures."""
    if kind == "local":
        return Location(kind, (tmp_path / "backups" / "controller.tar").as_uri())
    if kind == "s3":
        return Location(kind, request.getfixturevalue("s3_url"))
    if kind == "azblob":
        from tests.fixtures.azure import ACCOUNT

        container = request.getfixturevalue("azurite_env").new_container()
        return Location(kind, f"azblob://{ACCOUNT}/{container}/controllers/backup.enc")
    if kind == "gs":
        bucket = request.getfixturevalue("gcs_bucket")
        return Location(kind, f"gs://{bucket}/controllers/{uuid.uuid4().hex}/backup.tar")
    raise AssertionError(f"unknown store kind {kind!r}")


@pytest.fixture(params=STORE_KINDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    return new_location(request.param, request, tmp_path)
