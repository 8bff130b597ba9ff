"""Moving archives: export/import identity, upload framings, bounded memory, HTTPS."""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Iterator

import pytest
import urllib3
from controller_emulator import ArchiveSpec, Emulator, EmulatorConfig, iter_archive
from controller_emulator.records import generate_records

from .conftest import Client, envelope


def test_export_import_export_is_byte_identical_across_controllers() -> None:
    with (
        Emulator(EmulatorConfig(archive_size=300 * 1024, seed=5, name="old")) as source,
        Emulator(EmulatorConfig(blank=True, name="new")) as target,
    ):
        source_client = Client(source.url)
        source_client.connect()
        archive = source_client.export().data
        target_client = Client(target.url)
        target_client.connect(password="10.0.0.10")
        assert target_client.call("initial_setup", subaction="check")["return"] is False
        assert envelope(target_client.import_(archive)) == {
            "return": True,
            "results": "Configuration imported successfully",
        }
        again = target_client.export().data
        assert hashlib.sha256(again).hexdigest() == hashlib.sha256(archive).hexdigest()
        assert target.export_sha256() == source.export_sha256()
        assert target_client.call("initial_setup", subaction="check")["return"] is True
        assert target.state.records.gateways == source.state.records.gateways
        assert target_client.call("list_vpn_users")["results"] == source.state.records.vpn_users


@pytest.mark.parametrize(
    "payload",
    [b"", b"not an archive at all", b"\0" * 10240],
    ids=["empty", "garbage", "zeros"],
)
def test_invalid_archives_are_refused_and_leave_the_configuration(
    client: Client, emulator: Emulator, payload: bytes
) -> None:
    before = emulator.export_sha256()
    assert envelope(client.import_(payload)) == {"return": False, "reason": "invalid configuration archive"}
    assert emulator.export_sha256() == before


