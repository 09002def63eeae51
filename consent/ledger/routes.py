"""The ledger's HTTP surface: residents read their own entries, departments the entries
they received, auditors everything (each of their queries is logged); checkpoints and
proofs for anyone holding a ledger scope; the verifier key for everyone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.responses import JSONResponse, StreamingResponse

from consent.auth import (
    SCOPE_AUDIT,
    SCOPE_DEPARTMENT,
    SCOPE_RESIDENT,
    Auditor,
    AuditorOrAdmin,
    Department,
    LedgerReader,
    Principal,
    Resident,
)
from consent.ledger import service
from consent.ledger.dependencies import LedgerDep
from consent.ledger.entry import rfc3339_utc
from consent.ledger.integrity import LEDGER_INCONSISTENT
from consent.ledger.schemas import (
    AccessOut,
    AccessPage,
    CheckpointOut,
    ConsistencyProofOut,
    DepartmentEntryOut,
    DepartmentEntryPage,
    EntryOut,
    EntryPage,
    InclusionProofOut,
    PublicKeyOut,
    ResidentExport,
)
from consent.ledger.service import (
    DisclosureView,
    EntryFilter,
    ExportPlan,
    LedgerStateError,
    ProofRangeError,
)
from consent.ledger.verifier import export_error_line
from kit.exports import csv_text, download
from kit.observability import request_id_of
from kit.openapi import bearer_problem_responses, combine
from kit.problems import Problem
from kit.request_guard import INT64_MAX
from kit.web import DbSession, Now, Sessions

router = APIRouter(prefix="/ledger", tags=["ledger"])
T = TypeVar("T")

MAX_PAGE = 500
JSON_LINES = "application/jsonl"
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
# Integers are bounded where declared: the database's BIGINT holds no more (kit.request_guard).
Before = Annotated[int | None, Query(ge=1, le=INT64_MAX, description="return entries with a smaller index")]
Position = Annotated[int, Query(ge=0, le=INT64_MAX)]
Since = Annotated[datetime | None, Query(description="inclusive; UTC when no offset is given")]
Until = Annotated[datetime | None, Query(description="exclusive; UTC when no offset is given")]
Name = Annotated[str | None, Query(min_length=1, max_length=64)]


def _page(db: DbSession, views: list[DisclosureView], limit: int) -> int | None:
    return service.next_before(db, views) if len(views) == limit else None


def as_utc(moment: datetime | None) -> datetime | None:
    """Query times without an offset are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AuditTrail:
    """Runs a query and, when the caller is an auditor (or the administrator), records it
    in the access log. A failed query is recorded too: its problem is returned rather than
    raised, so the request's transaction still commits the log row."""

    def __init__(self, request: Request, db: DbSession, now: Now, principal: Principal) -> None:
        self.request, self.db, self.now, self.principal = request, db, now, principal

    def __call__(
        self, action: str, parameters: dict[str, Any], query: Callable[[], tuple[T, int]]
    ) -> T | Response:
        try:
            result, count = query()
        except Problem as problem:
            self.record(action, parameters, None, problem.status)
            return problem.response(self.request.url.path)
        self.record(action, parameters, count, 200)
        return result

    def record(self, action: str, parameters: dict[str, Any], count: int | None, status: int) -> None:
        principal = self.principal
        if not (principal.is_auditor or principal.is_admin):
            return
        service.record_audit_access(
            self.db,
            subject=principal.subject,
            client_id=principal.client_id,
            action=action,
            parameters={k: _jsonable(v) for k, v in parameters.items() if v is not None},
            result_count=count,
            status=status,
            request_id=request_id_of(self.request.scope),
            now=self.now,
        )


def _jsonable(value: Any) -> Any:
    return rfc3339_utc(value) if isinstance(value, datetime) else value


def _range_problem(error: ProofRangeError) -> Problem:
    return Problem(400, "Outside the log", str(error))


def inconsistent_problem(error: LedgerStateError) -> Problem:
    """A known inconsistency of the stored ledger: 503 with a stable type, never a bare 500.
    Not transient, so no Retry-After: the operator has to repair the database."""
    return Problem(
        503,
        "Ledger inconsistent",
        f"The disclosure ledger failed its integrity check and answers nothing it cannot prove: {error}.",
        type_=LEDGER_INCONSISTENT,
    )


# -- public ---------------------------------------------------------------------------------


@router.get("/public-key", response_model=PublicKeyOut)
def public_key(db: DbSession, now: Now, ledger: LedgerDep) -> PublicKeyOut:
    """The Ed25519 key checkpoints are signed with, as a signed-note vkey and raw."""
    return PublicKeyOut.of(ledger.verifier_key(db, now))


