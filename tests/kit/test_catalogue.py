"""The one catalogue (kit/locales) is complete and sound: Babel's own extractor, run over
identity, forms_hub, consent and kit with the repository's babel.cfg and [tool.babel], finds
no message without a Traditional Chinese translation; no entry is fuzzy; no translation
drops, adds or renames a placeholder."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from kit.i18n import CATALOGUES, CHINESE

ROOT = Path(__file__).resolve().parents[2]
PYTHON_FORMAT = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?([sdifrx%])")
BRACE_FORMAT = re.compile(r"(?<!\{)\{(\w*)(?:[!:][^{}]*)?\}(?!\})")


def extracted(tmp_path: Path) -> Catalog:
    """What `pybabel extract` finds at the root, with the repository's configuration."""
    pot = tmp_path / "messages.pot"
    # the CLI reads [tool.babel.extract_messages] from ./pyproject.toml
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        patch.setenv("BABEL_PYPROJECT_TOML", str(ROOT / "pyproject.toml"))
        CommandLineInterface().run(["pybabel", "-q", "extract", "-o", str(pot)])
    with pot.open("rb") as handle:
        return read_po(handle)


def catalogue() -> Catalog:
    with CATALOGUES.po_file(CHINESE).open("rb") as handle:
        return read_po(handle)


def _text(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def untranslated(wanted: Catalog, translations: Catalog) -> list[str]:
    missing = []
    for message in wanted:
        if not message.id:
            continue
        found = translations.get(message.id, context=message.context)
        if found is None or not _text(found.string or "").strip():
            where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
            missing.append(f"{_text(message.id)!r} (context {message.context!r}) at {where}")
    return missing


def fuzzy(translations: Catalog) -> list[str]:
    return [_text(m.id) for m in translations if m.id and m.fuzzy]


def placeholders(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for name, conversion in PYTHON_FORMAT.findall(text):
        if conversion != "%":
            found[f"%({name})" if name else "%"] += 1
    for name in BRACE_FORMAT.findall(text):
        found["{" + name + "}"] += 1
    return found


def placeholder_mismatches(translations: Catalog) -> list[str]:
    return [
        f"{_text(m.id)!r} -> {_text(m.string)!r}"
        for m in translations
        if m.id and m.string and placeholders(_text(m.id)) != placeholders(_text(m.string))
    ]


def test_every_extracted_message_has_a_traditional_chinese_translation(tmp_path):
    wanted = extracted(tmp_path)
    # identity's and forms_hub's templates and message codes, forms_hub's status names...
    assert len(wanted) > 600
    assert wanted.get("Submitted", context="submission status") is not None  # pN_ in Python
    assert wanted.get("Enter your identity card number.") is not None  # N_ in Python
    assert untranslated(wanted, catalogue()) == []


def duplicates(po_text: str) -> list[str]:
    """msgids (with their msgctxt) written twice: Babel would keep one translation silently,
    which happens when entries appended on two branches meet at a merge."""
    seen: Counter[tuple[str | None, str]] = Counter()
    for block in po_text.split("\n\n"):
        parts: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith(("msgctxt ", "msgid ", "msgstr ")):
                key, _, rest = line.partition(" ")
                parts[key] = rest.strip()[1:-1]
            elif line.startswith('"') and key:
                parts[key] += line.strip()[1:-1]
        if parts.get("msgid"):
            seen[(parts.get("msgctxt"), parts["msgid"])] += 1
    return [f"{msgid!r} (context {context!r})" for (context, msgid), count in seen.items() if count > 1]


def test_no_entry_is_fuzzy_or_twice_and_placeholders_match():
    translations = catalogue()
    assert fuzzy(translations) == []
    assert placeholder_mismatches(translations) == []
    assert duplicates(CATALOGUES.po_file(CHINESE).read_text(encoding="utf-8")) == []


def test_the_checks_find_what_they_look_for():
    po = b"""msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Sign in"
msgstr ""

#, fuzzy
msgid "Sign out"
msgstr "\xe7\x99\xbb\xe5\x87\xba"

msgid "Hello %(name)s, %(n)d new"
msgstr "%(name)s \xe4\xbd\xa0\xe5\xa5\xbd"

msgid "{label} must be {limit} or more"
msgstr "{label}\xe5\xbf\x85\xe9\xa0\x88\xe6\x98\xaf{limit}\xe6\x88\x96\xe4\xbb\xa5\xe4\xb8\x8a"

msgid "100%% sure: %s"
msgstr "%s"
"""
    translations = read_po(io.BytesIO(po))
    wanted = Catalog()
    wanted.add("Sign in", locations=[("identity/web/templates/base.html", 3)])
    wanted.add("Not there at all")
    assert [line.split(" (")[0] for line in untranslated(wanted, translations)] == [
        "'Sign in'",
        "'Not there at all'",
    ]
    assert fuzzy(translations) == ["Sign out"]
    assert placeholder_mismatches(translations) == ["'Hello %(name)s, %(n)d new' -> '%(name)s 你好'"]
    assert placeholders("{label} of {{literal}} %(a)s %% %s") == Counter({"{label}": 1, "%(a)": 1, "%": 1})
    twice = (
        'msgid "Sign in"\nmsgstr "a"\n\nmsgctxt "x"\nmsgid "Sign in"\nmsgstr "b"\n\n'
        'msgid ""\n"Sign in"\nmsgstr "c"\n'
    )
    assert duplicates(twice) == ["'Sign in' (context None)"]
