"""What `GET /v1/me` tells a client about its own key."""

from pydantic import BaseModel, ConfigDict, Field

from app.keys.service import Scope
from app.schemas import QueryIn


class MeQuery(QueryIn):
    """`GET /v1/me` takes no parameters; any is a 422."""

    model_config = ConfigDict(extra="forbid")


class MeOut(BaseModel):
    """The API key the request was made with: never its secret, only what a client needs to adapt to it."""

    id: int = Field(description="The key's number, as `csroi keys list` and the audit log's `key_id` show it.")
    name: str = Field(description="The name given at `csroi keys create --name`.")
    scopes: list[Scope] = Field(description="The scopes the key was created with, sorted.")
    effective_scopes: list[Scope] = Field(
        description="What the key may do, sorted: its scopes, or every scope for an admin key (admin may do "
        "everything). A client shows write controls only when this lists `write`."
    )
