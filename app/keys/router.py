"""`GET /v1/me`: a client (the dashboard) learns its key's name and scopes, to hide what the key may not do."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth import KeyAuth
from app.errors import problem_responses
from app.keys import service
from app.keys.schemas import MeOut, MeQuery

router = APIRouter(tags=["keys"])


@router.get("/me", response_model=MeOut, responses=problem_responses(401, 422))
def get_me(key: KeyAuth, query: Annotated[MeQuery, Query()]) -> MeOut:
    """The presented API key's id, name and scopes (any active key may ask; 401 otherwise)."""
    scopes = sorted(service.Scope(s) for s in key.scopes)
    return MeOut(id=key.id, name=key.name, scopes=scopes, effective_scopes=service.effective_scopes(key.scopes))
