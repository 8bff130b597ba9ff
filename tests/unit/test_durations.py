"""Durations: one grammar for every duration setting and flag, one wording for every message."""

from __future__ import annotations

import pytest
from controller_backup.durations import in_words, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600.0),
        ("3600s", 3600.0),
        ("90m", 5400.0),
        ("25h", 90000.0),
        ("25H", 90000.0),
        (" 2d ", 172800.0),
        ("1.5h", 5400.0),
        ("0.5", 0.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "25 hours", "-5m", "1w", "2d3h", "1e3", "0", "0h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59.9, "59 seconds"),
        (60, "1 minute"),
        (61, "1 minute 1 second"),
        (90 * 60, "1 hour 30 minutes"),
        (3 * 3600 + 12 * 60 + 59, "3 hours 12 minutes"),
        (25 * 3600, "25 hours"),
        (47 * 3600 + 59 * 60, "47 hours 59 minutes"),
        (2 * 86400, "2 days"),
        (3.5 * 86400, "3 days 12 hours"),
        (40 * 86400 + 3600, "40 days 1 hour"),
        (-30, "0 seconds"),
    ],
)
def test_in_words(seconds: float, words: str) -> None:
    assert in_words(seconds) == words


def test_a_threshold_reads_back_as_it_was_written() -> None:
    for text, words in (
        ("25h", "25 hours"),
        ("90m", "1 hour 30 minutes"),
        ("3d", "3 days"),
        ("45s", "45 seconds"),
    ):
        assert in_words(parse_duration(text)) == words
