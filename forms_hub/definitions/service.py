"""Loading, publishing and retiring form definitions. A loaded document becomes a new
immutable version (status draft); publishing makes it the version new drafts use and
supersedes the previous one. Loading the same content twice changes nothing."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forms_hub.crypto import canonical_json, sha256_hex
from forms_hub.definitions import repository
from forms_hub.definitions.document import FormDocument, definition_problems
from forms_hub.definitions.models import FormDefinition


class DefinitionError(ValueError):
    def __init__(self, message: str, problems: list[str] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.status = status


@dataclass(frozen=True)
class Loaded:
    definition: FormDefinition
    created: bool
    published: bool


_documents: dict[tuple[str, str], FormDocument] = {}


def document_of(definition: FormDefinition) -> FormDocument:
    """The definition's parsed document, cached per immutable version (id and content hash)."""
    key = (definition.id, definition.content_hash)
    doc = _documents.get(key)
    if doc is None:
        if len(_documents) > 1024:
            _documents.clear()
        doc = _documents[key] = FormDocument(copy.deepcopy(definition.document))
    return doc


def load(
    db: Session,
    document: Any,
    now: datetime,
    *,
    publish: bool = False,
    department: str | None = None,
) -> Loaded:
    """Store ``document`` as a new version of its form unless the latest version already has
    this content. ``department`` limits a department's own credentials to its own forms.

    Raises:
        DefinitionError: the document is invalid, or belongs to another department.
    """
    problems = definition_problems(document)
    if problems:
        raise DefinitionError("The form definition is not valid.", problems)
    if department and document["department"] != department:
        raise DefinitionError("You may only load your own department's forms.", status=403)
    content_hash = sha256_hex(canonical_json(document))
    latest = repository.latest(db, document["slug"])
    if latest is not None and latest.department != document["department"]:
        raise DefinitionError(
            f"Form {document['slug']!r} belongs to department {latest.department}.", status=409
        )
    if latest is not None and latest.content_hash == content_hash:
        published_now = publish and latest.status == "draft"
        if published_now:
            publish_version(db, latest, now)
        return Loaded(latest, created=False, published=published_now)
    definition = FormDefinition(
        id=uuid.uuid4().hex,
        slug=document["slug"],
        version=(latest.version + 1) if latest else 1,
        department=document["department"],
        status="draft",
        title_en=document["title"]["en"],
        title_zh=document["title"]["zh-HK"],
        is_licence=bool(document.get("licence")),
        document=document,
        content_hash=content_hash,
        created_at=now,
    )
    db.add(definition)
    db.flush()
    if publish:
        publish_version(db, definition, now)
    return Loaded(definition, created=True, published=publish)


def publish_version(db: Session, definition: FormDefinition, now: datetime) -> FormDefinition:
    """Raises DefinitionError for a version that was already superseded or retired."""
    if definition.status == "published":
        return definition
    if definition.status != "draft":
        raise DefinitionError(
            f"Version {definition.version} is {definition.status}; load a new version instead.", status=409
        )
    current = repository.published(db, definition.slug)
    if current is not None:
        current.status = "superseded"
        current.superseded_at = now
        db.flush()  # the unique "one published per slug" rule is ours; keep the order anyway
    definition.status = "published"
    definition.published_at = now
    db.flush()
    return definition


def retire(db: Session, slug: str, now: datetime) -> FormDefinition:
    """The form is no longer offered; drafts on it can no longer be submitted."""
    current = repository.published(db, slug)
    if current is None:
        raise DefinitionError(f"Form {slug!r} has no published version.", status=404)
    current.status = "retired"
    current.superseded_at = now
    db.flush()
    return current


def summary(definition: FormDefinition) -> dict[str, Any]:
    return {
        "slug": definition.slug,
        "version": definition.version,
        "department": definition.department,
        "status": definition.status,
        "title": {"en": definition.title_en, "zh-HK": definition.title_zh},
        "licence": definition.is_licence,
        "published_at": definition.published_at.isoformat() if definition.published_at else None,
    }


def document_view(definition: FormDefinition) -> dict[str, Any]:
    """A version's document as the API shows it, with its version number and status."""
    doc = document_of(definition)
    return {"version": definition.version, "status": definition.status, **doc.raw}