def test_a_truncated_archive_is_refused(client: Client, emulator: Emulator) -> None:
    archive = emulator.export_bytes()
    assert envelope(client.import_(archive[: len(archive) // 2]))["reason"] == "invalid configuration archive"


def test_import_without_a_file_is_refused(client: Client) -> None:
    assert client.call("import_config") == {"return": False, "reason": "file is required"}


def _chunked_import(client: Client, boundary: str, body: Iterator[bytes]) -> urllib3.BaseHTTPResponse:
    """import_config with a multipart body streamed chunked, its action in the query string."""
    return client.pool.request(
        "POST",
        f"{client.endpoint}?action=import_config&CID={client.cid}",
        body=body,
        headers={**client.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
        chunked=True,
    )


def test_chunked_streaming_upload_with_action_in_the_query_string(client: Client, emulator: Emulator) -> None:
    """A client that streams its upload from a generator sends it chunked; parameters may ride in the URL."""
    archive = Emulator(EmulatorConfig(archive_size=2 * 1024 * 1024, seed=9)).export_bytes()
    boundary = "streamBoundary42"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.tar"\r\n'
        "Content-Type: application/x-tar\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for start in range(0, len(archive), 100_000):
            yield archive[start : start + 100_000]
        yield f"\r\n--{boundary}--\r\n".encode()

    response = _chunked_import(client, boundary, body())
    assert envelope(response)["return"] is True
    assert emulator.export_sha256() == hashlib.sha256(archive).hexdigest()
    assert emulator.requests[-1] == ("POST", "/v2/api", "import_config")


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_64_mib_export_streams_in_bounded_memory() -> None:
    with Emulator(EmulatorConfig(archive_size=64 * 1024 * 1024)) as emu:
        client = Client(emu.url)
        client.connect()
        client.export(preload_content=False).drain_conn()  # warm up the code paths
        baseline = _rss_kib()
        response = client.export(preload_content=False)
        digest, peak, received = hashlib.sha256(), baseline, 0
        for chunk in response.stream(256 * 1024):
            digest.update(chunk)
            received += len(chunk)
            peak = max(peak, _rss_kib())
        assert received == int(response.headers["Content-Length"]) >= 64 * 1024 * 1024
        assert digest.hexdigest() == emu.export_sha256()
        assert (peak - baseline) < 20 * 1024, f"RSS grew by {(peak - baseline) // 1024} MiB"


def test_a_64_mib_import_streams_in_bounded_memory() -> None:
    """The multipart body is parsed as it arrives and spooled to disk, never held whole."""
    source = ArchiveSpec("old", "7.1.1794", True, 3, 64 * 1024 * 1024, generate_records(3))
    boundary = "rssBoundary"
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_kib())
            stop.wait(0.005)

    def body() -> Iterator[bytes]:
        disposition = 'Content-Disposition: form-data; name="file"; filename="b.tar"'
        yield f"--{boundary}\r\n{disposition}\r\n\r\n".encode()
        yield from iter_archive(source)
        yield f"\r\n--{boundary}--\r\n".encode()

    with Emulator(EmulatorConfig(blank=True)) as emu:
        client = Client(emu.url)
        client.connect(password="10.0.0.10")
        baseline = peak[0] = _rss_kib()
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            response = _chunked_import(client, boundary, body())
        finally:
            stop.set()
            sampler.join()
        assert envelope(response)["return"] is True
        expected = hashlib.sha256()
        for chunk in iter_archive(source):
            expected.update(chunk)
        assert emu.export_sha256() == expected.hexdigest()
        assert (peak[0] - baseline) < 20 * 1024, f"RSS grew by {(peak[0] - baseline) // 1024} MiB"


def test_tls_with_the_pinned_certificate() -> None:
    with Emulator(EmulatorConfig(tls=True)) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        assert emu.ca_pem is not None and emu.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        assert emu.ca_file is not None
        client = Client(emu.url, ca_file=emu.ca_file)
        assert client.connect()["return"] is True
        assert client.export().data == emu.export_bytes()
        strict = ssl.create_default_context(cafile=emu.ca_file)
        strict.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
        localhost = urllib3.PoolManager(ssl_context=strict, retries=False)
        url = emu.url.replace("127.0.0.1", "localhost") + "/v2/api?action=get_api_token"
        assert localhost.request("GET", url).status == 200
        untrusting = urllib3.PoolManager(retries=False)  # system CAs only
        with pytest.raises(urllib3.exceptions.SSLError):
            untrusting.request("GET", url)
        emu.faults.drop_next = 1
        with pytest.raises(urllib3.exceptions.ProtocolError):
            client.get(action="get_api_token")
        # A client's failed handshake or a dropped connection harms nobody else.
        assert Client(emu.url, ca_file=emu.ca_file).connect()["return"] is True


def test_plain_http_has_no_certificate(emulator: Emulator) -> None:
    assert emulator.url.startswith("http://")
    assert emulator.ca_pem is None and emulator.ca_file is None


def test_concurrent_clients_each_get_the_whole_archive(emulator: Emulator) -> None:
    expected = emulator.export_sha256()
    results: list[str] = []

    def fetch() -> None:
        client = Client(emulator.url)
        client.connect()
        results.append(hashlib.sha256(client.export().data).hexdigest())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [expected] * 8


def test_start_stop_without_with_and_url_only_while_running() -> None:
    emu = Emulator(EmulatorConfig())
    with pytest.raises(RuntimeError):
        _ = emu.url
    assert emu.start() is emu
    url = f"{emu.url}/v2/api?action=get_api_token"
    try:
        assert urllib3.request("GET", url, retries=False).status == 200
    finally:
        emu.stop()
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.request("GET", url, retries=False, timeout=2)
    with pytest.raises(RuntimeError):
        _ = emu.url


def test_config_is_validated() -> None:
    for bad in ({"archive_size": 10}, {"api": "v3"}, {"error_5xx_rate": 2.0}, {"cid_lifetime": 0}):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)
