"""The resident's own record, in their account: the consents they gave (with revoke) and
every disclosure of their data (newest first; filter by department and date; CSV/JSON),
read from the consent service through the port, like Estonia's data tracker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from identity.accounts.dependencies import CurrentAccount, Meta
from identity.accounts.service import record_event
from identity.dependencies import ConsentDep
from identity.privacy.service import shown_entries
from identity.web import render
from identity.web.forms import CheckedForm
from kit.exports import csv_text, download
from kit.i18n import choose_language
from kit.web import DbSession, Now

router = APIRouter(include_in_schema=False)
HONG_KONG = timedelta(hours=8)
EXPORT_COLUMNS = (
    "recorded_at",
    "recipient_department",
    "recipient_client_id",
    "channel",
    "fields",
    "purpose",
    "basis",
    "grant_id",
    "legal_basis",
    "entry_id",
)


def _day(value: str | None, *, end: bool) -> datetime | None:
    """A Hong Kong calendar day from a date field, as a UTC bound (None when blank/invalid)."""
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d")
    except ValueError:
        return None
    local = datetime.combine(day.date(), time.max if end else time.min)
    return (local - HONG_KONG).replace(tzinfo=UTC)


@router.get("/account/disclosures")
def disclosures(
    request: Request,
    db: DbSession,
    consent: ConsentDep,
    current: CurrentAccount,
    department: str = "",
    since: str = "",
    until: str = "",
    format: str = "html",
) -> Response:
    entries = consent.list_disclosures(
        db,
        current.account.id,
        department=department.strip().upper() or None,
        since=_day(since, end=False),
        until=_day(until, end=True),
        limit=1000,
    )
    if format in ("csv", "json"):
        rows = [
            {
                **{c: getattr(e, c) for c in EXPORT_COLUMNS if c not in ("recorded_at", "fields")},
                "recorded_at": e.recorded_at.isoformat(),
                "fields": list(e.fields),
            }
            for e in entries
        ]
        if format == "json":
            body, media = json.dumps(rows, ensure_ascii=False, indent=2), "application/json"
        else:
            body, media = csv_text(EXPORT_COLUMNS, rows), "text/csv; charset=utf-8"
        return download(body, media, f"my-disclosures.{format}")
    return render(
        request,
        "account/disclosures.html",
        {
            "signed_in": True,
            "entries": shown_entries(db, entries, choose_language(request)),
            "department": department,
            "since": since,
            "until": until,
        },
    )


@router.get("/account/consents")
def consents(request: Request, db: DbSession, consent: ConsentDep, current: CurrentAccount) -> Response:
    grants = consent.list_grants(db, current.account.id)
    return render(request, "account/consents.html", {"signed_in": True, "grants": grants})


@router.post("/account/consents/{grant_id}/revoke")
def revoke(
    grant_id: str,
    form: CheckedForm,
    db: DbSession,
    now: Now,
    consent: ConsentDep,
    current: CurrentAccount,
    meta: Meta,
) -> Response:
    try:
        grant = consent.revoke_grant(db, current.account.id, grant_id[:64], now)
    except LookupError:
        return RedirectResponse("/account/consents", status_code=303)
    record_event(db, current.account.id, "consent.revoked", meta, now, department=grant.department)
    return RedirectResponse("/account/consents?notice=notice.consent_revoked", status_code=303)
