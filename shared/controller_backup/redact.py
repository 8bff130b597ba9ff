"""Keeps secrets out of every log line, error and result.

Secrets are registered as they come into the process (the password when resolved, each CID and
API token when the controller hands one out). A logging filter replaces any registered value, and
any `CID=`/`X-Access-Key`-shaped fragment, with `***` before a record is emitted. This is a second
line of defence: code builds messages from names and sizes, never from secret values.
"""

from __future__ import annotations

import logging
import re
import threading

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_MASK = "***"
#: shapes that carry secrets even when the value itself was never registered
_PATTERNS = re.compile(
    r"(?i)(\b(?:CID|api_token|password|token|sig|X-Access-Key|AccountKey|SharedAccessSignature"
    r"|SecretAccessKey|SessionToken|secret_access_key|client_secret)"
    r"[\"']?\s*[=:]\s*[\"']?)([^&\s\"',;}]+)"
)
#: the same in XML elements: STS hands out temporary keys so, and an SDK's debug log prints the
#: response before the caller can register them
_XML_PATTERNS = re.compile(r"(?i)(<(?:SecretAccessKey|SessionToken)>)([^<]+)")
#: shorter values would mask ordinary words; real secrets are longer
_MIN_SECRET_LENGTH = 4


def register_secret(value: str | None) -> None:
    """Remember `value` so every later log line masks it."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret and secret-shaped fragment masked."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _XML_PATTERNS.sub(lambda m: m.group(1) + _MASK, text)
    return _PATTERNS.sub(lambda m: m.group(1) + _MASK, text)


def _redact_record(record: logging.LogRecord) -> None:
    message = record.getMessage()
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


_installed = False


def install_redaction() -> None:
    """Mask secrets in every log record the process creates, whichever handler emits it.

    Done in the record factory rather than a handler filter, so handlers added later (a
    platform's, Powertools', pytest's) see only masked records too.
    """
    global _installed  # noqa: PLW0603 - one process-wide switch
    with _LOCK:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


install_redaction()