# -- checkpoints and proofs -----------------------------------------------------------------


def _reader_trail(request: Request, db: DbSession, now: Now, principal: LedgerReader) -> AuditTrail:
    return AuditTrail(request, db, now, principal)


def _auditor_trail(request: Request, db: DbSession, now: Now, principal: Auditor) -> AuditTrail:
    return AuditTrail(request, db, now, principal)


def _signer_trail(request: Request, db: DbSession, now: Now, principal: AuditorOrAdmin) -> AuditTrail:
    return AuditTrail(request, db, now, principal)


ReaderTrail = Annotated[AuditTrail, Depends(_reader_trail)]
AuditorTrail = Annotated[AuditTrail, Depends(_auditor_trail)]
SignerTrail = Annotated[AuditTrail, Depends(_signer_trail)]


@router.get("/checkpoints/latest", response_model=CheckpointOut, responses=bearer_problem_responses(404))
def latest_checkpoint(db: DbSession, ledger: LedgerDep, audit: ReaderTrail) -> Any:
    def query() -> tuple[CheckpointOut, int]:
        checkpoint = ledger.latest_checkpoint(db)
        if checkpoint is None:
            raise Problem(404, "No checkpoint", "No checkpoint has been signed yet.")
        return CheckpointOut.of(checkpoint), 1

    return audit("checkpoint.latest", {}, query)


@router.get(
    "/checkpoints/{tree_size}", response_model=CheckpointOut, responses=bearer_problem_responses(404, 422)
)
def checkpoint_at(tree_size: int, db: DbSession, ledger: LedgerDep, audit: ReaderTrail) -> Any:
    """The most recently signed checkpoint at exactly this tree size."""

    def query() -> tuple[CheckpointOut, int]:
        checkpoint = ledger.latest_checkpoint(db, tree_size)
        if checkpoint is None:
            raise Problem(404, "No checkpoint", f"No checkpoint was signed at tree size {tree_size}.")
        return CheckpointOut.of(checkpoint), 1

    return audit("checkpoint.at", {"tree_size": tree_size}, query)


@router.post(
    "/checkpoints", response_model=CheckpointOut, status_code=201, responses=bearer_problem_responses(429)
)
def sign_checkpoint(db: DbSession, now: Now, ledger: LedgerDep, audit: SignerTrail) -> Any:
    """Sign the current tree head now (auditors, or the administrator credential), unless
    the ledger fails its integrity check (503, never a signature over a damaged tree)."""
    try:
        checkpoint = ledger.sign_checkpoint(db, now)
    except LedgerStateError as error:
        problem = inconsistent_problem(error)
        audit.record("checkpoint.sign", {}, None, problem.status)
        return problem.response(audit.request.url.path)
    audit.record("checkpoint.sign", {"tree_size": checkpoint.tree_size}, 1, 201)
    return CheckpointOut.of(checkpoint)


def _may_see(principal: Principal, entry: DisclosureView) -> bool:
    scopes = principal.scopes
    if SCOPE_AUDIT in scopes:
        return True
    if SCOPE_DEPARTMENT in scopes and principal.department == entry.recipient_department:
        return True
    own = principal.department is None and principal.subject == entry.resident_id
    return SCOPE_RESIDENT in scopes and own


def _default_size(db: DbSession, ledger: LedgerDep) -> int:
    checkpoint = ledger.latest_checkpoint(db)
    if checkpoint is None:
        raise Problem(409, "No checkpoint", "No checkpoint has been signed yet; pass tree_size.")
    return checkpoint.tree_size


NOT_YET_INTEGRATED = "urn:egate:problem:not-yet-integrated"
"""The RFC 9457 problem type of a proof asked for an entry still in the sequencing queue."""


class _AskAgainSoon(Problem):
    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers["Retry-After"] = "1"
        return response


