"""English and Traditional Chinese (Hong Kong) for every page, through Babel.

The catalogues are the ``.po`` files in ``locales/`` (the source of truth, edited by
translators). They are read with ``babel.messages.pofile.read_po`` when first needed and
compiled in memory (``write_mo`` into a buffer, then ``babel.support.Translations``), so there
is no compile step at install time and no ``.mo`` file to keep in step.

Choosing the language (first match wins): an explicit ``?lang=`` (the language switch, which
also sets the ``lang`` cookie), the ``lang`` cookie, the OpenID ``ui_locales`` parameter
(space-separated), then ``Accept-Language``.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
ENGLISH = "en"
CHINESE = "zh-HK"
LANGUAGES = (ENGLISH, CHINESE)
DEFAULT = ENGLISH
LANG_COOKIE = "lang"
# Language tag for <html lang>, and the Babel locale each catalogue is written for.
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-Hant-HK"}
BABEL_LOCALE = {ENGLISH: "en", CHINESE: "zh_Hant_HK"}
LANGUAGE_NAMES = {ENGLISH: "English", CHINESE: "繁體中文"}


def match_language(tag: str | None) -> str | None:
    """Map a BCP 47 tag to a page language: zh, zh-HK, zh-Hant, zh-TW... are Traditional
    Chinese; en-* is English; anything else (including zh-Hans, zh-CN) is not offered."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return ENGLISH
    if parts[0] == "zh":
        rest = parts[1:]
        if "hans" in rest or (rest and rest[0] in ("cn", "sg")):
            return None
        return CHINESE
    return None


def _first(tags: list[str]) -> str | None:
    for tag in tags:
        language = match_language(tag)
        if language:
            return language
    return None


def _accept_language(header: str) -> list[str]:
    weighted = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(weighted)]


def choose_language(request: Request) -> str:
    explicit = match_language(request.query_params.get("lang"))
    if explicit:
        return explicit
    cookie = match_language(request.cookies.get(LANG_COOKIE))
    if cookie:
        return cookie
    ui_locales = request.query_params.get("ui_locales")
    if ui_locales:
        chosen = _first(ui_locales.split()[:10])
        if chosen:
            return chosen
    return _first(_accept_language(request.headers.get("accept-language", ""))) or DEFAULT


@cache
def translations(language: str) -> NullTranslations:
    po_file = LOCALES_DIR / BABEL_LOCALE[language] / "LC_MESSAGES" / "messages.po"
    if not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALE[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)
