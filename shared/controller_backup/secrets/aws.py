"""`aws-sm:NAME[#field]` and `aws-ssm:/path` references, read through Powertools Parameters.

Powertools keeps each value in its own cache for `max_age` seconds (`POWERTOOLS_PARAMETERS_MAX_AGE`,
default 5). The registry in `secrets/__init__.py` already keeps a value for the life of the process,
and asks again only after `clear_cache()` (an auth failure, perhaps a rotated secret), so a short
Powertools cache is what lets that second ask see the new value.

Messages name the reference and the AWS error code, never a value: a secret's JSON that lacks the
asked-for field is reported by field name only.
"""

from __future__ import annotations

import os
from typing import Any

from controller_backup.errors import SettingsError
from controller_backup.secrets import json_object

_DEFAULT_MAX_AGE = 5
_MAX_AGE_ENV = "POWERTOOLS_PARAMETERS_MAX_AGE"


def _max_age() -> int:
    raw = os.environ.get(_MAX_AGE_ENV, "")
    try:
        return max(0, int(raw)) if raw else _DEFAULT_MAX_AGE
    except ValueError:
        raise SettingsError(f"{_MAX_AGE_ENV}: expected a number of seconds, got {raw!r}") from None


def _aws_code(exc: BaseException) -> str:
    """The AWS error code behind a Powertools GetParameterError (it chains the ClientError)."""
    from botocore.exceptions import BotoCoreError, ClientError

    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", "ClientError"))
    if isinstance(cause, BotoCoreError):
        return type(cause).__name__
    return type(exc).__name__


def _explain(reference: str, code: str, permission: str) -> SettingsError:
    if code in ("ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"):
        return SettingsError(f"secret reference {reference}: not found ({code})")
    if code in ("AccessDeniedException", "AccessDenied", "KMSAccessDeniedException"):
        return SettingsError(
            f"secret reference {reference}: access denied ({code}); the role needs {permission}"
        )
    return SettingsError(f"secret reference {reference}: could not be read ({code})")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(type(value).__name__)


def resolve_secrets_manager(rest: str) -> str:
    """`NAME` or `NAME#field`: the secret string, or one field of its JSON object."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    name, sep, field = rest.partition("#")
    reference = f"aws-sm:{name}" + (f"#{field}" if sep else "")
    if not name or (sep and not field):
        raise SettingsError(f"secret reference {reference}: expected aws-sm:NAME or aws-sm:NAME#field")
    try:
        raw = _text(parameters.get_secret(name, max_age=_max_age()))
    except GetParameterError as exc:
        raise _explain(reference, _aws_code(exc), "secretsmanager:GetSecretValue") from None
    except (TypeError, UnicodeDecodeError):
        raise SettingsError(f"secret reference {reference}: the secret is not text") from None
    if not sep:
        return raw
    value = json_object(raw, f"secret reference {reference}").get(field)
    if not isinstance(value, str) or not value:
        raise SettingsError(f"secret reference {reference}: the secret has no text field {field!r}")
    return value


def resolve_ssm_parameter(rest: str) -> str:
    """`/path/to/parameter`: a (SecureString, decrypted) SSM parameter."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    reference = f"aws-ssm:{rest}"
    if not rest:
        raise SettingsError("secret reference aws-ssm: expected aws-ssm:/path/to/parameter")
    try:
        return _text(parameters.get_parameter(rest, decrypt=True, max_age=_max_age()))
    except GetParameterError as exc:
        raise _explain(reference, _aws_code(exc), "ssm:GetParameter (and kms:Decrypt)") from None
