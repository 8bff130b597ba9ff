"""Controller versions in every form a real controller reports, as one comparable value.

`list_version_info` and the controller's own version file answer strings such as
`UserConnect-7.1.1794` (release 7.1, build 1794), `UserConnect-7.2-1804.4665` (release 7.2, a
build-channel tag 1804, build 4665), `8.0.1-1000.1000` (release 8.0, patch 1, tag 1000, build
1000) and `UserConnect-6.3-patch.2309` (release 6.3, tag `patch`, build 2309). The grammar, after
an optional `UserConnect-` prefix: dotted numbers, then optionally `-` and a dotted tail whose last
part is the build and whose earlier parts are the tag.

Ordering follows Aviatrix's own Terraform provider (`CompareSoftwareVersions`), extended to 8.x:
major, minor, then (8.x) the patch; a version without a tag sorts before one with a tag, and two
different tags are the same channel (`6.5-patch` and `6.5-cyruspatch` compare equal); then the
build, where a release name without a build (`6.5`) sorts after every build of it.
docs/controller-api.md says which differences the restore's version check accepts and which it
refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from controller_backup.errors import ControllerError

PREFIX = "UserConnect-"
_NUMBERS = re.compile(r"^\d{1,9}(?:\.\d{1,9}){1,2}$")
#: from 8.0 the third number is a patch level (8.0.1), before it the build (7.1.1794)
SEMVER_MAJOR = 8
_TAIL = re.compile(r"^[A-Za-z0-9]{1,32}(?:\.[A-Za-z0-9]{1,32}){0,3}$")
#: the first release whose images pin their version at launch (Aviatrix's 7.2+ HA flow sends
#: `initial_setup run` without `target_version`)
PINNED_AT_LAUNCH = (7, 2)


@total_ordering
@dataclass(frozen=True, eq=False)
class ControllerVersion:
    """One parsed version; `text` is the canonical form sent back to a controller (no prefix)."""

    text: str
    major: int
    minor: int
    #: 8.x only: 8.0.1 is release 8.0, patch 1 (7.x puts the build there: 7.1.1794)
    patch: int | None
    tag: str | None
    build: int | None

    @property
    def release(self) -> tuple[int, int]:
        """(major, minor): 7.1, 7.2, 8.0."""
        return self.major, self.minor

    def _key(self) -> tuple[int, int, int, bool, float]:
        # As the provider: no tag sorts before a tag; a version without a build (a release name
        # such as 6.5) sorts after every build of it.
        build = float("inf") if self.build is None else float(self.build)
        return self.major, self.minor, self.patch or 0, self.tag is not None, build

    def compare(self, other: ControllerVersion) -> int:
        """<0, 0 or >0 as `self` is older than, the same as, or newer than `other`."""
        mine, theirs = self._key(), other._key()
        if mine == theirs:
            return 0
        return -1 if mine < theirs else 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ControllerVersion):
            return NotImplemented
        return self.compare(other) == 0

    def __lt__(self, other: ControllerVersion) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text


def parse_version(raw: str) -> ControllerVersion:
    """Parse any reported form; ControllerError (naming the text, cut short) when it is none of them."""
    text = raw.strip()
    text = text[len(PREFIX) :] if text.startswith(PREFIX) else text
    head, dash, tail = text.partition("-")
    if not _NUMBERS.match(head) or (dash and not _TAIL.match(tail)):
        raise _unreadable(raw)
    numbers = [int(part) for part in head.split(".")]
    major, minor, rest = numbers[0], numbers[1], numbers[2:]
    if len(rest) > 1:
        raise _unreadable(raw)
    third = rest[0] if rest else None
    patch, build = (third, None) if major >= SEMVER_MAJOR else (None, third)
    tag: str | None = None
    if dash:
        *tag_parts, last = tail.split(".")
        if not tag_parts:
            tag = last
        elif build is not None or not last.isdigit():
            raise _unreadable(raw)
        else:
            tag, build = ".".join(tag_parts), int(last)
    return ControllerVersion(text=text, major=major, minor=minor, patch=patch, tag=tag, build=build)


def _unreadable(raw: str) -> ControllerError:
    return ControllerError(f"controller reported an unreadable version {raw.strip()[:40]!r}")


def pinned_at_launch(version: ControllerVersion) -> bool:
    """True for releases whose replacement images already run the backup's release (7.2 and later)."""
    return version.release >= PINNED_AT_LAUNCH
