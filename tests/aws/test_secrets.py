"""aws-sm: and aws-ssm: references through Powertools Parameters, against moto server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters
from controller_backup.errors import SettingsError
from controller_backup.redact import redact
from controller_backup.secrets import clear_cache, resolve_secret

from tests.fixtures.aws import MotoServer


@pytest.fixture(autouse=True)
def fresh_caches(aws_env: MotoServer) -> Iterator[None]:
    clear_cache()
    parameters.clear_caches()
    yield
    clear_cache()
    parameters.clear_caches()


def _secret(aws_env: MotoServer, value: str) -> str:
    name = f"controller/{uuid.uuid4().hex}"
    aws_env.client("secretsmanager").create_secret(Name=name, SecretString=value)
    return name


def test_plain_secret_string(aws_env: MotoServer) -> None:
    name = _secret(aws_env, "Pa55-word-plain")
    assert resolve_secret(f"aws-sm:{name}") == "Pa55-word-plain"


def test_json_field(aws_env: MotoServer) -> None:
    name = _secret(aws_env, json.dumps({"username": "admin", "password": "Fi3ld-secret"}))
    assert resolve_secret(f"aws-sm:{name}#password") == "Fi3ld-secret"


def test_resolved_value_is_masked_in_logs(aws_env: MotoServer) -> None:
    name = _secret(aws_env, "Masked-Va1ue-xyz")
    value = resolve_secret(f"aws-sm:{name}")
    assert redact(f"logging in with {value}") == "logging in with ***"


def test_missing_field_names_the_field_not_the_content(aws_env: MotoServer) -> None:
    name = _secret(aws_env, json.dumps({"password": "N0t-shown-anywhere"}))
    with pytest.raises(SettingsError, match="no text field 'passwd'") as caught:
        resolve_secret(f"aws-sm:{name}#passwd")
    assert "N0t-shown-anywhere" not in str(caught.value)


def test_field_of_a_non_json_secret(aws_env: MotoServer) -> None:
    name = _secret(aws_env, "not json at all")
    with pytest.raises(SettingsError, match="not a JSON object") as caught:
        resolve_secret(f"aws-sm:{name}#password")
    assert "not json at all" not in str(caught.value)


def test_missing_secret_is_a_settings_error_naming_it(aws_env: MotoServer) -> None:
    with pytest.raises(
        SettingsError, match=r"aws-sm:does/not/exist: not found \(ResourceNotFoundException\)"
    ):
        resolve_secret("aws-sm:does/not/exist")


def test_cached_per_process(aws_env: MotoServer) -> None:
    name = _secret(aws_env, "First-va1ue")
    assert resolve_secret(f"aws-sm:{name}") == "First-va1ue"
    aws_env.client("secretsmanager").put_secret_value(SecretId=name, SecretString="Second-va1ue")
    assert resolve_secret(f"aws-sm:{name}") == "First-va1ue"


def test_rotation_is_seen_after_the_cache_is_cleared(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")
    name = _secret(aws_env, "Before-r0tation")
    assert resolve_secret(f"aws-sm:{name}") == "Before-r0tation"
    aws_env.client("secretsmanager").put_secret_value(SecretId=name, SecretString="After-r0tation")
    clear_cache()
    assert resolve_secret(f"aws-sm:{name}") == "After-r0tation"


def test_ssm_secure_string(aws_env: MotoServer) -> None:
    path = f"/controller/{uuid.uuid4().hex}/password"
    aws_env.client("ssm").put_parameter(Name=path, Value="Ssm-s3cret-value", Type="SecureString")
    assert resolve_secret(f"aws-ssm:{path}") == "Ssm-s3cret-value"


def test_missing_ssm_parameter(aws_env: MotoServer) -> None:
    with pytest.raises(SettingsError, match=r"aws-ssm:/no/such/param: not found \(ParameterNotFound\)"):
        resolve_secret("aws-ssm:/no/such/param")


@pytest.mark.parametrize("reference", ["aws-sm:", "aws-sm:name#", "aws-ssm:"])
def test_malformed_references(reference: str) -> None:
    with pytest.raises(SettingsError, match="expected aws-"):
        resolve_secret(reference)
