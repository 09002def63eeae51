"""Published forms for anyone, and the administration API for definitions."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Body, Query
from starlette.responses import JSONResponse

from forms_hub.access import CurrentFormAdmin, FormAdmin
from forms_hub.api.responses import FORM_ADMIN, with_refusals
from forms_hub.definitions import repository
from forms_hub.definitions import service as definitions
from forms_hub.definitions.models import FormDefinition
from forms_hub.definitions.schemas import FormDocument, FormList, FormSummary, LoadedForm
from forms_hub.definitions.service import document_view
from forms_hub.errors import NotFound
from kit.openapi import combine, problem_responses
from kit.problems import Problem
from kit.web import DbSession, Now

router = APIRouter(tags=["forms"])
admin_router = APIRouter(tags=["administration"])


def _raise(exc: definitions.DefinitionError) -> NoReturn:
    raise Problem(
        exc.status,
        "Invalid form definition" if exc.status == 422 else "Refused",
        str(exc),
        problems=exc.problems,
    )


@router.get("/api/forms", response_model=FormList)
def published_forms(
    db: DbSession, department: Annotated[str | None, Query(max_length=16)] = None
) -> JSONResponse:
    rows = repository.list_published(db, department.upper() if department else None)
    return JSONResponse({"items": [definitions.summary(d) for d in rows]})


@router.get("/api/forms/{slug}", response_model=FormDocument, responses=problem_responses(404))
def published_form(slug: str, db: DbSession) -> JSONResponse:
    definition = repository.published(db, slug[:64])
    if definition is None:
        raise NotFound(f"No published form {slug!r}.")
    return JSONResponse(document_view(definition))


def _own(admin: FormAdmin, definition: FormDefinition | None) -> FormDefinition:
    if definition is None or (admin.department and definition.department != admin.department):
        raise NotFound("No such form definition in your department.")
    return definition


@admin_router.get("/api/admin/definitions", response_model=FormList, responses=FORM_ADMIN)
def all_definitions(admin: CurrentFormAdmin, db: DbSession) -> JSONResponse:
    rows = repository.list_versions(db, department=admin.department)
    return JSONResponse({"items": [definitions.summary(d) for d in rows]})


@admin_router.post(
    "/api/admin/definitions",
    status_code=201,
    response_model=LoadedForm,
    responses=combine(
        {200: {"model": LoadedForm, "description": "The latest version already had this content"}},
        with_refusals(FORM_ADMIN, 409, 422),
    ),
)
def load_definition(
    admin: CurrentFormAdmin,
    db: DbSession,
    now: Now,
    document: Annotated[dict[str, Any], Body(description="A form definition document")],
    publish: bool = False,
) -> JSONResponse:
    """Store a new version (unless the latest has the same content); ``publish`` also
    makes it the version new drafts use."""
    try:
        loaded = definitions.load(db, document, now, publish=publish, department=admin.department)
    except definitions.DefinitionError as exc:
        _raise(exc)
    body = {**definitions.summary(loaded.definition), "created": loaded.created}
    return JSONResponse(body, status_code=201 if loaded.created else 200)


@admin_router.get(
    "/api/admin/definitions/{slug}/versions/{version}",
    response_model=FormDocument,
    responses=with_refusals(FORM_ADMIN, 404),
)
def definition_version(slug: str, version: int, admin: CurrentFormAdmin, db: DbSession) -> JSONResponse:
    return JSONResponse(document_view(_own(admin, repository.get_version(db, slug[:64], version))))


@admin_router.post(
    "/api/admin/definitions/{slug}/versions/{version}/publish",
    response_model=FormSummary,
    responses=with_refusals(FORM_ADMIN, 404, 409),
)
def publish_version(
    slug: str, version: int, admin: CurrentFormAdmin, db: DbSession, now: Now
) -> JSONResponse:
    definition = _own(admin, repository.get_version(db, slug[:64], version))
    try:
        definitions.publish_version(db, definition, now)
    except definitions.DefinitionError as exc:
        _raise(exc)
    return JSONResponse(definitions.summary(definition))


@admin_router.post(
    "/api/admin/definitions/{slug}/retire",
    response_model=FormSummary,
    responses=with_refusals(FORM_ADMIN, 404),
)
def retire(slug: str, admin: CurrentFormAdmin, db: DbSession, now: Now) -> JSONResponse:
    _own(admin, repository.latest(db, slug[:64]))
    try:
        definition = definitions.retire(db, slug, now)
    except definitions.DefinitionError as exc:
        _raise(exc)
    return JSONResponse(definitions.summary(definition))
