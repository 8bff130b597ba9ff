"""Controller addresses: one parser for every URL a setting or a request names, and the allowlist.

A URL that reaches a controller carries the admin password and, on a restore, the whole
configuration, so it is held to one form everywhere: `https://host[:port]`, nothing else (no
credentials, path, query or fragment). Plain `http://` passes only where the operator allowed it
for a local emulator (`CONTROLLER_ALLOW_HTTP=true`). Every malformed form is a ValueError whose
text names the problem, raised before anything connects.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
#: what a replacement URL template may contain besides the URL itself
PLACEHOLDERS = ("{private_ip}", "{public_ip}")
#: REPLACEMENT_URL's value for "the replacement takes over CONTROLLER_URL's address"
SAME_AS_CONTROLLER = "controller_url"
_MAX_URL = 512


def parse_controller_url(raw: str, *, allow_http: bool = False) -> str:
    """`https://host[:port]`, normalised (lower-case host, no trailing slash); ValueError else."""
    text = raw.strip()
    if len(text) > _MAX_URL:
        raise ValueError(f"must be at most {_MAX_URL} characters")
    if "://" not in text:
        raise ValueError("must be https://host (a scheme and a host)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # "https://[::1" or a port that is no number
        raise ValueError(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise ValueError(
            "must be https:// (plain http only for a local emulator, with CONTROLLER_ALLOW_HTTP=true)"
        )
    if scheme not in ("http", "https"):
        raise ValueError(f"must be https://host, got scheme {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; use CONTROLLER_USERNAME and CONTROLLER_PASSWORD")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be https://host[:port] without a path, query or fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("names no host")
    if not is_ip(host) and not _HOSTNAME.match(host):
        raise ValueError(f"has an invalid host name {host[:60]!r}")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"has an invalid port {port}")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def host_of(url: str) -> str:
    """The host of an already-parsed URL, without IPv6 brackets."""
    return (urlsplit(url).hostname or "").lower()


def is_ip(text: str) -> bool:
    """True when `text` is an IPv4 or IPv6 address (no brackets, no port)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Allowlist:
    """RESTORE_ALLOWED_TARGETS: host names (exact, any case) and CIDRs (for hosts given as IPs).

    A host name never matches a CIDR through DNS: what the name resolves to can change between the
    check and the connection.
    """

    names: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def allows(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if is_ip(host):
            address = ipaddress.ip_address(host)
            return any(address in network for network in self.networks)
        return host in self.names

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)


def parse_allowlist(raw: str) -> Allowlist:
    """`10.1.0.0/16, ctrl.example.internal, 192.0.2.7`; ValueError naming a bad entry."""
    names: set[str] = set()
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        if "/" in entry or is_ip(entry):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry[:60]!r} is not a CIDR") from None
        elif _HOSTNAME.match(entry):
            names.add(entry.lower())
        else:
            raise ValueError(f"{entry[:60]!r} is neither a host name nor a CIDR")
    return Allowlist(frozenset(names), tuple(networks))


def parse_replacement_url(raw: str, *, allow_http: bool = False) -> str:
    """REPLACEMENT_URL: `controller_url`, or an https URL template with {private_ip}/{public_ip}."""
    text = raw.strip()
    if text == SAME_AS_CONTROLLER:
        return text
    if "{" in text.replace("{private_ip}", "").replace("{public_ip}", ""):
        raise ValueError(f"may only use the placeholders {' and '.join(PLACEHOLDERS)}")
    sample = text.replace("{private_ip}", "192.0.2.1").replace("{public_ip}", "198.51.100.1")
    parse_controller_url(sample, allow_http=allow_http)
    return text


def fill_replacement_url(template: str, *, private_ip: str | None, public_ip: str | None) -> str:
    """The URL a replacement is called at; ValueError when it lacks an address the template needs."""
    for placeholder, value in (("{private_ip}", private_ip), ("{public_ip}", public_ip)):
        if placeholder in template:
            if not value:
                raise ValueError(f"the instance has no {placeholder.strip('{}').replace('_', ' ')}")
            address = ipaddress.ip_address(value)
            template = template.replace(placeholder, f"[{address}]" if address.version == 6 else str(address))
    return template


def parse_tag(raw: str) -> tuple[str, str]:
    """REPLACEMENT_TAG: `key=value` (a tag on AWS and Azure, a label on GCP)."""
    key, sep, value = raw.strip().partition("=")
    if not sep or not key.strip() or not value.strip():
        raise ValueError("must be key=value")
    return key.strip(), value.strip()


def name_matches(pattern: str, name: str) -> bool:
    """REPLACEMENT_NAME_PATTERN: a shell-style glob, case-sensitive as the clouds' names are."""
    return fnmatch.fnmatchcase(name, pattern)


def describe(allowlist: Allowlist) -> Iterable[str]:
    yield from sorted(allowlist.names)
    yield from (str(network) for network in allowlist.networks)
