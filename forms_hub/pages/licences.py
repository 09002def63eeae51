"""Licence pages: the holder's licences (with the QR code to verify them), renewal, and the
public check that a licence is valid."""

from __future__ import annotations

from datetime import datetime

import segno
from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from forms_hub.access import Visitor
from forms_hub.dependencies import AnswerSealer, Config, HubSite
from forms_hub.licences import repository as licences
from forms_hub.licences import service as licence_service
from forms_hub.principals import Resident
from forms_hub.views import licence_view
from forms_hub.web.page_helpers import page_router, resident_post, sign_in_redirect, signed_in_resident
from forms_hub.web.rendering import error_page, redirect, render
from kit.i18n import N_
from kit.web import DbSession, Now

router = page_router()


@router.get("/verify")
def verify_page(request: Request, db: DbSession, now: Now, number: str | None = None) -> Response:
    result = None
    if number:
        result = licence_service.verification(db, number.strip().upper()[:64], now)
    return render(request, "verify.html", {"number": number, "result": result})


@router.get("/verify/{number}")
def verify_number_page(request: Request, number: str, db: DbSession, now: Now) -> Response:
    return verify_page(request, db, now, number)


@router.get("/licences")
def licences_page(
    request: Request, visitor: Visitor, db: DbSession, sealer: AnswerSealer, site: HubSite, now: Now
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    items = [
        licence_view(db, sealer, site.base_url, row, holder=True, now=now)
        for row in licences.for_holder(db, resident.sub)
    ]
    return render(request, "licences.html", {"items": items})


@router.get("/licences/{number}")
def licence_page(
    request: Request,
    number: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    site: HubSite,
    now: Now,
) -> Response:
    resident = signed_in_resident(visitor)
    if resident is None:
        return sign_in_redirect(request)
    row = licences.by_number(db, number[:64])
    if row is None or row.holder_sub != resident.sub:
        return error_page(request, 404, N_("No such licence."))
    view = licence_view(db, sealer, site.base_url, row, holder=True, now=now)
    qr_svg = segno.make(view["verification_url"], error="m").svg_inline(scale=4, title=view["number"])
    return render(request, "licence.html", {"licence": view, "qr_svg": qr_svg})


@router.post("/licences/{number}/renew")
async def renew_page(
    request: Request,
    number: str,
    visitor: Visitor,
    db: DbSession,
    sealer: AnswerSealer,
    config: Config,
    now: Now,
) -> Response:
    def renew(db: Session, resident: Resident, now: datetime) -> Response:
        draft = licence_service.start_renewal(db, sealer, config.draft_ttl, resident, number, now)
        return redirect(f"/forms/submissions/{draft.id}/edit")

    return await resident_post(request, db, visitor, now, renew)
