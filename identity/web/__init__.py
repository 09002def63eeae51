"""Server-rendered pages of the identity provider: templates, translations, CSRF.

Public helpers for other page owners (e.g. the consent page in identity/oidc):
``render``, ``csrf_token``, ``verify_csrf``, ``CsrfError``.
"""

from identity.web.csrf import CsrfError, csrf_token, verify_csrf
from identity.web.rendering import render

__all__ = ["CsrfError", "csrf_token", "render", "verify_csrf"]
