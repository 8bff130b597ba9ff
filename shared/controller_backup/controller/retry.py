"""Bounded retries with full jitter: a count and a total time, whichever ends first."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    `attempts` counts every try, the first included; `deadline` bounds the whole sequence in
    seconds. Delays grow exponentially from `base_delay` to `max_delay` and are drawn uniformly
    below that bound ("full jitter"), so many functions retrying at once do not march in step.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float = 120.0

    def delays(self, clock: Deadline | None = None) -> Iterator[float]:
        """The sleeps between tries; stops when the count or the deadline is spent."""
        clock = clock or Deadline(self.deadline)
        for attempt in range(1, self.attempts):
            bound = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            delay = min(random.uniform(0, bound), clock.remaining())  # noqa: S311 - jitter, not crypto
            if clock.remaining() <= 0:
                return
            yield delay


class Deadline:
    """A point in monotonic time; `remaining()` never goes below zero."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0
