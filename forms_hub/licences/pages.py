"""Licence pages: the holder's licences (with the QR code to verify them), renewal, and the
public check that a licence is valid."""

from __future__ import annotations

from datetime import datetime

import segno
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from forms_hub.hub import FormsHub, Resident, get_hub
from forms_hub.licences import repository as licences
from forms_hub.licences import service as licence_service
from forms_hub.licences.routes import licence_view
from forms_hub.web.page_helpers import resident_post, sign_in_redirect, signed_in_resident
from forms_hub.web.rendering import error_page, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/verify")
def verify_page(request: Request, number: str | None = None) -> Response:
    hub = get_hub(request)
    result = None
    if number:
        with hub.runtime.sessions() as db:
            result = licence_service.verification(db, number.strip().upper()[:64], hub.now())
    return render(request, "verify.html", {"number": number, "result": result})


@router.get("/verify/{number}")
def verify_number_page(request: Request, number: str) -> Response:
    return verify_page(request, number)


@router.get("/licences")
def licences_page(request: Request) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    with hub.runtime.sessions() as db:
        items = [licence_view(db, hub, row, holder=True) for row in licences.for_holder(db, resident.sub)]
    return render(request, "licences.html", {"items": items})


@router.get("/licences/{number}")
def licence_page(request: Request, number: str) -> Response:
    hub = get_hub(request)
    resident = signed_in_resident(request, hub)
    if resident is None:
        return sign_in_redirect(request)
    with hub.runtime.sessions() as db:
        row = licences.by_number(db, number[:64])
        if row is None or row.holder_sub != resident.sub:
            return error_page(request, 404, "No such licence.")
        view = licence_view(db, hub, row, holder=True)
    qr_svg = segno.make(view["verification_url"], error="m").svg_inline(scale=4, title=view["number"])
    return render(request, "licence.html", {"licence": view, "qr_svg": qr_svg})


@router.post("/licences/{number}/renew")
async def renew_page(request: Request, number: str) -> Response:
    holder: dict[str, str] = {}

    def work(db: Session, hub: FormsHub, resident: Resident, now: datetime) -> None:
        holder["id"] = licence_service.start_renewal(db, hub, resident, number, now).id

    response = await resident_post(request, work, "")
    return redirect(f"/forms/submissions/{holder['id']}/edit") if "id" in holder else response
