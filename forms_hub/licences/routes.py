"""Licences on the API: the holder's list and renewal, the department's status actions, and
the public verification that anyone (or the QR code on the licence) can call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from forms_hub.access import CurrentResident, CurrentStaff
from forms_hub.errors import NotFound
from forms_hub.hub import FormsHub, HubDep
from forms_hub.licences import repository as licences
from forms_hub.licences import service
from forms_hub.licences.models import Licence
from forms_hub.submissions import numbers
from forms_hub.submissions.views import iso, submission_view
from kit.runtime import DbSession

router = APIRouter(tags=["licences"])


class LicenceTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="suspend | reinstate | revoke")
    reason: str = Field(max_length=2000)


def licence_view(db: Session, hub: FormsHub, licence: Licence, *, holder: bool) -> dict[str, Any]:
    now = hub.now()
    window = service.renewal_window(db, licence)
    view = service.verification(db, licence.number, now)
    view.update(
        {
            "conditions": licence.conditions,
            "holder_name": service.holder_name(hub, licence),
            "status_reason": licence.status_reason,
            "issued_at": iso(licence.issued_at),
            "renewal_opens": iso(window[0]) if window else None,
            "can_renew": service.can_renew(db, licence, now) if holder else None,
            "verification_url": f"{hub.base_url}/verify/{licence.number}",
            "history": [
                {
                    "at": iso(e.occurred_at),
                    "action": e.action,
                    "from": e.from_status,
                    "to": e.to_status,
                    "reason": e.reason,
                }
                for e in licences.history(db, licence.id)
            ],
        }
    )
    return view


@router.get("/api/licences/{number}/verification", tags=["public"])
def verify(number: str, hub: HubDep, db: DbSession) -> JSONResponse:
    """Valid, expired, suspended or revoked, with type, issuer and validity: no personal data."""
    return JSONResponse(
        service.verification(db, number[:64], hub.now()), headers={"Cache-Control": "no-store"}
    )


@router.get("/api/licences")
def my_licences(resident: CurrentResident, hub: HubDep, db: DbSession) -> JSONResponse:
    rows = licences.for_holder(db, resident.sub)
    return JSONResponse({"items": [licence_view(db, hub, row, holder=True) for row in rows]})


@router.post("/api/licences/{number}/renewal", status_code=201)
def renew(number: str, resident: CurrentResident, hub: HubDep, db: DbSession) -> JSONResponse:
    """Start a renewal inside the renewal window: a draft with the previous answers."""
    draft = service.start_renewal(db, hub, resident, number, hub.now())
    return JSONResponse(submission_view(db, hub, draft, for_resident=True), status_code=201)


def _department_licence(db: Session, number: str, department: str, *, lock: bool = False) -> Licence:
    licence = licences.by_number(db, number, for_update=lock) if numbers.is_well_formed(number) else None
    if licence is None or licence.department != department:
        raise NotFound("No licence with this number in your department.")
    return licence


@router.get("/api/department/licences/{number}", tags=["department"])
def department_licence(number: str, staff: CurrentStaff, hub: HubDep, db: DbSession) -> JSONResponse:
    return JSONResponse(
        licence_view(db, hub, _department_licence(db, number, staff.department), holder=False)
    )


@router.post("/api/department/licences/{number}/transitions", tags=["department"])
def department_licence_action(
    number: str, body: LicenceTransition, staff: CurrentStaff, hub: HubDep, db: DbSession
) -> JSONResponse:
    licence = _department_licence(db, number, staff.department, lock=True)
    service.staff_action(db, licence, staff, body.action, body.reason, hub.now())
    return JSONResponse(licence_view(db, hub, licence, holder=False))