def _not_yet_integrated(entry_id: str) -> Problem:
    return _AskAgainSoon(
        409,
        "Not yet integrated",
        f"Entry {entry_id} was recorded and awaits its place in the log; its inclusion proof"
        " is available once it is integrated, normally within a second.",
        type_=NOT_YET_INTEGRATED,
    )


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProofOut,
    responses=bearer_problem_responses(400, 404, 409, 422),
)
def inclusion_proof(
    db: DbSession,
    ledger: LedgerDep,
    audit: ReaderTrail,
    index: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="the entry's index")] = None,
    entry_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="or the entry's id (one of the two)")
    ] = None,
    tree_size: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="default: the latest checkpoint's")
    ] = None,
) -> Any:
    """Proof that an entry (by ``index`` or ``entry_id``) is in the tree of ``tree_size``
    (RFC 9162 §2.1.3). Residents and departments get proofs only for entries they may
    read. An entry still awaiting integration is a 409 of type
    ``urn:egate:problem:not-yet-integrated`` with Retry-After."""

    def query() -> tuple[InclusionProofOut, int]:
        if (index is None) == (entry_id is None):
            raise Problem(400, "Which entry?", "Give exactly one of index and entry_id.")
        if entry_id is not None:
            entry = service.disclosure_by_id(db, entry_id)
            if entry is None:
                pending = service.pending_disclosure(db, entry_id)
                if pending is not None and _may_see(audit.principal, pending):
                    raise _not_yet_integrated(entry_id)
        else:
            entry = service.disclosure_at(db, index) if index is not None else None
        if entry is None or entry.index is None or not _may_see(audit.principal, entry):
            shown = entry_id if entry_id is not None else index
            raise Problem(404, "No such entry", f"There is no entry {shown} you may read.")
        position = entry.index
        size = tree_size if tree_size is not None else _default_size(db, ledger)
        if position >= size:
            # Integrated after the latest checkpoint: the sequencer signs the next one
            # within EGATE_CONSENT_CHECKPOINT_INTERVAL_SECONDS, so ask again soon.
            refusal = Problem if tree_size is not None else _AskAgainSoon
            raise refusal(
                409,
                "Entry not covered",
                f"Entry {position} is not in a tree of size {size};"
                " sign a newer checkpoint or pass tree_size.",
            )
        try:
            proof = ledger.inclusion_proof(db, position, size)
        except ProofRangeError as error:
            raise _range_problem(error) from None
        except LedgerStateError as error:
            raise inconsistent_problem(error) from None
        return InclusionProofOut.of(proof, ledger.latest_checkpoint(db, size)), 1

    parameters = {"index": index, "entry_id": entry_id, "tree_size": tree_size}
    return audit("proof.inclusion", parameters, query)


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProofOut,
    responses=bearer_problem_responses(400, 409, 422),
)
def consistency_proof(
    db: DbSession,
    ledger: LedgerDep,
    audit: ReaderTrail,
    old_size: Position,
    new_size: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="default: the latest checkpoint's")
    ] = None,
) -> Any:
    """Proof that the tree of ``old_size`` is a prefix of the tree of ``new_size`` (RFC 9162 §2.1.4)."""

    def query() -> tuple[ConsistencyProofOut, int]:
        size = new_size if new_size is not None else _default_size(db, ledger)
        try:
            proof = ledger.consistency_proof(db, old_size, size)
        except ProofRangeError as error:
            raise _range_problem(error) from None
        except LedgerStateError as error:
            raise inconsistent_problem(error) from None
        return ConsistencyProofOut.of(proof), 1

    return audit("proof.consistency", {"old_size": old_size, "new_size": new_size}, query)


# -- residents --------------------------------------------------------------------------------


@router.get("/me/entries", response_model=EntryPage, responses=bearer_problem_responses(422))
def my_entries(
    db: DbSession,
    principal: Resident,
    department: Name = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    before: Before = None,
) -> EntryPage:
    """Where the caller's data went, newest first."""
    views = service.list_disclosures(
        db,
        principal.subject,
        department=department,
        since=as_utc(since),
        until=as_utc(until),
        limit=limit,
        before=before,
    )
    return EntryPage(entries=[EntryOut.of(v) for v in views], next_before=_page(db, views, limit))


CSV_COLUMNS = (
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
    "index",
    "request_id",
)


