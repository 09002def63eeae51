"""The forms hub's domain errors. Routes turn them into RFC 9457 problem details on the API
and into a message on the page; services raise them and never build HTTP responses.

The message is English and a msgid of the catalogue (mark it with ``N_`` where it is raised),
its ``%(name)s`` placeholders filled from ``values``: the API's ``detail`` is the English
sentence; a page shows it in the page's language (forms_hub.web.page_helpers.failure_page).
The titles are for the API only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FormsError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self, message: str, /, *, values: Mapping[str, Any] | None = None, **extensions: Any
    ) -> None:
        self.message = message
        self.values = dict(values or {})
        self.detail = message % self.values if self.values else message
        super().__init__(self.detail)
        self.extensions = extensions


class NotFound(FormsError):
    status, code, title = 404, "not_found", "Not found"


class Forbidden(FormsError):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(FormsError):
    status, code, title = 409, "conflict", "Conflict"


class AlreadySubmitted(Conflict):
    code, title = "already_submitted", "Already submitted"


class IllegalTransitionError(Conflict):
    code, title = "illegal_transition", "Not allowed in this status"


class FormNotOpen(Conflict):
    code, title = "form_not_open", "This form is not open for submissions"


class PrefillRecheckNeeded(Conflict):
    code, title = "prefill_recheck_needed", "Prefilled details must be checked again"


class IdentityLevelRequired(Forbidden):
    """The form needs a higher identity level than the resident's identity release showed
    (``identity_level``; None: no release has shown it yet). Extensions: ``required_level``,
    ``identity_level``."""

    code, title = "identity_level_required", "A higher identity level is needed"

    @property
    def required_level(self) -> str:
        return str(self.extensions["required_level"])

    @property
    def identity_level(self) -> str | None:
        level = self.extensions.get("identity_level")
        return str(level) if level else None


class DraftExpired(Conflict):
    code, title = "draft_expired", "This draft has expired"


class InvalidAnswers(FormsError):
    status, code, title = 422, "invalid_answers", "Some answers are not valid"


class InvalidInput(FormsError):
    status, code, title = 422, "invalid_input", "Invalid input"


class IdempotencyKeyReused(FormsError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key already used for another request"


class AttachmentRejected(FormsError):
    status, code, title = 422, "attachment_rejected", "The file was not accepted"


class AttachmentTooLarge(AttachmentRejected):
    status, code, title = 413, "attachment_too_large", "The file is too large"
