"""The forms hub's own words in English and Traditional Chinese (Hong Kong): on its pages and
in its notifications and emails (which is why this sits below the submissions, not in web/).

The catalogue is the one of every service, ``kit/locales/zh_Hant_HK/LC_MESSAGES/messages.po``
(English is the msgid); choosing the language and loading it is kit.i18n's job, as on the provider's pages
(same ``lang`` cookie, so a resident's choice carries across). Form definitions carry their
own labels in both languages (:func:`pick`); status and action names are looked up by code
with a message context, since "Submitted" as a status and as a column heading differ in
Chinese.
"""

from __future__ import annotations

from typing import Any

from kit.i18n import CATALOGUES, CHINESE, ENGLISH, N_, pN_

# Codes to their English names (the msgids, under the context named beside them).
STATUS_CONTEXT = "submission status"
STATUS_NAMES = {
    "draft": pN_("submission status", "Draft"),
    "submitted": pN_("submission status", "Submitted"),
    "in_review": pN_("submission status", "In review"),
    "info_requested": pN_("submission status", "More information needed"),
    "approved": pN_("submission status", "Approved"),
    "rejected": pN_("submission status", "Rejected"),
    "withdrawn": pN_("submission status", "Withdrawn"),
}
LICENCE_STATUS_CONTEXT = "licence status"
LICENCE_STATUS_NAMES = {
    "valid": pN_("licence status", "Valid"),
    "active": pN_("licence status", "Active"),
    "not_yet_valid": pN_("licence status", "Not yet valid"),
    "expired": pN_("licence status", "Expired"),
    "suspended": pN_("licence status", "Suspended"),
    "revoked": pN_("licence status", "Revoked"),
    "not_found": pN_("licence status", "No such licence"),
}
ACTION_CONTEXT = "history action"
ACTION_NAMES = {
    "create": pN_("history action", "Draft started"),
    "migrate": pN_("history action", "Moved to the new version of the form"),
    "submit": pN_("history action", "Submitted"),
    "start_review": pN_("history action", "Review started"),
    "request_info": pN_("history action", "More information requested"),
    "resubmit": pN_("history action", "Information sent"),
    "approve": pN_("history action", "Approved"),
    "reject": pN_("history action", "Rejected"),
    "withdraw": pN_("history action", "Withdrawn"),
    "assign": pN_("history action", "Assigned"),
    "unassign": pN_("history action", "Unassigned"),
}

# Identity levels (forms_hub.assurance): what a release showed, and what a form needs.
LEVEL_CONTEXT = "identity level"
LEVEL_NAMES = {
    "self_asserted": pN_("identity level", "Not proofed (details entered by the resident)"),
    "remote": pN_("identity level", "Proofed remotely"),
    "in_person": pN_("identity level", "Proofed in person"),
}
LEVEL_NEEDED_CONTEXT = "identity level needed"
LEVEL_NEEDED_NAMES = {
    "remote": pN_("identity level needed", "An identity proofed remotely or in person"),
    "in_person": pN_("identity level needed", "An identity proofed in person"),
}

# Who made a change in a case's history.
ACTOR_CONTEXT = "actor"
ACTOR_NAMES = {
    "resident": pN_("actor", "Resident"),
    "officer": pN_("actor", "Officer"),
    "department_system": pN_("actor", "Department's system"),
    "system": pN_("actor", "The forms hub"),
}


def gettext(lang: str, message: str) -> str:
    return CATALOGUES.gettext(lang, message)


def pick(pair: tuple[str, str] | dict[str, str] | None, lang: str) -> str:
    """The ``lang`` text of a bilingual label from a form definition."""
    if pair is None:
        return ""
    if isinstance(pair, dict):
        return pair.get(lang) or pair.get(ENGLISH, "")
    return pair[1] if lang == CHINESE else pair[0]


def _named(names: dict[str, str], context: str, code: str, lang: str) -> str:
    """The translated name of ``code``; an unknown code is shown as it is."""
    if code not in names:
        return code
    return CATALOGUES.pgettext(lang, context, names[code])


def status_name(status: str, lang: str) -> str:
    return _named(STATUS_NAMES, STATUS_CONTEXT, status, lang)


def licence_status_name(status: str, lang: str) -> str:
    return _named(LICENCE_STATUS_NAMES, LICENCE_STATUS_CONTEXT, status, lang)


def action_name(action: str, lang: str) -> str:
    return _named(ACTION_NAMES, ACTION_CONTEXT, action, lang)


def actor_name(kind: str, lang: str) -> str:
    return _named(ACTOR_NAMES, ACTOR_CONTEXT, kind, lang)


def identity_level_name(level: str, lang: str) -> str:
    return _named(LEVEL_NAMES, LEVEL_CONTEXT, level, lang)


def level_needed_name(level: str, lang: str) -> str:
    return _named(LEVEL_NEEDED_NAMES, LEVEL_NEEDED_CONTEXT, level, lang)


def notification_text(kind: str, params: dict[str, Any], lang: str) -> str:
    """A notification's sentence (on the page and in the email), from its kind and parameters."""
    if kind == "status_changed":
        status = status_name(params.get("status", ""), lang)
        text = gettext(lang, N_("%(title)s: %(reference)s is now %(status)s.")) % {
            "title": pick(params.get("title"), lang),
            "reference": params.get("reference") or "",
            "status": status.lower(),
        }
        if params.get("reason"):
            text += gettext(lang, N_(" (%(reason)s)")) % {"reason": params["reason"]}
        if params.get("licence"):
            text += gettext(lang, N_(" Licence number: %(licence)s.")) % {"licence": params["licence"]}
        return text
    if kind == "licence_expiring":
        return gettext(
            lang, N_("Your licence %(licence)s expires on %(valid_to)s. You can apply to renew it now.")
        ) % {
            "licence": params.get("licence"),
            "valid_to": params.get("valid_to"),
        }
    if kind == "licence_status":
        code = params.get("status", "")
        status = licence_status_name(code, lang) if code in LICENCE_STATUS_NAMES else ""
        return gettext(lang, N_("Your licence %(licence)s is now %(status)s: %(reason)s")) % {
            "licence": params.get("licence"),
            "status": status.lower(),
            "reason": params.get("reason", ""),
        }
    return kind
