"""The identity pages' own catalogues (``locales/<Babel locale>/LC_MESSAGES/messages.po``);
choosing the language and loading the catalogues is kit.i18n's job."""

from __future__ import annotations

from pathlib import Path

from kit.i18n import Catalogues

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
CATALOGUES = Catalogues(LOCALES_DIR)
