"""Settings: one validation pass that names every bad or missing variable."""

from __future__ import annotations

import re
import string

import pytest
from controller_backup.errors import SettingsError
from controller_backup.settings import Settings
from hypothesis import given
from hypothesis import strategies as st

GOOD = {
    "CONTROLLER_URL": "https://controller.example.com",
    "CONTROLLER_PASSWORD": "env:PW",
    "BACKUP_URL": "s3://bucket/controller/backup.tar",
    "CONTROLLER_BACKUP_MODE": "export",
}
NATIVE = {
    "CONTROLLER_URL": "https://controller.example.com",
    "CONTROLLER_PASSWORD": "env:PW",
    "BACKUP_URL": "s3://bucket/controller/backup.enc",
    "CONTROLLER_PRIVATE_IP": "10.0.1.25",
    "NATIVE_CLOUD_TYPE": "aws",
    "NATIVE_ACCOUNT_NAME": "backup-account",
    "NATIVE_BUCKET_URL": "s3://controller-own-backups",
    "NATIVE_AWS_ACCOUNT_NUMBER": "123456789012",
}


def test_defaults() -> None:
    settings = Settings.from_env(GOOD)
    assert settings.username == "admin"
    assert settings.verify_tls is True
    assert settings.min_size_ratio == 0.5
    assert settings.ca_bundle is None


def test_native_mode_is_the_default() -> None:
    """A real controller serves no export API: without a mode, the settings are native ones."""
    settings = Settings.from_env(NATIVE)
    assert settings.mode == "native"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {key: NATIVE[key] for key in ("CONTROLLER_URL", "CONTROLLER_PASSWORD", "BACKUP_URL")}
        )
    message = caught.value.message
    for name in ("CONTROLLER_PRIVATE_IP", "NATIVE_CLOUD_TYPE", "NATIVE_ACCOUNT_NAME", "NATIVE_BUCKET_URL"):
        assert name in message
    assert "CONTROLLER_BACKUP_MODE=export" in message  # the way out, for an emulator or a proxy


def test_oci_needs_the_region() -> None:
    oci = NATIVE | {"NATIVE_CLOUD_TYPE": "oci"}
    with pytest.raises(SettingsError, match="NATIVE_REGION is required for a native oci controller"):
        Settings.from_env(oci)
    assert Settings.from_env(oci | {"NATIVE_REGION": "us-ashburn-1"}).native_region == "us-ashburn-1"


def test_the_customer_id_is_a_secret_reference_resolved_on_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOL_ID", "carmelo-1234")
    settings = Settings.from_env(NATIVE | {"CONTROLLER_CUSTOMER_ID": "env:BYOL_ID"})
    assert settings.customer_id_ref == "env:BYOL_ID"
    assert settings.customer_id() == "carmelo-1234"
    assert Settings.from_env(NATIVE).customer_id() is None


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({})
    for name in GOOD:
        assert name in caught.value.message


def test_controller_url_may_be_missing_only_where_the_target_is_named() -> None:
    """A restore into a target the operator names needs no CONTROLLER_URL; nothing is then
    configured, so no target can be taken for the configured controller."""
    from controller_backup.targets import configured_target, operator_target

    without = {name: value for name, value in GOOD.items() if name != "CONTROLLER_URL"}
    with pytest.raises(SettingsError, match="CONTROLLER_URL is required"):
        Settings.from_env(without)
    settings = Settings.from_env(without, controller_required=False)
    assert settings.controller_url == ""
    assert operator_target(settings, "https://10.0.0.20", "10.0.0.20").origin == "operator"
    with pytest.raises(SettingsError, match=r"CONTROLLER_URL is required \(or name the target"):
        configured_target(settings)
    assert Settings.from_env(GOOD, controller_required=False).controller_url == GOOD["CONTROLLER_URL"]
    with pytest.raises(SettingsError, match="CONTROLLER_PASSWORD is required"):
        Settings.from_env({"BACKUP_URL": GOOD["BACKUP_URL"]}, controller_required=False)


