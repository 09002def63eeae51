"""The stylesheet and icon every service's pages share (mobile-first, one copy): each service
mounts this directory at its own ``/static``."""

from __future__ import annotations

from pathlib import Path

SHARED_STATIC_DIR = Path(__file__).resolve().parent / "static"
