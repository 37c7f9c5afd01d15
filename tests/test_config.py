"""Settings (`app/config.py`): values read from CSROI_* variables, refused when malformed."""

import pytest
from pydantic import ValidationError

from app.config import Settings, parse_work_mem


class TestMetricsWorkMem:
    """CSROI_METRICS_WORK_MEM: a PostgreSQL size, 64MB by default, empty for off."""

    @pytest.mark.parametrize("value", ["64MB", "512kB", "1GB", "64kB", " 256MB "])
    def test_accepts_postgres_sizes(self, value: str) -> None:
        assert Settings(metrics_work_mem=value).metrics_work_mem == value.strip()

    @pytest.mark.parametrize(
        "value",
        ["64", "64mb", "64 MB", "1TB", "-1MB", "32kB", "3000GB", "64MB'; DROP TABLE customer; --", "64MB, 1GB"],
    )
    def test_refuses_anything_else(self, value: str) -> None:
        with pytest.raises(ValidationError, match="CSROI_METRICS_WORK_MEM"):
            Settings(metrics_work_mem=value)

    def test_defaults_to_64mb_and_empty_turns_it_off(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert Settings().metrics_work_mem == "64MB"
        monkeypatch.setenv("CSROI_METRICS_WORK_MEM", "")
        assert Settings().metrics_work_mem is None
        assert parse_work_mem(None) is None


class TestCurrency:
    """CSROI_CURRENCY: the one reporting currency, named in every answer that carries money (SPEC §11)."""

    @pytest.mark.parametrize(("value", "code"), [("USD", "USD"), ("eur", "EUR"), (" chf ", "CHF")])
    def test_an_iso_code_in_any_case(self, value: str, code: str) -> None:
        assert Settings(currency=value).currency == code

    @pytest.mark.parametrize("value", ["", "US", "US Dollar", "$", "USD,EUR", "U5D"])
    def test_refuses_anything_else(self, value: str) -> None:
        with pytest.raises(ValidationError, match="CSROI_CURRENCY"):
            Settings(currency=value)


class TestLevelKinds:
    """CSROI_LEVEL_KINDS: the usage kinds an intervention's expected change measures by their last value (SPEC §10)."""

    def test_defaults_to_seats_and_active_users(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CSROI_LEVEL_KINDS", raising=False)
        assert Settings().level_kinds == ["seats", "active_users"]

    def test_a_comma_separated_list_and_empty_for_none(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CSROI_LEVEL_KINDS", " seats, licences ,mau:web ")
        assert Settings().level_kinds == ["seats", "licences", "mau:web"]
        monkeypatch.setenv("CSROI_LEVEL_KINDS", "")
        assert Settings().level_kinds == []

    @pytest.mark.parametrize("value", ["two words", "seats,-x", "é", "a" * 101])
    def test_refuses_what_is_no_event_kind(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("CSROI_LEVEL_KINDS", value)
        with pytest.raises(ValidationError, match="CSROI_LEVEL_KINDS"):
            Settings()


class TestEventsRetentionDays:
    def test_unset_keeps_every_event_and_empty_is_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CSROI_EVENTS_RETENTION_DAYS", raising=False)
        assert Settings().events_retention_days is None
        monkeypatch.setenv("CSROI_EVENTS_RETENTION_DAYS", " ")
        assert Settings().events_retention_days is None

    def test_whole_days_from_one(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CSROI_EVENTS_RETENTION_DAYS", "395")
        assert Settings().events_retention_days == 395
        monkeypatch.setenv("CSROI_EVENTS_RETENTION_DAYS", "1")
        assert Settings().events_retention_days == 1

    @pytest.mark.parametrize("value", ["0", "-30", "1.5", "a year", "36501"])
    def test_refuses_anything_else(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("CSROI_EVENTS_RETENTION_DAYS", value)
        with pytest.raises(ValidationError):
            Settings()