@router.get(
    "/me/entries/export",
    response_class=Response,
    responses=combine(
        {
            200: {
                "description": "The entries as a download, in JSON or CSV",
                "model": ResidentExport,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
        bearer_problem_responses(422),
    ),
)
def export_my_entries(
    db: DbSession,
    now: Now,
    principal: Resident,
    format: Literal["json", "csv"] = "json",
    department: Name = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """All of the caller's entries (with the filters), as CSV or JSON, to keep."""
    views: list[DisclosureView] = []
    before = None
    while True:
        page = service.list_disclosures(
            db,
            principal.subject,
            department=department,
            since=as_utc(since),
            until=as_utc(until),
            limit=MAX_PAGE,
            before=before,
        )
        views.extend(page)
        before = service.next_before(db, page) if len(page) == MAX_PAGE else None
        if before is None:
            break
    stamp = now.strftime("%Y%m%d")
    if format == "csv":
        text = csv_text(CSV_COLUMNS, (view.entry() for view in views))
        return download(text, "text/csv; charset=utf-8", f"disclosures-{stamp}.csv")
    body = ResidentExport(
        resident_id=principal.subject,
        exported_at=rfc3339_utc(now),
        entries=[EntryOut.of(v) for v in views],
    )
    return Response(
        body.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="disclosures-{stamp}.json"'},
    )


# -- departments ------------------------------------------------------------------------------


@router.get(
    "/department/entries", response_model=DepartmentEntryPage, responses=bearer_problem_responses(422)
)
def department_entries(
    db: DbSession,
    principal: Department,
    channel: Name = None,
    field: Name = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    before: Before = None,
) -> DepartmentEntryPage:
    """Entries whose recipient is the token's department, newest first."""
    filters = EntryFilter(
        department=principal.department,
        channel=channel,
        field=field,
        since=as_utc(since),
        until=as_utc(until),
    )
    views = service.query_disclosures(db, filters, limit=limit, before=before)
    return DepartmentEntryPage(
        entries=[DepartmentEntryOut.of(v) for v in views], next_before=_page(db, views, limit)
    )


# -- auditors ---------------------------------------------------------------------------------


@router.get("/audit/entries", response_model=EntryPage, responses=bearer_problem_responses(422))
def audit_entries(
    db: DbSession,
    audit: AuditorTrail,
    department: Name = None,
    client_id: Name = None,
    resident_id: Name = None,
    field: Name = None,
    channel: Name = None,
    basis: Annotated[Literal["consent", "legal", "sign-in"] | None, Query()] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    before: Before = None,
) -> EntryPage:
    """Entries across residents, newest first. The query is recorded in the access log."""
    filters = EntryFilter(
        resident_id=resident_id,
        department=department,
        client_id=client_id,
        channel=channel,
        field=field,
        basis=basis,
        since=as_utc(since),
        until=as_utc(until),
    )
    views = service.query_disclosures(db, filters, limit=limit, before=before)
    parameters = {**filters.__dict__, "limit": limit, "before": before}
    audit.record("entries.query", parameters, len(views), 200)
    return EntryPage(entries=[EntryOut.of(v) for v in views], next_before=_page(db, views, limit))


@router.get(
    "/audit/export",
    responses=combine(
        {
            200: {
                "content": {JSON_LINES: {"schema": {"type": "string"}}},
                "description": "the offline verifier's JSON lines",
            }
        },
        bearer_problem_responses(422),
    ),
    response_class=StreamingResponse,
)
def audit_export(
    db: DbSession,
    sessions: Sessions,
    ledger: LedgerDep,
    audit: AuditorTrail,
    include_uncovered: Annotated[
        bool, Query(description="also export entries after the latest checkpoint")
    ] = False,
) -> Response:
    """The whole log in the offline verifier's format (``egate ledger verify``). By default
    it ends at the latest checkpoint, so every exported entry is covered by a signature.

    Every entry to export is checked present before the 200 is sent (503 problem+json if
    not). Should one vanish while streaming anyway, the export ends with an ``error`` line,
    which the verifier reports, rather than just stopping."""
    if include_uncovered:
        through = ledger.tree_size(db)
    else:
        latest = ledger.latest_checkpoint(db)
        through = latest.tree_size if latest else 0

    def query() -> tuple[ExportPlan, int]:
        try:
            return ledger.prepare_export(db, through), through
        except LedgerStateError as error:
            raise inconsistent_problem(error) from None

    plan = audit("ledger.export", {"include_uncovered": include_uncovered}, query)
    if isinstance(plan, Response):
        return plan
    # Streamed after this session ended (kit.web.DbSession), in short transactions of its own.
    return StreamingResponse(
        _ending_in_an_error_line(ledger.export_stream(sessions, plan)),
        media_type=JSON_LINES,
        headers={"Content-Disposition": f'attachment; filename="ledger-{through}.jsonl"'},
    )


def _ending_in_an_error_line(lines: Iterator[str]) -> Iterator[str]:
    """Once the 200 is sent, a failure can only be told in the body: as a last line."""
    try:
        yield from lines
    except LedgerStateError as error:
        yield export_error_line(str(error)) + "\n"


@router.get("/audit/access-log", response_model=AccessPage, responses=bearer_problem_responses(422))
def access_log(
    db: DbSession,
    audit: AuditorTrail,
    limit: Limit = 100,
    before: Before = None,
) -> AccessPage:
    """Who queried the ledger as an auditor, newest first (reading it is logged too)."""
    rows = service.audit_accesses(db, limit=limit, before=before)
    audit.record("access_log.query", {"limit": limit, "before": before}, len(rows), 200)
    return AccessPage(
        accesses=[AccessOut.of(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )
