"""Alembic from code: the CLI, `serve` and the tests migrate through here."""

import os
from functools import lru_cache
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`; csroi is installed editable, so migrations/ sits beside app/."""
    if not (MIGRATIONS / "env.py").exists():
        raise RuntimeError(f"migrations not found at {MIGRATIONS}; install csroi with `pip install -e .`")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base", *, allow_data_loss: bool = False) -> None:
    """Migrate the database at `url` down to `revision`; a step that would drop stored data refuses unless
    `allow_data_loss` (see `refuse_data_loss`)."""
    config = alembic_config(url)
    config.attributes["allow_data_loss"] = allow_data_loss
    command.downgrade(config, revision)


# --- Downgrades that drop data ---------------------------------------------------------------------------------

ALLOW_DATA_LOSS = "CSROI_ALLOW_DATA_LOSS"
_YES = {"1", "true", "yes", "on"}


class DataLossRefused(RuntimeError):
    """A downgrade step would drop stored rows and the operator did not allow it."""


def _data_loss_allowed() -> bool:
    if context.config.attributes.get("allow_data_loss"):
        return True
    if context.get_x_argument(as_dictionary=True).get("allow_data_loss", "").lower() in _YES:
        return True
    return os.environ.get(ALLOW_DATA_LOSS, "").lower() in _YES


def refuse_data_loss(revision: str, counts: dict[str, str]) -> None:
    """Called first by a migration's downgrade that drops stored data: stop unless the operator allowed it.

    `counts` maps what would be lost (a table, or "table.column") to the SQL that counts it. With any row found
    and no permission (`CSROI_ALLOW_DATA_LOSS=true`, `alembic -x allow_data_loss=true`, or
    `downgrade(..., allow_data_loss=True)`), it raises `DataLossRefused`, naming what would be lost.
    Derived tables (arr_change, arr_month: rebuilt from events) are not data and are not counted.
    """
    bind = op.get_bind()
    found = {what: n for what, sql in counts.items() if (n := bind.exec_driver_sql(sql).scalar())}
    if not found or _data_loss_allowed():
        return
    lost = ", ".join(f"{n:,} rows of {what}" for what, n in found.items())
    raise DataLossRefused(
        f"Downgrading below revision {revision} would drop {lost}; the downgrade stopped there. Back up first, "
        f"then set {ALLOW_DATA_LOSS}=true (or pass -x allow_data_loss=true to alembic) to go ahead."
    )


@lru_cache
def head_revision() -> str | None:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
