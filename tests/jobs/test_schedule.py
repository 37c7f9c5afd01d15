"""The worker's schedule as data: slots of daily and weekly jobs (UTC)."""

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.jobs.schedule import Daily, Every, Weekly, job_specs, latest_slot, next_slot

AT = time(2, 0)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class TestDaily:
    def test_before_the_time_the_latest_slot_is_yesterdays(self) -> None:
        assert latest_slot(Daily(AT), utc(2026, 11, 30, 1, 59)) == utc(2026, 11, 29, 2, 0)
        assert next_slot(Daily(AT), utc(2026, 11, 30, 1, 59)) == utc(2026, 11, 30, 2, 0)

    def test_at_the_time_the_slot_is_todays(self) -> None:
        assert latest_slot(Daily(AT), utc(2026, 11, 30, 2, 0)) == utc(2026, 11, 30, 2, 0)
        assert next_slot(Daily(AT), utc(2026, 11, 30, 2, 0)) == utc(2026, 12, 1, 2, 0)

    def test_an_offset_timestamp_is_read_in_utc(self) -> None:
        from datetime import timezone  # noqa: PLC0415

        plus_three = timezone(timedelta(hours=3))
        # 04:30 at +03:00 is 01:30 UTC: before today's 02:00 UTC slot.
        assert latest_slot(Daily(AT), datetime(2026, 11, 30, 4, 30, tzinfo=plus_three)) == utc(2026, 11, 29, 2, 0)


class TestWeekly:
    def test_mondays(self) -> None:
        monday = Weekly(0, AT)
        # 2026-11-30 is a Monday; 2026-12-03 a Thursday.
        assert latest_slot(monday, utc(2026, 12, 3, 12, 0)) == utc(2026, 11, 30, 2, 0)
        assert next_slot(monday, utc(2026, 12, 3, 12, 0)) == utc(2026, 12, 7, 2, 0)
        assert latest_slot(monday, utc(2026, 11, 30, 1, 0)) == utc(2026, 11, 23, 2, 0)


def test_a_continuous_job_has_no_slots() -> None:
    assert latest_slot(Every(2), utc(2026, 1, 1)) is None
    assert next_slot(Every(2), utc(2026, 1, 1)) is None


@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001 - hypothesis bounds are naive; the values get UTC
    schedule=st.sampled_from([Daily(AT), Daily(time(23, 59)), Weekly(0, AT), Weekly(6, time(0, 0))]),
)
def test_slots_bracket_now_one_period_apart(now: datetime, schedule: Daily | Weekly) -> None:
    latest, upcoming = latest_slot(schedule, now), next_slot(schedule, now)
    assert latest is not None
    assert upcoming is not None
    assert latest <= now < upcoming
    assert upcoming - latest == timedelta(days=1 if isinstance(schedule, Daily) else 7)
    assert (latest.hour, latest.minute) == (schedule.at.hour, schedule.at.minute)


def test_every_job_of_spec_11_is_scheduled() -> None:
    specs = {s.name: s.schedule.describe() for s in job_specs(daily_at=time(3, 30), poll_seconds=2)}
    assert specs == {
        "health.snapshot": "daily at 03:30 UTC",
        "interventions.measure": "daily at 03:30 UTC",
        "renewals.notices": "daily at 03:30 UTC",
        "experiments.ready": "daily at 03:30 UTC",
        "health.refit": "weekly on Monday at 03:30 UTC",
        "jobs.prune": "daily at 03:30 UTC",
        "usage.retention": "daily at 03:30 UTC",
        "webhooks.deliver": "every 2 s (continuous)",
    }
