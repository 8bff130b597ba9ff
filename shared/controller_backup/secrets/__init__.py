"""Secret references -> values, fetched once per process and cached.

A reference is `scheme:rest`. `env:NAME` is built in; each cloud registers its scheme as a
"module:function" path that is imported only when a reference of that scheme is resolved, so the
core never loads a cloud SDK it does not use; one that is not installed is a SettingsError naming
the extra to install. Values are registered with the redactor the moment they are fetched, so no
log line can carry them.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable
from typing import Any

from controller_backup.errors import SettingsError
from controller_backup.redact import register_secret
from controller_backup.sdk import sdk_for

Resolver = Callable[[str], str]

#: scheme -> "module:function"; the function takes the part after "scheme:"
_LAZY_RESOLVERS: dict[str, str] = {
    "aws-sm": "controller_backup.secrets.aws:resolve_secrets_manager",
    "aws-ssm": "controller_backup.secrets.aws:resolve_ssm_parameter",
    "azure-kv": "controller_backup.secrets.azure:resolve_key_vault",
    "gcp-sm": "controller_backup.secrets.gcp:resolve_secret_manager",
}
#: the reference forms an operator writes instead of a literal, for messages that suggest them
REFERENCE_FORMS = (
    "aws-sm:NAME[#field]",
    "aws-ssm:/path",
    "azure-kv:VAULT/NAME",
    "gcp-sm:projects/P/secrets/S/versions/V",
    "env:NAME",
)
_RESOLVERS: dict[str, Resolver] = {}
_CACHE: dict[str, str] = {}
_LOCK = threading.Lock()


def _resolve_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SettingsError(f"secret reference env:{name}: environment variable {name} is not set")
    return value


def register_scheme(scheme: str, resolver: Resolver | str) -> None:
    """Add or replace a scheme: a callable, or a lazy "module:function" path."""
    if isinstance(resolver, str):
        _LAZY_RESOLVERS[scheme] = resolver
        _RESOLVERS.pop(scheme, None)
    else:
        _RESOLVERS[scheme] = resolver


def known_schemes() -> list[str]:
    return sorted({"env", *_LAZY_RESOLVERS, *_RESOLVERS})


def is_reference(value: str) -> bool:
    """True when `value` names a known scheme (else it is a literal, for local use only)."""
    scheme, sep, _ = value.partition(":")
    return bool(sep) and scheme in known_schemes()


def _resolver_for(scheme: str) -> Resolver:
    if scheme == "env":
        return _resolve_env
    if scheme in _RESOLVERS:
        return _RESOLVERS[scheme]
    path = _LAZY_RESOLVERS.get(scheme)
    if path is None:
        raise SettingsError(f"unknown secret scheme {scheme!r}; known: {', '.join(known_schemes())}")
    module_name, _, func_name = path.partition(":")
    module = importlib.import_module(module_name)
    resolver: Resolver = getattr(module, func_name)
    _RESOLVERS[scheme] = resolver
    return resolver


def resolve_secret(reference: str) -> str:
    """The secret's value: a reference is fetched once and cached; a literal is returned as is."""
    with _LOCK:
        if reference in _CACHE:
            return _CACHE[reference]
    if not is_reference(reference):
        register_secret(reference)
        return reference
    scheme, _, rest = reference.partition(":")
    with sdk_for(f"{scheme}:"):  # resolvers import part of their SDK on first use
        value = _resolver_for(scheme)(rest)
    if not value:
        raise SettingsError(f"secret reference {scheme}:{rest} resolved to an empty value")
    register_secret(value)
    with _LOCK:
        _CACHE[reference] = value
    return value


def json_object(text: str, where: str) -> dict[str, Any]:
    """A secret's text read as the JSON object it must be; else a SettingsError naming `where`
    (the reference or setting), never quoting the text."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SettingsError(f"{where}: the secret is not a JSON object")
    return document


def clear_cache() -> None:
    """Forget cached values (tests, and a rotated secret after an auth failure)."""
    with _LOCK:
        _CACHE.clear()
