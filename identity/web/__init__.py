"""Server-rendered pages of the identity provider: templates, translations, CSRF. A helper
package below every feature: it imports none of them (the features' routers are included by
identity/app.py).

Public helpers for the page owners: ``render``, ``verify_csrf``, ``CsrfError``.
"""

from identity.web.forms import verify_csrf
from identity.web.rendering import render
from kit.csrf import CsrfError

__all__ = ["CsrfError", "render", "verify_csrf"]
