"""Controller versions in every form real controllers report, and how they order."""

from __future__ import annotations

import pytest
from controller_backup.controller.version import parse_version, pinned_at_launch
from controller_backup.errors import ControllerError


@pytest.mark.parametrize(
    ("raw", "text", "release", "patch", "tag", "build"),
    [
        # the forms the Terraform provider's own tests use (goaviatrix version and check tests)
        ("UserConnect-7.1.1794", "7.1.1794", (7, 1), None, None, 1794),
        ("UserConnect-7.2-1804.4665", "7.2-1804.4665", (7, 2), None, "1804", 4665),
        ("8.0.1-1000.1000", "8.0.1-1000.1000", (8, 0), 1, "1000", 1000),
        ("UserConnect-6.3-patch.2309", "6.3-patch.2309", (6, 3), None, "patch", 2309),
        # a version file's content, newline included; a bare release name
        ("UserConnect-7.2.4820\n", "7.2.4820", (7, 2), None, None, 4820),
        ("8.1", "8.1", (8, 1), None, None, None),
    ],
)
def test_every_real_form_parses(
    raw: str, text: str, release: tuple[int, int], patch: int | None, tag: str | None, build: int | None
) -> None:
    version = parse_version(raw)
    assert (version.text, version.release, version.patch, version.tag, version.build) == (
        text,
        release,
        patch,
        tag,
        build,
    )
    assert str(version) == text


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # Aviatrix's CompareSoftwareVersions cases (goaviatrix/version_test.go)
        ("6.5.100", "6.5.101"),
        ("6.5.100", "6.5"),
        ("6.5", "6.6"),
        ("6.5.100", "6.6"),
        ("6.5.1232", "6.5-patch.100"),
        ("6.5-patch.100", "6.5-patch.1232"),
        ("6.5-patch.1232", "6.6-patch.100"),
        # across the forms
        ("UserConnect-7.1.1794", "UserConnect-7.2-1804.4665"),
        ("UserConnect-7.2-1804.4665", "8.0.1-1000.1000"),
        ("8.0.1-1000.1000", "8.0.1-1000.1001"),
        ("8.0.1-1000.1000", "8.0.2-2000.1000"),
        ("UserConnect-6.3-patch.2309", "UserConnect-7.1.1794"),
    ],
)
def test_versions_order_as_released(older: str, newer: str) -> None:
    a, b = parse_version(older), parse_version(newer)
    assert a < b and b > a and a != b
    assert a.compare(b) < 0 < b.compare(a)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("UserConnect-7.1.1794", "7.1.1794"),
        (" 8.0.1-1000.1000\n", "8.0.1-1000.1000"),
        # two channel tags of one build are the same version, as the provider treats them
        ("6.5-patch.1232", "6.5-cyruspatch.1232"),
    ],
)
def test_the_same_version_in_other_words_is_equal(one: str, other: str) -> None:
    assert parse_version(one) == parse_version(other)
    assert hash(parse_version(one)) == hash(parse_version(other))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "6",
        "6.",
        "6.a",
        "UserConnect-",
        "<html>",
        "7.1.1794.5",
        "8.0.1-",
        "x-1.2",
        "7.1.1794-patch.3",
        "7.1 1794",
    ],
)
def test_anything_else_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ControllerError, match="unreadable version"):
        parse_version(raw)


def test_releases_from_7_2_pin_their_version_at_launch() -> None:
    assert not pinned_at_launch(parse_version("UserConnect-7.1.1794"))
    assert not pinned_at_launch(parse_version("UserConnect-6.3-patch.2309"))
    assert pinned_at_launch(parse_version("UserConnect-7.2-1804.4665"))
    assert pinned_at_launch(parse_version("8.0.1-1000.1000"))
