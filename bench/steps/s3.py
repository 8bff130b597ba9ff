"""Raw boto3 transfers, the S3 baselines: `upload_file` and `download_file` with the SDK's defaults
(8 MiB parts, 10 threads, CRC32 checksums). The endpoint and credentials come from the environment.
"""

from __future__ import annotations

import boto3

from bench.steps import Args, measure


def create_bucket(args: Args) -> None:
    """Not measured: the bucket, made here so that boto3 never loads into a driver."""
    boto3.client("s3").create_bucket(Bucket=args["bucket"])


def upload(args: Args) -> None:
    boto3.client("s3").upload_file(args["path"], args["bucket"], args["key"])


def download(args: Args) -> None:
    boto3.client("s3").download_file(args["bucket"], args["key"], args["path"])


if __name__ == "__main__":
    measure({"create_bucket": create_bucket, "upload": upload, "download": download})
