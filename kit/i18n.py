"""English and Traditional Chinese (Hong Kong) pages, through Babel: one way for every service.

ONE catalogue serves identity, consent and forms_hub: ``kit/locales/<locale>/LC_MESSAGES/messages.po``
(:data:`CATALOGUES`), the source of truth that translators edit. ``pybabel extract`` at the
repository's root (``babel.cfg`` and ``[tool.babel.extract_messages]`` in pyproject.toml) finds
every msgid: ``_()``/``gettext``/``pgettext`` in the Jinja templates, and in Python the markers
:func:`N_` and :func:`pN_` where a message is defined far from the page that translates it
(message codes, status names, error titles); ``CATALOGUES.gettext(language, "...")`` is NOT
found by the extractor (its first argument is the language): mark such a literal with ``N_``.
tests/kit/test_catalogue.py keeps the catalogue complete. The ``.po`` is read with
``babel.messages.pofile.read_po`` when first needed and compiled in memory (``write_mo`` into a
buffer, then ``babel.support.Translations``), so there is no compile step at install time and
no ``.mo`` file to keep in step.

Choosing the language (first match wins): an explicit ``?lang=`` (the language switch, which
also sets the ``lang`` cookie), the ``lang`` cookie (shared by every service on the site, so a
resident's choice carries across), the OpenID ``ui_locales`` parameter (space-separated), then
``Accept-Language``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import BaseLoader, Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import Response

ENGLISH = "en"
CHINESE = "zh-HK"
LANGUAGES = (ENGLISH, CHINESE)
DEFAULT = ENGLISH
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
# Language tag for <html lang>, and the Babel locale each catalogue is written for.
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-Hant-HK"}
BABEL_LOCALE = {ENGLISH: "en", CHINESE: "zh_Hant_HK"}
LANGUAGE_NAMES = {ENGLISH: "English", CHINESE: "繁體中文"}
# Bounds on what a client can make us parse per request.
MAX_ACCEPT_LANGUAGE_ENTRIES = 20
MAX_UI_LOCALES = 10


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
    """The tags of an ``Accept-Language`` header, best first (RFC 9110 §12.5.4); q=0 is a no."""
    weighted = []
    for index, part in enumerate(header.split(",")[:MAX_ACCEPT_LANGUAGE_ENTRIES]):
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
        chosen = _first(ui_locales.split()[:MAX_UI_LOCALES])
        if chosen:
            return chosen
    return _first(_accept_language(request.headers.get("accept-language", ""))) or DEFAULT


class Catalogues:
    """gettext catalogues in ``locales_dir/<Babel locale>/LC_MESSAGES/messages.po`` (the
    deployment's one is :data:`CATALOGUES`; tests build their own).

    A language without a catalogue (English, whose msgids are the text) gets
    ``NullTranslations``: every message is shown as written.
    """

    def __init__(self, locales_dir: Path) -> None:
        self.locales_dir = locales_dir
        self.translations = cache(self._load)

    def po_file(self, language: str) -> Path:
        return self.locales_dir / BABEL_LOCALE[language] / "LC_MESSAGES" / "messages.po"

    def _load(self, language: str) -> NullTranslations:
        po_file = self.po_file(language)
        if not po_file.exists():
            return NullTranslations()
        with po_file.open("rb") as handle:
            catalog = read_po(handle, locale=BABEL_LOCALE[language])
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer)

    def gettext(self, language: str, message: str) -> str:
        return self.translations(language).gettext(message)

    def pgettext(self, language: str, context: str, message: str) -> str:
        return str(self.translations(language).pgettext(context, message))


LOCALES_DIR = Path(__file__).resolve().parent / "locales"
CATALOGUES = Catalogues(LOCALES_DIR)


def N_(message: str) -> str:
    """Mark ``message`` for ``pybabel extract`` where it is defined; it is translated where it
    is shown (``CATALOGUES.gettext`` or ``_()`` in a template)."""
    return message


def pN_(context: str, message: str) -> str:
    """Mark ``message`` under ``context`` (a msgctxt) for extraction; translate it with pgettext."""
    return message


def bilingual(message: str, **values: Any) -> dict[str, str]:
    """``message`` (a msgid with ``{name}`` placeholders) in each language, filled with
    ``values``; a value given as ``{"en": .., "zh-HK": ..}`` is taken in each language. For
    what goes out in both languages at once: an API's message for a person, an email."""
    return {
        language: CATALOGUES.gettext(language, message).format(
            **{
                k: v.get(language, v.get(ENGLISH, "")) if isinstance(v, dict) else v
                for k, v in values.items()
            }
        )
        for language in LANGUAGES
    }


def in_both(message: str, separator: str = "\n", **values: Any) -> str:
    """English, then Traditional Chinese, in one text: for a message sent without knowing the
    reader's language (email and SMS), as Hong Kong government messages are written."""
    return separator.join(bilingual(message, **values).values())


# Departments by code, for every page that names one (a person reads the name, never the code).
DEPARTMENT_NAMES = {
    "FEHD": N_("Food and Environmental Hygiene Department"),
    "TD": N_("Transport Department"),
    "IRD": N_("Inland Revenue Department"),
    "SWD": N_("Social Welfare Department"),
    "IMMD": N_("Immigration Department"),
    "REG": N_("e-Gateway registration office"),
    "HKPF": N_("Hong Kong Police Force"),
    "HD": N_("Housing Department"),
    "DH": N_("Department of Health"),
    "LCSD": N_("Leisure and Cultural Services Department"),
    "EPD": N_("Environmental Protection Department"),
    "LANDSD": N_("Lands Department"),
    "FORMSHUB": N_("e-Gateway forms"),
    "EGATE": N_("e-Gateway"),
    "DEMO": N_("Demonstration service"),
}


def department_name(translations: NullTranslations, code: str | None) -> str:
    """The department's name in the catalogue's language; an unknown code is shown as it is."""
    english = DEPARTMENT_NAMES.get((code or "").upper())
    return translations.gettext(english) if english else code or ""


def page_environment(loader: BaseLoader, translations: NullTranslations) -> Environment:
    """A Jinja2 environment for one language: autoescaped HTML, ``{{ _("...") }}``,
    ``gettext``/``pgettext`` through Jinja's i18n extension (new-style: ``%(name)s``
    placeholders are filled and escaped by Jinja itself), ``department_name(code)`` and the
    ``hkt`` filter.

    Translated strings come from our own catalogues and are trusted as markup; never pass
    text a user typed to ``_()``.
    """
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Added to the environment by the i18n extension at run time, so unknown to the type checker.
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    env.globals["department_name"] = lambda code: department_name(translations, code)
    env.filters["hkt"] = hong_kong_time
    return env


HONG_KONG = timezone(timedelta(hours=8), "HKT")  # no daylight saving since 1979


def hong_kong_time(value: datetime | str | None, with_seconds: bool = False) -> str:
    """A moment as people in Hong Kong read it (the page labels it "Hong Kong time"); an ISO
    8601 string (what the JSON views carry) or a datetime, naive meaning UTC."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(HONG_KONG).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def language_switch_urls(request: Request, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This page in each language (``?lang=``), keeping the query but for the ``drop`` names."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang" and k not in drop]
    return {
        language: request.url.path + "?" + urlencode([*kept, ("lang", language)]) for language in LANGUAGES
    }


def remember_language(request: Request, response: Response, language: str, *, secure: bool) -> None:
    """Set the ``lang`` cookie when the page was asked for in an explicit language."""
    if match_language(request.query_params.get("lang")):
        response.set_cookie(
            LANG_COOKIE, language, max_age=LANG_COOKIE_MAX_AGE, path="/", samesite="lax", secure=secure
        )
