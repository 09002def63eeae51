"""Demo forms: the definitions in ``demo_forms/``, loaded and published (idempotent)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from forms_hub.definitions.service import DefinitionError, Loaded, load

DEMO_FORMS_DIR = Path(__file__).resolve().parent / "demo_forms"


def load_directory(
    db: Session, directory: Path, now: datetime, *, publish: bool = True
) -> list[tuple[Path, Loaded]]:
    """Load every ``*.json`` definition in ``directory`` (sorted by name), all or none.

    Raises:
        DefinitionError: naming the file, for the first invalid one.
    """
    loaded = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DefinitionError(f"{path.name}: cannot read it as JSON ({exc})") from None
        try:
            loaded.append((path, load(db, document, now, publish=publish)))
        except DefinitionError as exc:
            raise DefinitionError(f"{path.name}: {exc}", exc.problems, exc.status) from None
    return loaded


def seed_demo_forms(db: Session, now: datetime) -> list[str]:
    """Load and publish the demo forms; returns their slugs."""
    return [result.definition.slug for _, result in load_directory(db, DEMO_FORMS_DIR, now)]
