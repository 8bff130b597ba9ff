"""TLS: verified by default, a pinned CA bundle works, verification off only when asked (loudly)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import pytest
from controller_backup.errors import ControllerError
from controller_backup.settings import Settings
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import CONTROLLER_PASSWORD

from .helpers import backup


@pytest.fixture(scope="module")
def tls_controller() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, tls=True)) as emu:
        yield emu


def test_an_unknown_cas_certificate_is_refused_by_default(
    tls_controller: Emulator, settings: Settings
) -> None:
    assert tls_controller.url.startswith("https://")
    with pytest.raises(ControllerError, match=r"certificate did not verify .*CONTROLLER_CA_BUNDLE"):
        backup(settings.for_controller(tls_controller.url))


def test_pinned_ca_file(tls_controller: Emulator, settings: Settings) -> None:
    target = dataclasses.replace(
        settings.for_controller(tls_controller.url), ca_bundle=tls_controller.ca_file
    )
    assert backup(target).sha256 == tls_controller.export_sha256()


def test_pinned_ca_pem_text(tls_controller: Emulator, settings: Settings) -> None:
    target = dataclasses.replace(settings.for_controller(tls_controller.url), ca_bundle=tls_controller.ca_pem)
    assert backup(target).sha256 == tls_controller.export_sha256()


def test_verification_off_works_and_warns(
    tls_controller: Emulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    target = dataclasses.replace(settings.for_controller(tls_controller.url), verify_tls=False)
    with caplog.at_level(logging.WARNING):
        assert backup(target).size > 0
    assert "TLS verification is OFF" in caplog.text


def test_unreadable_ca_bundle_is_a_settings_error(tls_controller: Emulator, settings: Settings) -> None:
    from controller_backup.errors import SettingsError

    target = dataclasses.replace(settings.for_controller(tls_controller.url), ca_bundle="/nonexistent/ca.pem")
    with pytest.raises(SettingsError, match="CONTROLLER_CA_BUNDLE"):
        backup(target)


def test_a_controller_reached_by_an_address_its_certificate_does_not_list(settings: Settings) -> None:
    """The functions reach the controller at its private IP; its certificate names something else.
    Pinning the certificate is then not enough: CONTROLLER_TLS_SERVER_NAME says which name to
    check (and to send as SNI), and nothing else is relaxed."""
    named = EmulatorConfig(password=CONTROLLER_PASSWORD, tls=True, tls_names=("controller.example.internal",))
    with Emulator(named) as emu:
        pinned = dataclasses.replace(settings.for_controller(emu.url), ca_bundle=emu.ca_file)
        with pytest.raises(ControllerError, match=r"does not name the host checked.*'127\.0\.0\.1'"):
            backup(pinned)  # the certificate does not list 127.0.0.1
        wrong = dataclasses.replace(pinned, tls_server_name="other.example.internal")
        with pytest.raises(ControllerError, match="CONTROLLER_TLS_SERVER_NAME to a name it lists"):
            backup(wrong)
        right = Settings.from_env(
            {
                "CONTROLLER_URL": emu.url,
                "CONTROLLER_PASSWORD": settings.password_ref,
                "BACKUP_URL": settings.backup_url,
                "CONTROLLER_BACKUP_MODE": "export",
                "CONTROLLER_CA_BUNDLE": str(emu.ca_file),
                "CONTROLLER_TLS_SERVER_NAME": "controller.example.internal",
            }
        )
        assert backup(right).sha256 == emu.export_sha256()


@pytest.mark.parametrize("verify_tls", [True, False])
def test_https_to_a_plain_http_port_is_diagnosed_as_such(
    controller: Emulator, settings: Settings, verify_tls: bool
) -> None:
    """The emulator answers plain HTTP: the handshake fails for that reason, not a certificate's,
    and nobody is told to turn verification off (least of all one who already did)."""
    plain = controller.url.replace("http://", "https://")
    target = dataclasses.replace(settings.for_controller(plain), verify_tls=verify_tls)
    port = plain.rsplit(":", 1)[1]
    with pytest.raises(ControllerError) as caught:
        backup(target)
    message = caught.value.message
    assert f"the TLS handshake with 127.0.0.1:{port} failed: it answers in plain HTTP, not HTTPS" in message
    assert "CONTROLLER_VERIFY_TLS" not in message and "certificate" not in message
