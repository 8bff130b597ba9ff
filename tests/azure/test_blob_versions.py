"""Blob versions through the real SDK, against the Blob service's documented REST shape.

Azurite implements no versions, so this is where `versions()`, `head(version_id)` and
`download(version_id)` meet a versioned account: List Blobs with `include=versions,metadata`
(XML `EnumerationResults` with `VersionId` and `IsCurrentVersion`), and ranged GETs with
`versionid=` answering `x-ms-version-id` (and a per-range `Content-MD5` when asked for one).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from controller_backup.errors import BadRequest, ObjectNotFound
from controller_backup.stores.azure_blob import AzureBlobStore

from .fakes import Answer, fake_store

ACCOUNT = "ctlbackups01"
CONTAINER = "backups"
BLOB = "controller.enc"
VERSIONS = {
    "2026-11-23T00:00:04.1111111Z": b"A" * 5000,
    "2026-11-24T00:00:03.2222222Z": b"B" * 6000,
    "2026-11-25T00:00:02.3333333Z": b"C" * 7000,
}
CURRENT = "2026-11-25T00:00:02.3333333Z"
ETAGS = {vid: f"0x8DD0C{n}A1B2C3D4E" for n, vid in enumerate(VERSIONS)}


def _meta_xml(data: bytes) -> str:
    return (
        f"<sha256>{hashlib.sha256(data).hexdigest()}</sha256><size>{len(data)}</size>"
        "<controller_version>7.1.1794</controller_version>"
    )


def _blob_xml(name: str, vid: str, data: bytes, current: bool) -> str:
    return f"""
    <Blob>
      <Name>{name}</Name>
      <VersionId>{vid}</VersionId>
      {"<IsCurrentVersion>true</IsCurrentVersion>" if current else ""}
      <Properties>
        <Creation-Time>Mon, 23 Nov 2026 00:00:04 GMT</Creation-Time>
        <Last-Modified>{"Wed, 25 Nov 2026" if current else "Tue, 24 Nov 2026"} 00:00:03 GMT</Last-Modified>
        <Etag>{ETAGS.get(vid, "0x8DD0CFFFFFFFFFF")}</Etag>
        <Content-Length>{len(data)}</Content-Length>
        <Content-Type>application/octet-stream</Content-Type>
        <BlobType>BlockBlob</BlobType>
        <AccessTier>Hot</AccessTier>
        <AccessTierInferred>true</AccessTierInferred>
        <LeaseStatus>unlocked</LeaseStatus>
        <LeaseState>available</LeaseState>
        <ServerEncrypted>true</ServerEncrypted>
      </Properties>
      <Metadata>{_meta_xml(data)}</Metadata>
    </Blob>"""


def _list_blobs() -> bytes:
    blobs = "".join(_blob_xml(BLOB, vid, data, vid == CURRENT) for vid, data in VERSIONS.items())
    # a neighbour that shares the prefix (the core's restore markers) must be filtered out
    blobs += _blob_xml(f"{BLOB}.restores/vm-1.json", "2026-11-25T01:00:00.0000000Z", b"{}", True)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<EnumerationResults ServiceEndpoint="https://{ACCOUNT}.blob.core.windows.net/" '
        f'ContainerName="{CONTAINER}"><Prefix>{BLOB}</Prefix><Blobs>{blobs}</Blobs>'
        "<NextMarker /></EnumerationResults>"
    ).encode()


def _blob_headers(vid: str, data: bytes) -> dict[str, str]:
    return {
        "ETag": f'"{ETAGS[vid]}"',
        "Last-Modified": "Tue, 24 Nov 2026 00:00:03 GMT",
        "x-ms-version-id": vid,
        "x-ms-blob-type": "BlockBlob",
        "x-ms-meta-sha256": hashlib.sha256(data).hexdigest(),
        "x-ms-meta-size": str(len(data)),
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "x-ms-version": "2025-11-05",
        **({"x-ms-is-current-version": "true"} if vid == CURRENT else {}),
    }


def _not_found() -> Answer:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code>'
        b"<Message>The specified blob does not exist.</Message></Error>"
    )
    return 404, {"x-ms-error-code": "BlobNotFound", "Content-Type": "application/xml"}, body


def _service(request: requests.PreparedRequest) -> Answer:
    assert request.headers["Authorization"] == "Bearer fake-aad-token-5f2c9d"
    url = urlsplit(request.url or "")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if query.get("comp") == "list":
        assert query["restype"] == "container" and query["prefix"] == BLOB
        assert set(query["include"].split(",")) == {"versions", "metadata"}
        return 200, {"Content-Type": "application/xml"}, _list_blobs()
    assert url.path == f"/{CONTAINER}/{BLOB}"
    vid = query.get("versionid", CURRENT)
    if vid not in VERSIONS:
        status, headers, body = _not_found()
        return status, headers, b"" if request.method == "HEAD" else body
    data = VERSIONS[vid]
    headers = _blob_headers(vid, data)
    if request.method == "HEAD":
        return 200, {**headers, "Content-Length": str(len(data))}, b""
    match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers.get("x-ms-range", ""))
    assert match, "the SDK downloads in ranges"
    start, end = int(match[1]), min(int(match[2]), len(data) - 1)
    chunk = data[start : end + 1]
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    if request.headers.get("x-ms-range-get-content-md5") == "true":
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(chunk).digest()).decode()
    return 206, headers, chunk


@pytest.fixture
def store() -> tuple[AzureBlobStore, list[requests.PreparedRequest]]:
    return fake_store(_service, f"https://{ACCOUNT}.blob.core.windows.net/{CONTAINER}/{BLOB}")


def test_versions_lists_the_exact_blob_newest_first(store: tuple[AzureBlobStore, list[object]]) -> None:
    versions = store[0].versions()
    assert [v.version_id for v in versions] == sorted(VERSIONS, reverse=True)
    assert [v.is_latest for v in versions] == [True, False, False]
    assert versions[0].etag == f'"{ETAGS[CURRENT]}"'  # header form, usable for IfMatch
    assert (
        versions[2].metadata["sha256"] == hashlib.sha256(VERSIONS["2026-11-23T00:00:04.1111111Z"]).hexdigest()
    )
    assert all(v.url == f"azblob://{ACCOUNT}/{CONTAINER}/{BLOB}" for v in versions)
    newest = store[0].versions(limit=2)
    assert [v.version_id for v in newest] == sorted(VERSIONS, reverse=True)[:2]


def test_download_an_old_version_by_id(store: tuple[AzureBlobStore, list[requests.PreparedRequest]]) -> None:
    blob_store, seen = store
    old = "2026-11-23T00:00:04.1111111Z"
    buf = io.BytesIO()
    info = blob_store.download(buf, old)
    assert buf.getvalue() == VERSIONS[old]
    assert info.version_id == old and not info.is_latest
    gets = [r for r in seen if r.method == "GET"]
    assert gets and all("versionid=2026-11-23T00" in (r.url or "") for r in gets)


def test_head_of_a_version_and_a_missing_one(store: tuple[AzureBlobStore, list[object]]) -> None:
    blob_store = store[0]
    head = blob_store.head("2026-11-24T00:00:03.2222222Z")
    assert head is not None and head.size == 6000 and not head.is_latest
    assert blob_store.head() is not None
    assert blob_store.head("2000-01-01T00:00:00.0000000Z") is None
    with pytest.raises(ObjectNotFound):
        blob_store.download(io.BytesIO(), "2000-01-01T00:00:00.0000000Z")


def test_a_version_id_not_of_the_service_format_is_refused_before_any_request(
    store: tuple[AzureBlobStore, list[requests.PreparedRequest]],
) -> None:
    """`versionid=` goes into a query string: one that is not a timestamp never leaves the process."""
    blob_store, seen = store
    for bad in ("2026-11-25T00:00:02.3333333Z&comp=list", "../other", "latest"):
        with pytest.raises(BadRequest, match="is not a valid Azure Blob version id"):
            blob_store.download(io.BytesIO(), bad)
        with pytest.raises(BadRequest, match="is not a valid Azure Blob version id"):
            blob_store.head(bad)
    assert seen == []
