"""A resident's browser played over plain HTTP: follow redirects, fill in the sign-in page,
approve the consent page. For scripts and tests that must drive the gateway the way a
person would, sharing no code with the server."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx


def form_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


def post_forms(page: str, current_url: str) -> list[tuple[str, dict[str, str]]]:
    """Each POST form on the page: where it posts (its action, or the page itself) and its fields."""
    forms = []
    for opening, body in re.findall(r"(<form[^>]*>)(.*?)</form>", page, flags=re.S):
        if 'method="post"' not in opening:
            continue
        action = re.search(r'action="([^"]*)"', opening)
        target = urljoin(current_url, unescape(action.group(1))) if action else current_url
        forms.append((target, form_fields(body)))
    return forms


def sign_in(
    browser: httpx.Client, url: str, identifier: str, password: str, *, stop_at: str | None = None
) -> httpx.Response:
    """Open ``url`` and go on like a person: sign in when asked, approve consent when asked.

    Returns the first redirect to ``stop_at`` (a client's redirect URI), or the first page
    that asks nothing more.
    """
    response = browser.get(url)
    for _ in range(12):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if stop_at and location.startswith(stop_at):
                return response
            response = browser.get(location)
            continue
        page = response.text
        forms = post_forms(page, str(response.url))
        sign_in_form = next(((t, f) for t, f in forms if "password" in f), None)
        consent_form = next(((t, f) for t, f in forms if "decision" in f or 'name="decision"' in page), None)
        if sign_in_form:
            target, fields = sign_in_form
            fields.update(identifier=identifier, password=password)
        elif consent_form:
            target, fields = consent_form
            fields.update(decision="approve", remember="yes")
        else:
            return response
        response = browser.post(target, data=fields)
    raise RuntimeError("the sign-in did not finish within 12 steps")
