"""Prefill from the resident's identity: which claims a form asks for, putting a release's
values into the draft, and getting a fresh release to re-check them at submission
(Open Forms re-checks prefilled values against the source so a tampered value cannot slip
through)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.crypto import Sealer
from forms_hub.definitions.document import CLAIM_LABELS, PREFILL_CLAIMS, FormDocument
from forms_hub.errors import PrefillRecheckNeeded
from forms_hub.oidc_client.provider import ProviderClient, ProviderError
from forms_hub.oidc_client.service import StoredTokens
from forms_hub.submissions.models import Submission
from forms_hub.submissions.records import ensure_editable, open_answers, seal_answers


def claim_value(userinfo: Mapping[str, Any], claim: str) -> str | None:
    """A released claim as a form answer (the formatted address); None when not released."""
    value = userinfo.get(claim)
    if claim == "address" and isinstance(value, dict):
        value = value.get("formatted")
    if isinstance(value, bool) or value is None:
        return None
    return str(value)


def prefill_claims(doc: FormDocument) -> tuple[str, ...]:
    return tuple(dict.fromkeys(doc.prefill.values()))


def prefill_rows(doc: FormDocument, lang: str) -> list[dict[str, Any]]:
    """What the consent page lists: each form field, the identity claim it comes from, and
    whether the value will be read-only (verified at registration)."""
    return [
        {
            "field": name,
            "label": doc.fields[name].label[lang],
            "claim": claim,
            "claim_label": CLAIM_LABELS[claim][lang],
            "verified": PREFILL_CLAIMS[claim],
        }
        for name, claim in doc.prefill.items()
    ]


def apply_prefill(
    db: Session,
    sealer: Sealer,
    submission: Submission,
    doc: FormDocument,
    userinfo: Mapping[str, Any],
    now: datetime,
) -> list[str]:
    """Copy the released values into the draft; returns the fields filled. A claim the
    provider did not release (not consented, or the resident has none) stays empty."""
    ensure_editable(submission, now)
    answers = open_answers(sealer, submission)
    prefill = dict(submission.prefill)
    filled = []
    for name, claim in doc.prefill.items():
        value = claim_value(userinfo, claim)
        if value is None:
            continue
        answers[name] = value
        prefill[name] = {"claim": claim, "verified": PREFILL_CLAIMS[claim]}
        filled.append(name)
    submission.prefill = prefill
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
                "Your identity details could not be checked again; fill them in again."
            ) from None
        access_token, refreshed = _refreshed(provider, client_id, secret, stored)
        try:
            userinfo = provider.userinfo(access_token)
        except ProviderError:
            raise PrefillRecheckNeeded(
                "Your identity details could not be checked again; fill them in again."
            ) from None
    if userinfo.get("sub") != stored.sub:
        raise PrefillRecheckNeeded("The identity release was for another person.")
    return userinfo, refreshed


def _refreshed(
    provider: ProviderClient, client_id: str, secret: str, stored: StoredTokens
) -> tuple[str, dict[str, Any]]:
    if not stored.refresh_token:
        raise PrefillRecheckNeeded(
            "Your identity release has expired; fill the details from your identity again."
        )
    try:
        tokens = provider.refresh(client_id=client_id, secret=secret, refresh_token=stored.refresh_token)
    except ProviderError:
        raise PrefillRecheckNeeded(
            "Your identity release has expired; fill the details from your identity again."
        ) from None
    return tokens["access_token"], tokens
