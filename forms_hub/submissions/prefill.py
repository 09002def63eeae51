"""Prefill from the resident's identity: which claims a form asks for and how (ordinary
claims, and the verifiable ones inside ``verified_claims`` too: forms_hub.assurance), putting
a release's values into the draft, and getting a fresh release to re-check them at submission
(Open Forms re-checks prefilled values against the source so a tampered value cannot slip
through).

A prefilled answer is verified (read-only, re-checked at submission) only when its value came
inside ``verified_claims`` under the gateway's trust framework; a value released as an
ordinary claim is self-declared and the resident may change it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.assurance import (
    SELF_ASSERTED,
    TRUST_FRAMEWORK,
    VERIFIABLE_CLAIMS,
    Assurance,
    assurance_of,
    claims_request,
)
from forms_hub.crypto import Sealer
from forms_hub.definitions.document import CLAIM_LABELS, FormDocument
from forms_hub.errors import PrefillRecheckNeeded
from forms_hub.oidc_client.provider import ProviderClient, ProviderError
from forms_hub.oidc_client.service import StoredTokens
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import ensure_editable, open_answers, seal_answers
from kit.i18n import CATALOGUES, N_


def claim_value(userinfo: Mapping[str, Any], claim: str) -> str | None:
    """A released ordinary claim as a form answer (the formatted address); None when not
    released."""
    value = userinfo.get(claim)
    if claim == "address" and isinstance(value, dict):
        value = value.get("formatted")
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    return str(value)


def prefill_claims(doc: FormDocument) -> tuple[str, ...]:
    return tuple(dict.fromkeys(doc.prefill.values()))


def identity_request(doc: FormDocument) -> dict[str, Any] | None:
    """The ``claims`` parameter of the form's identity release (None: the form needs none)."""
    if not doc.prefill and doc.min_identity_level is None:
        return None
    return claims_request(prefill_claims(doc), with_level=doc.min_identity_level is not None)


def prefill_rows(doc: FormDocument, lang: str) -> list[dict[str, Any]]:
    """What the consent page lists: each form field, the identity claim it comes from, and
    whether it can come verified (read-only if the resident's identity was proofed)."""
    return [
        {
            "field": name,
            "label": doc.fields[name].label[lang],
            "claim": claim,
            "claim_label": CATALOGUES.gettext(lang, CLAIM_LABELS[claim]),
            "verifiable": claim in VERIFIABLE_CLAIMS,
        }
        for name, claim in doc.prefill.items()
    ]


def prefill_meta(claim: str, assurance: Assurance | None) -> dict[str, Any]:
    """How a prefilled answer is recorded (the API's ``prefill``): verified with its
    assurance level, trust framework and time, or self-declared (``assurance`` None)."""
    if assurance is None:
        return {"claim": claim, "verified": False, "assurance_level": SELF_ASSERTED}
    return {
        "claim": claim,
        "verified": True,
        "assurance_level": assurance.level,
        "trust_framework": TRUST_FRAMEWORK,
        "verified_at": assurance.verified_at,
    }


def apply_prefill(
    db: Session,
    sealer: Sealer,
    submission: Submission,
    doc: FormDocument,
    userinfo: Mapping[str, Any],
    now: datetime,
    *,
    level_asked: bool,
) -> list[str]:
    """Copy the released values into the draft; returns the fields filled. A claim the
    provider did not release (not consented, or the resident has none) stays as it was, no
    longer marked as coming from the identity. ``level_asked``: the release was asked for
    ``verified_claims``, so what it shows is the resident's identity level."""
    ensure_editable(submission, now)
    assurance = assurance_of(userinfo)
    answers = open_answers(sealer, submission)
    prefill = {k: v for k, v in submission.prefill.items() if k not in doc.prefill}
    filled = []
    for name, claim in doc.prefill.items():
        verified = assurance.verified_value(claim)
        value = verified if verified is not None else claim_value(userinfo, claim)
        if value is None:
            continue
        answers[name] = value
        prefill[name] = prefill_meta(claim, assurance if verified is not None else None)
        filled.append(name)
    submission.prefill = prefill
    if level_asked:
        submission.identity_level = assurance.level
    submission.updated_at = now
    seal_answers(sealer, submission, answers)
    db.flush()
    return filled


def fresh_release(
    provider: ProviderClient, client_id: str, secret: str, stored: StoredTokens, now: datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A new userinfo release with the tokens of the prefill, refreshing the access token
    when it expired. Returns (userinfo, new token response or None). Makes HTTP calls:
    hold no database transaction while calling this.

    Raises:
        PrefillRecheckNeeded: the tokens no longer work (expired, revoked, consent withdrawn).
    """
    refreshed = None
    access_token = stored.access_token
    if stored.expires_at <= now + timedelta(seconds=5):
        access_token, refreshed = _refreshed(provider, client_id, secret, stored)
    try:
        userinfo = provider.userinfo(access_token)
    except ProviderError as exc:
        if exc.error != "invalid_token" or refreshed is not None or not stored.refresh_token:
            raise PrefillRecheckNeeded(
                N_("Your identity details could not be checked again; fill them in again.")
            ) from None
        access_token, refreshed = _refreshed(provider, client_id, secret, stored)
        try:
            userinfo = provider.userinfo(access_token)
        except ProviderError:
            raise PrefillRecheckNeeded(
                N_("Your identity details could not be checked again; fill them in again.")
            ) from None
    if userinfo.get("sub") != stored.sub:
        raise PrefillRecheckNeeded(N_("The identity release was for another person."))
    return userinfo, refreshed


def _refreshed(
    provider: ProviderClient, client_id: str, secret: str, stored: StoredTokens
) -> tuple[str, dict[str, Any]]:
    if not stored.refresh_token:
        raise PrefillRecheckNeeded(
            N_("Your identity release has expired; fill the details from your identity again.")
        )
    try:
        tokens = provider.refresh(client_id=client_id, secret=secret, refresh_token=stored.refresh_token)
    except ProviderError:
        raise PrefillRecheckNeeded(
            N_("Your identity release has expired; fill the details from your identity again.")
        ) from None
    return tokens["access_token"], tokens
