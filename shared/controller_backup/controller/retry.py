"""Bounded retries with full jitter: bounded by time, so a controller that reboots is waited out.

A count alone is the wrong bound: five tries of a growing backoff end within seconds, while a
controller restarting its services refuses for a minute or more. The deadline is the bound; a
count is only for callers that must send a call at most that often.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: 2**30 times any base delay is past every max_delay; a higher power would only overflow a float
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class RetryPolicy:
    """How long to retry a transient failure, and how far apart.

    `deadline` bounds the whole sequence in seconds. Delays grow exponentially from `base_delay`
    to `max_delay` and are drawn uniformly below that bound ("full jitter"), so many functions
    retrying at once do not march in step. `attempts`, when given, also caps the tries (the first
    included): 1 for a call whose body may have been applied, a small number for a quick probe.
    """

    deadline: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    attempts: int | None = None

    def delays(self, clock: Deadline | None = None) -> Iterator[float]:
        """The sleeps between tries; stops when the deadline (or the optional count) is spent."""
        clock = clock or Deadline(self.deadline)
        tries = 1
        while self.attempts is None or tries < self.attempts:
            remaining = clock.remaining()
            if remaining <= 0:
                return
            bound = min(self.max_delay, self.base_delay * 2 ** min(tries - 1, _MAX_DOUBLINGS))
            yield min(random.uniform(0, bound), remaining)  # noqa: S311 - jitter, not crypto
            tries += 1


class Deadline:
    """A point in monotonic time; `remaining()` never goes below zero.

    `clock` is `time.monotonic` except in tests, which drive a fake one to check the bounds of
    minutes-long waits in microseconds.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0
