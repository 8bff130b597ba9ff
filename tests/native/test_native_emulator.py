"""The emulator's native actions: they must refuse what a real controller refuses, or the driver's
tests could not fail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_emulator import Emulator, EmulatorConfig
from controller_emulator.native_file import SealedFileError, seal, unseal

from tests.emulator.conftest import PASSWORD, Client


@pytest.fixture(params=["v2", "v1"])
def emu(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Emulator]:
    cfg = EmulatorConfig(api=request.param, bucket_root=str(tmp_path), native_backup_delay=0.0)
    with Emulator(cfg) as emulator:
        emulator.state.add_account({"account_name": "acct", "cloud_type": 1})
        yield emulator


def _client(emu: Emulator) -> Client:
    client = Client(emu.url, api=emu.config.api)
    client.connect(password=PASSWORD)
    return client


def test_enable_takes_the_account_name_its_api_version_uses(emu: Emulator) -> None:
    client = _client(emu)
    right, wrong = ("acct_name", "account_name") if emu.config.api == "v2" else ("account_name", "acct_name")
    answer = client.call("enable_cloudn_backup_config", cloud_type="1", bucket_name="b", **{wrong: "acct"})
    assert answer == {"return": False, "reason": f"Unexpected parameter(s): {wrong}"}
    answer = client.call("enable_cloudn_backup_config", cloud_type="1", bucket_name="b")
    assert answer == {"return": False, "reason": f"{right} is required"}
    multiple = "multiple_bkup" if emu.config.api == "v2" else "multiple"
    answer = client.call(
        "enable_cloudn_backup_config", cloud_type="1", bucket_name="b", **{right: "acct", multiple: "true"}
    )
    assert answer["return"] is True
    config = client.call("get_cloudn_backup_config")["results"]
    assert config["enabled"] == "yes" and config["multiple_bkup"] == "true" and config["bucket_name"] == "b"
    emu.native.wait_idle()
    assert (Path(emu.config.bucket_root or "") / "b" / "CloudN_10.0.0.10_save_cloudx_config.enc").exists()
    assert client.call("disable_cloudn_backup_config")["return"] is True
    assert client.call("get_cloudn_backup_config")["results"] == {"enabled": "no"}


def test_enable_refuses_unknown_accounts_and_missing_destinations(emu: Emulator) -> None:
    client = _client(emu)
    key = "acct_name" if emu.config.api == "v2" else "account_name"
    assert (
        client.call("enable_cloudn_backup_config", cloud_type="1", bucket_name="b", **{key: "nope"})["reason"]
        == "Account nope does not exist"
    )
    assert (
        client.call(
            "enable_cloudn_backup_config",
            cloud_type="8",
            storage_name="s",
            container_name="c",
            **{key: "acct"},
        )["reason"]
        == "region is required"
    )
    assert (
        client.call("enable_cloudn_backup_config", cloud_type="3", bucket_name="b", **{key: "acct"})["reason"]
        == "Invalid cloud_type: 3"
    )


def test_account_profiles_keep_no_secrets_and_no_duplicates(emu: Emulator) -> None:
    client = _client(emu)
    fields = {
        "arm_subscription_id": "sub",
        "arm_application_endpoint": "tenant",
        "arm_application_client_id": "app",
        "arm_application_client_secret": "Very-Secret-Value",
    }
    assert client.call("setup_account_profile", account_name="az", cloud_type="8")["reason"].endswith(
        "is required"
    )
    assert client.call("setup_account_profile", account_name="az", cloud_type="8", **fields)["return"] is True
    assert "Very-Secret-Value" not in repr(emu.state.records.accounts)
    again = client.call("setup_account_profile", account_name="az", cloud_type="8", **fields)
    assert again == {"return": False, "reason": "Account az already exists"}


def test_restore_refuses_missing_and_damaged_files(emu: Emulator, tmp_path: Path) -> None:
    client = _client(emu)
    params = {"cloud_type": "1", "account_name": "acct", "bucket_name": "b"}
    missing = client.call(
        "restore_cloudx_config", file_name="CloudN_1.2.3.4_save_cloudx_config.enc", **params
    )
    assert missing["return"] is False and "not found" in missing["reason"]
    from controller_backup.stores import SizedSource, open_store

    junk = b"x" * 4096
    open_store(str(tmp_path / "b" / "junk.enc")).put(SizedSource.of(junk), {})
    damaged = client.call("restore_cloudx_config", file_name="junk.enc", **params)
    assert damaged["return"] is False and "decrypt" in damaged["reason"]
    assert not emu.state.imported


def test_sealed_file_round_trip_is_chunking_independent() -> None:
    archive = [bytes(range(256)) * 40, b"tail" * 1000, b"", b"z"]
    sealed = io.BytesIO()
    size = seal({"version": "7.1.1794"}, archive, sealed)
    assert size == len(sealed.getvalue())
    assert b"".join(archive) not in sealed.getvalue()
    out = io.BytesIO()
    header = unseal(io.BytesIO(sealed.getvalue()), size, out)
    assert header == {"version": "7.1.1794"} and out.getvalue() == b"".join(archive)
    again = io.BytesIO()
    seal({"version": "7.1.1794"}, [b"".join(archive)], again)
    assert again.getvalue() != sealed.getvalue()  # a fresh nonce each time
    for damaged in (sealed.getvalue()[:-40], sealed.getvalue()[:300] + b"\0" + sealed.getvalue()[301:]):
        with pytest.raises(SealedFileError):
            unseal(io.BytesIO(damaged), len(damaged), io.BytesIO())


# -- strictness: what no official client sends is refused ---------------------------------------

_ARM = {
    "subscription_id": "sub",
    "application_endpoint": "tenant",
    "application_client_id": "app",
    "application_client_secret": "Very-Secret-Value",
}


def _multipart(
    client: Client, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
) -> dict[str, object]:
    """A multipart POST as urllib3 encodes it (an encoder independent of the product's)."""
    import json

    body: dict[str, object] = {"action": "setup_account_profile", "CID": client.cid or "", **fields}
    body.update({name: (filename, content) for name, (filename, content) in files.items()})
    response = client.pool.request("POST", client.endpoint, fields=body, headers=client.headers())
    answer: dict[str, object] = json.loads(response.data)
    return answer


@pytest.mark.parametrize(
    ("cloud_type", "fields", "reason"),
    [
        # the fields this tool sent before it followed the official clients
        ("4", {"gcloud_project_id": "p", "gcloud_project_credentials": "{}"}, "Unexpected parameter(s)"),
        (
            "256",
            {
                "aws_account_number": "123456789012",
                "aws_iam": "true",
                "aws_role_arn": "a",
                "aws_role_ec2": "e",
            },
            "Unexpected parameter(s)",
        ),
        (
            "1024",
            {
                "aws_account_number": "123456789012",
                "aws_iam": "true",
                "aws_role_arn": "a",
                "aws_role_ec2": "e",
            },
            "Unexpected parameter(s)",
        ),
        ("32", {f"arm_{key}": value for key, value in _ARM.items()}, "Unexpected parameter(s)"),
        ("2048", {f"arm_{key}": value for key, value in _ARM.items()}, "Unexpected parameter(s)"),
        # and a key that must be a file part, sent as a form field
        ("4", {"gcloud_project_name": "p", "gcloud_project_credentials": "{}"}, "Unexpected parameter(s)"),
    ],
)
def test_account_fields_of_another_cloud_or_form_are_refused(
    emu: Emulator, cloud_type: str, fields: dict[str, str], reason: str
) -> None:
    answer = _client(emu).call("setup_account_profile", account_name="x", cloud_type=cloud_type, **fields)
    assert answer["return"] is False and str(answer["reason"]).startswith(reason), answer
    assert "x" not in emu.state.account_names()


def test_each_cloud_types_own_account_fields_are_taken(emu: Emulator) -> None:
    client = _client(emu)
    for cloud_type, prefix in (("8", "arm_"), ("32", "azure_gov_"), ("2048", "arm_china_")):
        fields = {prefix + key: value for key, value in _ARM.items()}
        answer = client.call(
            "setup_account_profile", account_name=f"az{cloud_type}", cloud_type=cloud_type, **fields
        )
        assert answer["return"] is True, answer
    gov = {
        "awsgov_account_number": "123456789012",
        "awsgov_iam": "true",
        "awsgov_role_arn": "a",
        "awsgov_role_ec2": "e",
    }
    assert client.call("setup_account_profile", account_name="gov", cloud_type="256", **gov)["return"] is True
    # GCP: the key as a file part, as the Terraform provider sends it
    fields = {"account_name": "gcp", "cloud_type": "4", "gcloud_project_name": "ctrl-project-1"}
    missing = _multipart(client, fields, {})
    assert missing == {"return": False, "reason": "gcloud_project_credentials is required (a file upload)"}
    taken = _multipart(
        client, fields, {"gcloud_project_credentials": ("key.json", b'{"type": "service_account"}')}
    )
    assert taken["return"] is True, taken
    assert {"az8", "az32", "az2048", "gov", "gcp"} <= set(emu.state.account_names())


def test_oci_backups_need_the_region(emu: Emulator) -> None:
    client = _client(emu)
    emu.state.add_account({"account_name": "oci", "cloud_type": 16})
    key, multiple = ("acct_name", "multiple_bkup") if emu.config.api == "v2" else ("account_name", "multiple")
    answer = client.call("enable_cloudn_backup_config", cloud_type="16", bucket_name="b", **{key: "oci"})
    assert answer == {"return": False, "reason": "region is required"}
    answer = client.call(
        "enable_cloudn_backup_config",
        cloud_type="16",
        bucket_name="b",
        region="r",
        **{key: "oci", multiple: "true"},
    )
    assert answer["return"] is True


def test_an_azure_restore_names_no_account(emu: Emulator) -> None:
    client = _client(emu)
    params = {f"arm_{key}": value for key, value in _ARM.items()}
    params.update(
        cloud_type="8",
        storage_name="s",
        container_name="c",
        file_name="CloudN_1.2.3.4_save_cloudx_config.enc",
    )
    with_account = client.call("restore_cloudx_config", account_name="acct", **params)
    assert with_account == {"return": False, "reason": "Unexpected parameter(s): account_name"}
    without = client.call("restore_cloudx_config", **params)
    assert without["return"] is False and "not found" in str(without["reason"])  # accepted as a request
