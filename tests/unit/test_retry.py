"""The retry policy is bounded by time: minutes of refusals are retried, in microseconds of test."""

from __future__ import annotations

import pytest
from controller_backup.controller import RetryPolicy, connector
from controller_backup.controller.retry import Deadline
from controller_backup.settings import Settings


class FakeClock:
    """A monotonic clock that moves only when told: by each sleep, and by each failed try."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _retry_until_spent(policy: RetryPolicy, clock: FakeClock, try_costs: float = 0.0) -> list[float]:
    """Sleep every delay the policy gives, each try taking `try_costs` seconds; the delays slept."""
    slept = []
    deadline = Deadline(policy.deadline, clock)
    for delay in policy.delays(deadline):
        slept.append(delay)
        clock.now += delay + try_costs
    return slept


@pytest.mark.parametrize("deadline", [60.0, 90.0, 120.0])
def test_the_default_policy_retries_until_its_deadline(deadline: float) -> None:
    clock = FakeClock()
    slept = _retry_until_spent(RetryPolicy(deadline=deadline), clock)
    assert clock.now - 1000.0 == pytest.approx(deadline)  # waited the whole bound, not 2-6 s
    assert len(slept) > 5
    assert max(slept) <= RetryPolicy().max_delay


def test_a_controller_refusing_for_60_s_is_still_being_tried_at_60_s() -> None:
    """Each refused connection costs a little; the tries go on past 60 s and stop at the bound."""
    clock = FakeClock()
    tries_at: list[float] = []
    deadline = Deadline(90.0, clock)
    for delay in RetryPolicy(deadline=90.0).delays(deadline):
        clock.now += 0.05  # the refused try
        tries_at.append(clock.now - 1000.0)
        clock.now += delay
    assert any(60.0 <= at <= 90.0 for at in tries_at)
    assert deadline.expired()


def test_delays_grow_to_max_delay_and_never_pass_the_deadline() -> None:
    clock = FakeClock()
    policy = RetryPolicy(deadline=30.0, base_delay=1.0, max_delay=4.0)
    slept = _retry_until_spent(policy, clock, try_costs=0.5)
    assert all(0 <= delay <= 4.0 for delay in slept)
    assert clock.now - 1000.0 <= 30.0 + 0.5  # at most one try past the bound


def test_an_explicit_count_still_caps_the_tries() -> None:
    """For a call sent at most once (its body may have been applied) and for quick probes."""
    clock = FakeClock()
    assert _retry_until_spent(RetryPolicy(attempts=1, deadline=600.0), clock) == []
    assert len(_retry_until_spent(RetryPolicy(attempts=3, deadline=600.0), clock)) == 2


def test_no_delay_once_the_deadline_is_spent() -> None:
    clock = FakeClock()
    deadline = Deadline(5.0, clock)
    clock.now += 5.0
    assert list(RetryPolicy(deadline=5.0).delays(deadline)) == []


def test_thousands_of_tries_never_overflow_the_backoff() -> None:
    clock = FakeClock()
    slept = _retry_until_spent(RetryPolicy(deadline=20_000.0, base_delay=0.5, max_delay=8.0), clock)
    assert len(slept) > 1100 and max(slept) <= 8.0


def test_the_settings_bound_retries_by_time_alone() -> None:
    settings = Settings(
        controller_url="https://controller.example",
        backup_url="file:///tmp/backup.tar",
        password_ref="env:UNUSED",
        retry_attempts=5,
        retry_seconds=90.0,
    )
    client = connector(settings)("admin", "unused-password")
    assert client.retry.deadline == 90.0 and client.retry.attempts is None
