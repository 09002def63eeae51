"""List every translatable message of the identity pages (templates + identity/web/messages.py),
one per line as a Python literal. Used to keep the .po catalogues complete; the test
tests/identity/accounts/test_i18n.py checks the same thing."""

from __future__ import annotations

from pathlib import Path

from jinja2.ext import babel_extract

TEMPLATES = Path(__file__).resolve().parents[2] / "identity" / "web" / "templates"
OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def message_ids() -> list[str]:
    from identity.web.messages import MESSAGES

    ids: list[str] = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        with path.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(handle, ("_", "gettext"), [], OPTIONS):
                text = message[0] if isinstance(message, tuple) else message
                if text and text not in ids:
                    ids.append(text)
    for text in [*MESSAGES.values(), "Something is not right with this field."]:
        if text not in ids:
            ids.append(text)
    return ids


if __name__ == "__main__":
    for text in message_ids():
        print(repr(text))
