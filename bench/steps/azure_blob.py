"""Raw azure-storage-blob transfers, the Azure baselines: `upload_blob` and `download_blob` with the
concurrency the store uses. The account is AZURE_STORAGE_CONNECTION_STRING's, as for the store.
"""

from __future__ import annotations

import os

from azure.storage.blob import BlobClient, BlobServiceClient

from bench.steps import Args, measure


def _connection_string() -> str:
    return os.environ["AZURE_STORAGE_CONNECTION_STRING"]


def _blob(args: Args) -> BlobClient:
    return BlobClient.from_connection_string(_connection_string(), args["container"], args["blob"])


def create_container(args: Args) -> None:
    """Not measured: the container, made here so that the SDK never loads into a driver."""
    BlobServiceClient.from_connection_string(_connection_string()).create_container(args["container"])


def upload(args: Args) -> None:
    with open(args["path"], "rb") as source:
        _blob(args).upload_blob(
            source,
            length=os.path.getsize(args["path"]),
            overwrite=True,
            max_concurrency=args["concurrency"],
        )


def download(args: Args) -> None:
    with open(args["path"], "wb") as dest:
        _blob(args).download_blob(max_concurrency=args["concurrency"]).readinto(dest)


if __name__ == "__main__":
    measure({"create_container": create_container, "upload": upload, "download": download})