def test_every_bad_variable_is_named_at_once() -> None:
    env = GOOD | {
        "CONTROLLER_URL": "ftp://x",
        "BACKUP_MIN_SIZE_RATIO": "1.5",
        "CONTROLLER_VERIFY_TLS": "maybe",
        "BACKUP_URL": "ftp://bucket/key",
        "CONTROLLER_TIMEOUT": "-1",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = caught.value.message
    for name in (
        "CONTROLLER_URL",
        "BACKUP_MIN_SIZE_RATIO",
        "CONTROLLER_VERIFY_TLS",
        "BACKUP_URL",
        "CONTROLLER_TIMEOUT",
    ):
        assert name in message


@pytest.mark.parametrize(
    "url",
    [
        "s3://b/k",
        "gs://b/k",
        "azblob://account/container/blob",
        "https://account.blob.core.windows.net/container/blob",
        "file:///var/backups/c.tar",
        "/var/backups/c.tar",
    ],
)
def test_backup_url_forms(url: str) -> None:
    assert Settings.from_env(GOOD | {"BACKUP_URL": url}).backup_url == url


def test_backup_url_must_name_an_object() -> None:
    with pytest.raises(SettingsError, match="BACKUP_URL: must name one object"):
        Settings.from_env(GOOD | {"BACKUP_URL": "s3://bucket/folder/"})


def test_copy_urls_are_a_list_of_objects_of_any_scheme() -> None:
    urls = "gs://other/backup.tar, azblob://acct/box/backup.tar\n/srv/copies/backup.tar"
    assert Settings.from_env(GOOD | {"BACKUP_COPY_URLS": urls}).copy_urls == (
        "gs://other/backup.tar",
        "azblob://acct/box/backup.tar",
        "/srv/copies/backup.tar",
    )
    assert Settings.from_env(GOOD).copy_urls == ()


@pytest.mark.parametrize(
    ("urls", "problem"),
    [
        ("s3://bucket/controller/backup.tar", "names BACKUP_URL itself"),
        ("gs://a/b gs://a/b", "names a destination twice"),
        ("gs://a/b, gs://a/", "destination 2: must name one object"),
        ("ftp://secret-host/x", "destination 1: unsupported scheme"),
    ],
)
def test_bad_copy_urls_are_named_by_position(urls: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"BACKUP_COPY_URLS: {problem}") as caught:
        Settings.from_env(GOOD | {"BACKUP_COPY_URLS": urls})
    assert "secret-host" not in str(caught.value)


def test_credentials_in_the_controller_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(GOOD | {"CONTROLLER_URL": "https://admin:hunter22@controller"})
    assert "hunter22" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("10.1.2.3", "a scheme and a host"),
        ("http://10.1.2.3", "CONTROLLER_ALLOW_HTTP=true"),
        ("https://[::1", "not a valid URL"),
        ("https://10.1.2.3:notaport", "not a valid URL"),
        ("https://controller.example.com/v1/api", "without a path"),
        ("https://bad_host!.example", "invalid host name"),
    ],
)
def test_controller_url_is_https_host_and_port_only(url: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(problem)):
        Settings.from_env(GOOD | {"CONTROLLER_URL": url})


def test_plain_http_only_when_allowed_and_warned_every_time(caplog: pytest.LogCaptureFixture) -> None:
    env = GOOD | {"CONTROLLER_URL": "http://127.0.0.1:8080", "CONTROLLER_ALLOW_HTTP": "true"}
    for _ in range(2):
        assert Settings.from_env(env).controller_url == "http://127.0.0.1:8080"
    assert sum("CONTROLLER_ALLOW_HTTP=true" in r.getMessage() for r in caplog.records) == 2
    caplog.clear()
    Settings.from_env(GOOD)
    assert not caplog.records


_LITERAL = "Literal-Pa55word-In-Env"  # the value the warning must never show


@pytest.mark.parametrize(
    ("env", "overrides", "named"),
    [
        (GOOD | {"CONTROLLER_PASSWORD": _LITERAL}, {}, "CONTROLLER_PASSWORD is a literal password"),
        (GOOD, {"password_ref": _LITERAL}, "--password-ref is a literal password"),
        # a value with a colon that names no scheme is a literal too
        (
            GOOD | {"CONTROLLER_PASSWORD": f"vault:{_LITERAL}"},
            {},
            "CONTROLLER_PASSWORD is a literal password",
        ),
    ],
    ids=["environment", "flag", "unknown-scheme"],
)
def test_a_literal_password_is_warned_about_on_every_load_without_its_value(
    caplog: pytest.LogCaptureFixture, env: dict[str, str], overrides: dict[str, str], named: str
) -> None:
    for _ in range(2):
        Settings.from_env(env, **overrides)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and named in r.getMessage()]
    assert len(warnings) == 2
    for form in ("env:NAME", "aws-sm:NAME", "aws-ssm:/path", "azure-kv:VAULT/NAME", "gcp-sm:projects/"):
        assert form in warnings[0].getMessage()
    assert all(_LITERAL not in r.getMessage() and _LITERAL not in str(r.args) for r in caplog.records)


@pytest.mark.parametrize(
    "reference", ["env:PW", "aws-sm:prod/controller#password", "aws-ssm:/prod/pw", "azure-kv:vault1/pw"]
)
def test_a_secret_reference_is_not_warned_about(caplog: pytest.LogCaptureFixture, reference: str) -> None:
    Settings.from_env(GOOD | {"CONTROLLER_PASSWORD": reference})
    assert not caplog.records


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env(GOOD, backup_url="gs://other/key", min_size_ratio=None)
    assert settings.backup_url == "gs://other/key"


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "CONTROLLER_URL",
                "CONTROLLER_PASSWORD",
                "BACKUP_URL",
                "BACKUP_MIN_SIZE_RATIO",
                "CONTROLLER_VERIFY_TLS",
                "CONTROLLER_TIMEOUT",
                "BACKUP_KEEP_VERSIONS",
            ]
        ),
        st.text(alphabet=string.printable, max_size=30),
    )
)
def test_any_environment_gives_settings_or_a_named_error(env: dict[str, str]) -> None:
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        assert exc.message.startswith("invalid settings: ")
        named = [name for name in env if name in exc.message] + [name for name in GOOD if name in exc.message]
        assert named, exc.message
    else:
        assert settings.controller_url.startswith(("http://", "https://"))
        assert 0.0 <= settings.min_size_ratio <= 1.0
        assert settings.request_timeout > 0
