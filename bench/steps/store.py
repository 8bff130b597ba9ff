"""A store class alone: `put` of a file, and `download` into one, against the raw SDK transfer.

`store_class` ("module:Class") is imported in `setup`, before the clock, with the SDK its module
imports; the store is made from its URL `store` inside the clock, as a job makes it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from controller_backup.stores import ObjectStore, SizedSource, StoreOptions
from controller_backup.stores.base import _SpoolFile

from bench.steps import Args, measure


def _store_class(args: Args) -> Any:
    module, _, name = args["store_class"].partition(":")
    return getattr(importlib.import_module(module), name)


def setup(args: Args) -> None:
    _store_class(args)


def _store(args: Args) -> ObjectStore:
    store: ObjectStore = _store_class(args).from_url(args["store"], StoreOptions())
    return store


def put(args: Args) -> None:
    """`put` of the file at `path`, opened as a backup opens its spool (by path, so a store may
    read it from the file itself)."""
    store = _store(args)
    with _SpoolFile(args["path"]) as source:
        store.put(SizedSource(source, os.path.getsize(args["path"])), {"sha256": "bench"})


def download(args: Args) -> None:
    """`download` of the newest version into `path`."""
    store = _store(args)
    with open(args["path"], "wb") as dest:
        store.download(dest)


if __name__ == "__main__":
    measure({"put": put, "download": download}, setup)
