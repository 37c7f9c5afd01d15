"""`csroi import`: each kind through the API's schemas and services, errors by line, all or nothing."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli, importer
from app.db import make_engine, make_sessionmaker
from app.models import Cost, Customer, Renewal, RevenueEvent, TeamMember, UsageDaily, UsageEvent

runner = CliRunner()

FILES = {
    importer.Kind.customers: (
        "id,name,segment,tier,csm,attributes\n"
        'acme,Acme,smb,low_touch,jo,"{""plan"": ""pro""}"\n'
        "globex,Globex,enterprise,high_touch,,\n",
        Customer,
    ),
    importer.Kind.team_members: ("id,name,role,hourly_cost,started_on\njo,Jo Park,csm,85.00,2025-01-06\n", TeamMember),
    importer.Kind.revenue: (
        "id,customer,product,effective_date,arr\nr1,acme,platform,2025-01-01,12000\nr2,acme,platform,2025-06-01,0\n",
        RevenueEvent,
    ),
    importer.Kind.renewals: (
        "id,customer,due_date,arr_up_for_renewal,status,booked_arr,closed_on\n"
        "n1,acme,2026-01-01,12000,renewed,13000,2025-12-20\nn2,globex,2026-03-01,50000,open,,\n",
        Renewal,
    ),
    importer.Kind.costs: ("id,month,amount,team,category\nc1,2025-10,100000,customer_success,salary\n", Cost),
    importer.Kind.events: (
        "id,customer,kind,occurred_at,value,properties\n"
        'e1,acme,feature_used,2025-10-01T09:00:00+00:00,,"{""feature"": ""export""}"\n'
        'e2,acme,survey_response,2025-10-02T09:00:00Z,9,"{""survey"": ""nps""}"\n',
        UsageEvent,
    ),
    importer.Kind.usage_daily: (
        "customer,kind,day,count,sum,last,distinct_values\n"
        "initech,login,2025-10-01,4,,,\n"
        "initech,feature_used,2025-10-01,2,,,export|reports\n"
        "initech,seats,2025-10-01,,,25,\n",
        UsageDaily,
    ),
}


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


def rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


class TestImport:
    @pytest.mark.parametrize("kind", list(importer.Kind))
    def test_each_kind_imports_and_reimport_is_a_duplicate(
        self, session: Session, tmp_path: Path, kind: importer.Kind
    ) -> None:
        text, model = FILES[kind]
        path = write_csv(tmp_path, text)
        first = importer.write_items(session, kind, importer.read_file(path, kind), None)
        again = importer.write_items(session, kind, importer.read_file(path, kind), None)
        count = len(text.strip().splitlines()) - 1
        assert rows(session, model) == count
        if kind is importer.Kind.events:
            assert (first, again) == (
                {"accepted": count, "duplicates": 0, "expired": 0},
                {"accepted": 0, "duplicates": count, "expired": 0},
            )
        elif kind is importer.Kind.revenue:
            assert (first, again) == ({"accepted": count, "duplicates": 0}, {"accepted": 0, "duplicates": count})
        elif kind == importer.Kind.usage_daily:  # a re-sent day, as stored, is unchanged
            assert (first, again) == (
                {"created": count, "updated": 0, "unchanged": 0},
                {"created": 0, "updated": 0, "unchanged": count},
            )
        else:
            assert (first, again) == ({"created": count, "updated": 0}, {"created": 0, "updated": count})

    def test_events_older_than_the_retention_are_expired_not_stored(self, session: Session, tmp_path: Path) -> None:
        text = (
            "id,customer,kind,occurred_at\n"
            "old,acme,login,2000-01-01T00:00:00Z\n"  # decades before any 30-day horizon
            "new,acme,login,2999-01-01T00:00:00Z\n"  # after every horizon
        )
        items = importer.read_file(write_csv(tmp_path, text), importer.Kind.events)
        done = importer.write_items(session, importer.Kind.events, items, None, retention_days=30)
        assert done == {"accepted": 1, "duplicates": 0, "expired": 1}
        assert list(session.scalars(select(UsageEvent.id))) == ["new"]

    def test_errors_name_each_line_and_field(self, tmp_path: Path) -> None:
        text = (
            "id,customer,kind,occurred_at,value,properties\n"
            "e1,acme,login,2025-10-01T09:00:00Z,,\n"
            'e2,acme,login,"2025-10-01\nT09",,\n'  # a quoted cell spanning two lines: the next row is on line 5
            "e3,acme,login,2025-10-01T09:00:00,abc,{bad\n"
        )
        with pytest.raises(importer.ImportInvalid) as refused:
            importer.read_file(write_csv(tmp_path, text), importer.Kind.events)
        errors = refused.value.errors
        assert errors[0].startswith("line 3: occurred_at: ")
        assert [e.split(":")[0] for e in errors[1:]] == ["line 5"] * 3
        assert any(e.startswith("line 5: properties: not valid JSON") for e in errors)
        assert any(e.startswith("line 5: value: ") for e in errors)
        assert any(e.startswith("line 5: occurred_at: ") for e in errors)

    def test_unknown_column_is_an_error(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path, "id,segmnt\nacme,smb\n")
        with pytest.raises(importer.ImportInvalid) as refused:
            importer.read_file(path, importer.Kind.customers)
        assert refused.value.errors == ["line 2: segmnt: Extra inputs are not permitted"]


@pytest.fixture
def import_db(cli_db: str) -> str:
    """A fresh, migrated database that the CLI reads from DATABASE_URL."""
    assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
    return cli_db


def stored_customers(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        count = rows(session, Customer)
    engine.dispose()
    return count


def test_command_imports_and_reports_totals(import_db: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path, FILES[importer.Kind.customers][0])
    result = runner.invoke(cli.cli, ["import", "customers", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "created 2, updated 0"
    assert runner.invoke(cli.cli, ["import", "customers", str(path)]).stdout.strip() == "created 0, updated 2"


def test_command_with_a_bad_row_writes_nothing(import_db: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,segment,tier\nacme,smb,low_touch\nglobex,enterprise,platinum\n")
    result = runner.invoke(cli.cli, ["import", "customers", str(path)])
    assert result.exit_code == 1
    assert "line 3: tier: Input should be 'high_touch', 'low_touch' or 'tech_touch'" in result.stderr
    assert stored_customers(import_db) == 0


def test_command_refuses_a_reused_event_id_and_writes_nothing(import_db: str, tmp_path: Path) -> None:
    first = write_csv(tmp_path, "id,customer,kind,occurred_at\ne1,acme,login,2025-10-01T09:00:00Z\n")
    assert runner.invoke(cli.cli, ["import", "events", str(first)]).exit_code == 0
    second = tmp_path / "second.csv"
    second.write_text(
        "id,customer,kind,occurred_at\ne2,newco,login,2025-10-01T09:00:00Z\ne1,acme,login,2025-11-01T09:00:00Z\n"
    )
    result = runner.invoke(cli.cli, ["import", "events", str(second)])
    assert result.exit_code == 1
    assert "refused" in result.stderr
    assert stored_customers(import_db) == 1
