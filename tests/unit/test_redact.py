"""Redaction: registered secrets and secret-shaped fragments never reach a log record."""

from __future__ import annotations

import logging

import pytest
from controller_backup import secrets as refs
from controller_backup.errors import SettingsError
from controller_backup.redact import redact, register_secret


def test_registered_values_are_masked() -> None:
    register_secret("Tr1cky-Value-42")
    assert redact("login with Tr1cky-Value-42 failed") == "login with *** failed"


@pytest.mark.parametrize(
    "text",
    [
        "GET /v2/api?action=export_config&CID=AbCdEf123456",
        'answer {"CID": "AbCdEf123456"}',
        "X-Access-Key: AbCdEf123456",
        "AccountKey=AbCdEf123456;",
        "https://acct.blob.core.windows.net/c/b?sv=2023&sig=AbCdEf123456",
    ],
)
def test_secret_shapes_are_masked(text: str) -> None:
    assert "AbCdEf123456" not in redact(text)


def test_log_records_are_masked_whatever_the_handler(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("An0ther-Secret-Value")
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("value=%s", "An0ther-Secret-Value")
        try:
            raise RuntimeError("boom An0ther-Secret-Value")
        except RuntimeError:
            logging.getLogger("anything").exception("failed")
    assert "An0ther-Secret-Value" not in caplog.text
    assert "***" in caplog.text


def test_env_reference_resolves_and_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PW", "Env-Secret-Value-9")
    assert refs.resolve_secret("env:MY_PW") == "Env-Secret-Value-9"
    assert "Env-Secret-Value-9" not in redact("pw is Env-Secret-Value-9")


def test_env_reference_missing_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_THERE", raising=False)
    with pytest.raises(SettingsError, match="NOT_THERE is not set"):
        refs.resolve_secret("env:NOT_THERE")


def test_values_are_cached_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def resolver(name: str) -> str:
        calls.append(name)
        return f"value-of-{name}"

    refs.register_scheme("test-counted", resolver)
    assert refs.resolve_secret("test-counted:a") == refs.resolve_secret("test-counted:a")
    assert calls == ["a"]


def test_unknown_scheme_is_a_literal_and_unknown_registered_scheme_fails() -> None:
    assert refs.resolve_secret("plain-literal-password") == "plain-literal-password"
    refs.register_scheme("test-broken", "controller_backup.no_such_module:resolve")
    with pytest.raises(SettingsError, match="needs an SDK"):
        refs.resolve_secret("test-broken:x")
