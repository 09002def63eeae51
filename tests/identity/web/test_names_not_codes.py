"""People see a department's name in their language, never its code (an unknown code stays)."""

from __future__ import annotations

from identity.web.rendering import environment


def department_name(lang: str, code: str) -> str:
    return environment(lang).from_string("{{ department_name(code) }}").render(code=code)


def test_department_codes_become_names_in_both_languages():
    assert department_name("en", "FEHD") == "Food and Environmental Hygiene Department"
    assert department_name("zh-HK", "fehd") == "食物環境衞生署"
    assert department_name("zh-HK", "TD") == "運輸署"
    assert department_name("en", "XYZ") == "XYZ"
