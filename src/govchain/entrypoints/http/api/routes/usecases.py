"""The document types (use cases) this service knows, with the JSON Schema of their subjects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from govchain.entrypoints.http.deps import ContextDep
from govchain.entrypoints.http.routing import StrictJsonRoute

router = APIRouter(prefix="/usecases", tags=["usecases"], route_class=StrictJsonRoute)


class UseCaseOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    title: dict[str, str]
    description: dict[str, str]
    credential_type: str = Field(serialization_alias="credentialType")
    submitters: list[str]
    schema_: dict[str, Any] = Field(serialization_alias="schema")


@router.get("", response_model=list[UseCaseOut], response_model_by_alias=True)
def list_usecases(ctx: ContextDep) -> list[UseCaseOut]:
    """Every use case with its titles and the JSON Schema (2020-12) of ``credentialSubject``."""
    return [UseCaseOut(id=uc.id, title=uc.title, description=uc.description,
                       credential_type=uc.credential_type, submitters=list(uc.submitters),
                       schema_=uc.schema)
            for uc in ctx.usecases.all()]
