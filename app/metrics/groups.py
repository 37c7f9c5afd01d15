"""`group_by` on a customer attribute: the customer's current value (SPEC §2)."""

from sqlalchemy import ColumnElement, literal

from app.models import Customer
from app.types import CustomerGroup

# A metric row's key while rows are assembled: (period index, group value).
Key = tuple[int, str | None]


def customer_group_column(group_by: CustomerGroup | None) -> ColumnElement[str | None]:
    """The Customer column to group by, or a constant NULL when not grouped."""
    if group_by is None:
        return literal(None, Customer.segment.type)
    column: ColumnElement[str | None] = getattr(Customer, group_by)
    return column
