"""Raw google-cloud-storage transfers, the GCS baselines: `upload_from_file` and `download_to_file`
with the SDK's defaults, crc32c checked. The endpoint comes from the
environment (STORAGE_EMULATOR_HOST).
"""

from __future__ import annotations

import os

from google.cloud import storage

from bench.steps import Args, measure


def _bucket(args: Args) -> storage.Bucket:
    return storage.Client(project="bench").bucket(args["bucket"])


def create_bucket(args: Args) -> None:
    """Not measured: the bucket, made here so that the SDK never loads into a driver."""
    storage.Client(project="bench").create_bucket(args["bucket"])


def upload(args: Args) -> None:
    blob = _bucket(args).blob(args["key"])
    with open(args["path"], "rb") as source:
        blob.upload_from_file(source, size=os.path.getsize(args["path"]), checksum="crc32c")


def download(args: Args) -> None:
    blob = _bucket(args).blob(args["key"])
    with open(args["path"], "wb") as dest:
        blob.download_to_file(dest, checksum="crc32c")


if __name__ == "__main__":
    measure({"create_bucket": create_bucket, "upload": upload, "download": download})
