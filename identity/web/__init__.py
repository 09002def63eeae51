"""Server-rendered pages of the identity provider: templates, translations, CSRF.

Public helpers for other page owners (e.g. the consent page in identity/oidc):
``render``, ``verify_csrf``, ``CsrfError``.
"""

from identity.web.forms import verify_csrf
from identity.web.rendering import render
from kit.csrf import CsrfError

__all__ = ["CsrfError", "render", "verify_csrf"]
