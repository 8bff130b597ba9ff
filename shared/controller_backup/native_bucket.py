"""Where a controller writes its own backups, and the API parameters that tell it so.

The controller names a destination per cloud: AWS, GCP and OCI take `bucket_name`; Azure takes
`storage_name` + `container_name` (docs/controller-api.md). We name the same place once, as a store URL
(`NATIVE_BUCKET_URL`), so a single setting gives both the controller's parameters and the URL
through which this tool reads and writes the controller's files. A local folder stands in for a
bucket in tests: its last path part is the bucket (Azure: the last two are storage and container).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from controller_backup.errors import SettingsError
from controller_backup.stores import store_kind

#: the controller's `cloud_type` numbers (docs/controller-api.md)
CLOUD_TYPES: Mapping[str, int] = {
    "aws": 1,
    "gcp": 4,
    "azure": 8,
    "oci": 16,
    "azure-gov": 32,
    "aws-gov": 256,
    "aws-china": 1024,
    "azure-china": 2048,
}
AWS_FAMILY = frozenset({1, 256, 1024})
AZURE_FAMILY = frozenset({8, 32, 2048})
GCP = 4
OCI = 16
#: the store URL schemes a cloud's bucket can be reached by (OCI speaks the S3 API)
_SCHEMES = {**dict.fromkeys(AWS_FAMILY, "s3"), GCP: "gs", OCI: "s3", **dict.fromkeys(AZURE_FAMILY, "azblob")}


def cloud_name(cloud_type: int) -> str:
    return next((name for name, number in CLOUD_TYPES.items() if number == cloud_type), str(cloud_type))


def parse_cloud_type(raw: str) -> int:
    """`aws`, `Azure`, `azure-gov`, ... or the number itself -> the controller's cloud_type."""
    text = raw.strip().lower().replace("_", "-")
    if text in CLOUD_TYPES:
        return CLOUD_TYPES[text]
    if text.isdigit() and int(text) in CLOUD_TYPES.values():
        return int(text)
    raise ValueError(f"must be one of {', '.join(CLOUD_TYPES)} (or its number), got {raw!r}")


@dataclass(frozen=True)
class NativeBucket:
    """The controller's backup destination: its API parameters and the store URL of its files."""

    url: str
    cloud_type: int
    #: `bucket_name`, or `storage_name` + `container_name`
    params: Mapping[str, str] = field(default_factory=dict)

    def file_url(self, name: str) -> str:
        """The store URL of one file the controller writes into this destination."""
        return f"{self.url}/{name}"

    def describe(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.params.items())


def parse_native_bucket(url: str, cloud_type: int) -> NativeBucket:
    """Validate `url` as `cloud_type`'s backup destination; raises ValueError saying what is wrong."""
    try:
        kind = store_kind(url)
    except SettingsError as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from None
    base = url.rstrip("/")
    if kind == "local":
        return NativeBucket(base, cloud_type, _local_params(base, cloud_type))
    expected = _SCHEMES[cloud_type]
    if kind != expected:
        raise ValueError(f"{cloud_name(cloud_type)} controllers write to {expected}:// storage, not {kind}")
    parts = urlsplit(base)
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    path = [unquote(part) for part in parts.path.split("/") if part]
    if kind == "azblob":
        account = parts.hostname or ""
        if parts.scheme == "https":
            account = account.removesuffix(".blob.core.windows.net")
        if len(path) != 1:
            raise ValueError("must name a storage account and a container only (azblob://ACCOUNT/CONTAINER)")
        return NativeBucket(base, cloud_type, {"storage_name": account, "container_name": path[0]})
    if path:
        raise ValueError(f"must name a bucket only ({kind}://BUCKET): the controller writes at its root")
    if not parts.netloc:
        raise ValueError(f"names no bucket ({kind}://BUCKET)")
    return NativeBucket(base, cloud_type, {"bucket_name": parts.netloc})


def _local_params(base: str, cloud_type: int) -> dict[str, str]:
    path = unquote(urlsplit(base).path) if base.startswith("file:") else base
    names = [part for part in path.replace("\\", "/").split("/") if part]
    if cloud_type in AZURE_FAMILY:
        if len(names) < 2:
            raise ValueError("a local stand-in for Azure must end in STORAGE/CONTAINER")
        return {"storage_name": names[-2], "container_name": names[-1]}
    if not names:
        raise ValueError("a local stand-in for a bucket must end in the bucket's name")
    return {"bucket_name": names[-1]}
