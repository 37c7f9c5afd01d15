"""The retry schedule (SPEC §11): exponential, the first retry within 60 s, failed after 24 h."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.webhooks.delivery import MAX_BACKOFF, RETRY_WINDOW, backoff


def test_the_pauses_double_from_30_seconds_up_to_an_hour() -> None:
    pauses = [backoff(n).total_seconds() for n in range(1, 10)]
    assert pauses == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_attempts_within_24_hours() -> None:
    """1 first attempt, 7 growing retries (30 + 60 + … + 1,920 = 3,810 s), then hourly up to the 24th hour."""
    elapsed, attempts = timedelta(0), 1
    while elapsed + backoff(attempts) <= RETRY_WINDOW:
        elapsed += backoff(attempts)
        attempts += 1
    assert attempts == 1 + 7 + (86_400 - 3_810) // 3_600
    assert elapsed == timedelta(seconds=3_810 + 22 * 3_600)


@given(st.integers(min_value=1, max_value=10_000))
def test_the_schedule_never_shrinks_and_is_bounded(failures: int) -> None:
    assert timedelta(seconds=30) <= backoff(failures) <= MAX_BACKOFF
    assert backoff(failures) <= backoff(failures + 1)
    assert backoff(1) <= timedelta(seconds=60)
