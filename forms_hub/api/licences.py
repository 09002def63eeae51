"""Licences on the API: the holder's list and renewal, the department's status actions, and
the public verification that anyone (or the QR code on the licence) can call."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from forms_hub.access import CurrentResident, CurrentStaff
from forms_hub.api.responses import RESIDENT_CHANGES, RESIDENT_READS, STAFF, with_refusals
from forms_hub.dependencies import AnswerSealer, Config, HubSite
from forms_hub.errors import NotFound
from forms_hub.licences import repository as licences
from forms_hub.licences import service
from forms_hub.licences.models import Licence
from forms_hub.licences.schemas import LicenceList, LicenceVerification, LicenceView
from forms_hub.submissions import numbers
from forms_hub.submissions.schemas import SubmissionView
from forms_hub.views import licence_view, submission_view
from kit.web import DbSession, Now

router = APIRouter(tags=["licences"])


class LicenceTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="suspend | reinstate | revoke")
    reason: str = Field(max_length=2000)


@router.get("/api/licences/{number}/verification", tags=["public"], response_model=LicenceVerification)
def verify(number: str, db: DbSession, now: Now) -> JSONResponse:
    """Valid, expired, suspended or revoked, with type, issuer and validity: no personal data."""
    return JSONResponse(service.verification(db, number[:64], now), headers={"Cache-Control": "no-store"})


@router.get("/api/licences", response_model=LicenceList, responses=RESIDENT_READS)
def my_licences(
    resident: CurrentResident, db: DbSession, sealer: AnswerSealer, site: HubSite, now: Now
) -> JSONResponse:
    rows = licences.for_holder(db, resident.sub)
    items = [licence_view(db, sealer, site.base_url, row, holder=True, now=now) for row in rows]
    return JSONResponse({"items": items})


@router.post(
    "/api/licences/{number}/renewal",
    status_code=201,
    response_model=SubmissionView,
    responses=with_refusals(RESIDENT_CHANGES, 404, 409),
)
def renew(
    number: str, resident: CurrentResident, db: DbSession, sealer: AnswerSealer, config: Config, now: Now
) -> JSONResponse:
    """Start a renewal inside the renewal window: a draft with the previous answers."""
    draft = service.start_renewal(db, sealer, config.draft_ttl, resident, number, now)
    return JSONResponse(submission_view(db, sealer, draft, for_resident=True), status_code=201)


def _department_licence(db: Session, number: str, department: str, *, lock: bool = False) -> Licence:
    licence = licences.by_number(db, number, for_update=lock) if numbers.is_well_formed(number) else None
    if licence is None or licence.department != department:
        raise NotFound("No licence with this number in your department.")
    return licence


@router.get(
    "/api/department/licences/{number}",
    tags=["department"],
    response_model=LicenceView,
    responses=with_refusals(STAFF, 404),
)
def department_licence(
    number: str, staff: CurrentStaff, db: DbSession, sealer: AnswerSealer, site: HubSite, now: Now
) -> JSONResponse:
    licence = _department_licence(db, number, staff.department)
    return JSONResponse(licence_view(db, sealer, site.base_url, licence, holder=False, now=now))


@router.post(
    "/api/department/licences/{number}/transitions",
    tags=["department"],
    response_model=LicenceView,
    responses=with_refusals(STAFF, 404, 409, 422),
)
def department_licence_action(
    number: str,
    body: LicenceTransition,
    staff: CurrentStaff,
    db: DbSession,
    sealer: AnswerSealer,
    site: HubSite,
    now: Now,
) -> JSONResponse:
    licence = _department_licence(db, number, staff.department, lock=True)
    service.staff_action(db, licence, staff, body.action, body.reason, now)
    return JSONResponse(licence_view(db, sealer, site.base_url, licence, holder=False, now=now))
